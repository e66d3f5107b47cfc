"""The one Dagster resource: the hub configuration and its warehouse."""

from __future__ import annotations

import dagster as dg

from hub.config import HubConfig, load_config
from warehouse.engine import Warehouse


class HubResource(dg.ConfigurableResource):
    """Points the assets at a hub YAML file; `warehouse_url` (e.g. `dg.EnvVar("HUB_WAREHOUSE_URL")`) overrides it."""

    config_path: str
    warehouse_url: str | None = None

    def load(self) -> HubConfig:
        return load_config(self.config_path, warehouse_url=self.warehouse_url or None)

    def warehouse(self, cfg: HubConfig | None = None) -> Warehouse:
        return Warehouse((cfg or self.load()).warehouse.url)
