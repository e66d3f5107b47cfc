"""The optional parts of the hub and the extra that installs each.

A core install (`pip install customer-hub`) runs `hub run`, `hub connectors`, `hub steward` and everything they
need. The faces that need more are extras: `customer-hub[console]` (the steward console, dashboards and match API:
`hub ui`), `customer-hub[dagster]` (the Dagster code location) and `customer-hub[demo]` (the fake vendor servers of
`hub fakes` and `hub demo generate`). `make install` installs them all.
"""

from __future__ import annotations

import importlib.util

import click

from core.exit_codes import CONFIG

# The modules each extra brings (import names, not distribution names), as pyproject.toml's extras install them.
EXTRAS: dict[str, tuple[str, ...]] = {
    "console": ("fastapi", "starlette", "uvicorn", "jinja2", "itsdangerous", "python_multipart", "argon2"),
    "dagster": ("dagster", "dagster_webserver"),
    "demo": ("starlette", "uvicorn"),
}


class MissingExtra(click.ClickException):
    """A part of the hub whose optional dependencies are not installed; the message says what to install."""

    exit_code = CONFIG  # like a wrong command line: nothing ran


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a finder that refuses the module
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here."""
    return [m for m in EXTRAS[extra] if not _installed(m)]


def require(extra: str, what: str) -> None:
    """Raise `MissingExtra` naming the install command when `what` cannot run for lack of `extra`."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(f"{what} needs customer-hub[{extra}] (missing: {', '.join(missing)}); "
                           f"install it with: pip install 'customer-hub[{extra}]'")
