"""The numbers behind the console's dashboards: small, pre-aggregated tables computed by the warehouse from the
marts (`sales`: the sales cockpit; `health`: the master data's health, with `mdm.run_metrics`). Each function
returns a `Table` of at most a few hundred rows, whatever the size of the marts."""

from pipelines.dashboards.table import FilterError, Filters, Table

__all__ = ["FilterError", "Filters", "Table"]
