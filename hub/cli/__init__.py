"""`hub`: the command line. Every command is a thin face over `pipelines/`, `connectors/` and `mdm/`; this
module only assembles the command groups, one module each (`hub run` in `run.py`, `hub steward` in
`steward.py`, ...; what they share in `common.py`)."""

from __future__ import annotations

import click

from hub.cli import config, connectors, console, demo, mdm, predict, run, steward, tables
from hub.cli.common import BusyAware, setup_logging
from hub.cli.leave import leave


@click.group(cls=BusyAware)
@click.option("-v", "--verbose", count=True,
              help="-v: log the hub's debug output (what each mart did, matching steps); -vv: the libraries' too")
@click.version_option(package_name="customer-hub")
def main(verbose: int) -> None:
    """customer hub: connectors, master data and sales marts."""
    setup_logging(verbose)


for command in (config.config, connectors.connectors, run.run, tables.show, tables.export, tables.checks,
                tables.docs, mdm.mdm, demo.demo, demo.fakes, predict.predict, steward.steward, console.users,
                console.ui):
    main.add_command(command)


def entry() -> None:
    """The `hub` console command: `main`, then leave without tearing the interpreter down (`hub.cli.leave`)."""
    try:
        main()
    except SystemExit as e:
        leave(e.code if e.code is None or isinstance(e.code, int) else str(e.code))
    leave(0)
