"""Serving the fakes outside the tests: one vendor, or all four for the demo.

`hub fakes serve VENDOR` and `python -m connectors.fakes serve VENDOR` build one fake with
:func:`build_server`; `hub fakes serve-all` starts all four with :func:`start_all` on free
loopback ports and hands the demo config its variables (:func:`demo_env`: base URLs and the
fakes' built-in demo credentials) as shell `export` lines. Datasets come from the demo universe
(`connectors.fakes.universe`), so with the same `entities` and `seed` as `hub demo generate` the fakes serve
the same companies as the demo's legacy CRMs and ERP.

Nothing here prints: the command lines do.
"""

from __future__ import annotations

import importlib
import os
import shlex
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

VENDOR_NAMES = ("wecom", "dingtalk", "fxiaoke", "kingdee")
"""Every fake, in the order `serve-all` starts them (the keys of `base.VENDORS`)."""

# The demo config's variables per vendor: "{url}" is the fake's base URL, a name is an attribute of the
# vendor's fake module (its built-in demo credentials).
DEMO_VARIABLES: dict[str, dict[str, str]] = {
    "wecom": {"WECOM_BASE_URL": "{url}", "WECOM_CORP_ID": "DEFAULT_CORP_ID", "WECOM_SECRET": "CONTACT_SECRET"},
    "dingtalk": {"DINGTALK_BASE_URL": "{url}", "DINGTALK_OAPI_BASE_URL": "{url}", "DINGTALK_APP_KEY": "APP_KEY",
                 "DINGTALK_APP_SECRET": "APP_SECRET", "DINGTALK_OPERATOR_USER_ID": "ADMIN_USERID"},
    "fxiaoke": {"FXIAOKE_BASE_URL": "{url}", "FXIAOKE_APP_ID": "APP_ID", "FXIAOKE_APP_SECRET": "APP_SECRET",
                "FXIAOKE_PERMANENT_CODE": "PERMANENT_CODE", "FXIAOKE_OPEN_USER_ID": "ADMIN_OPEN_USER_ID"},
    "kingdee": {"KINGDEE_BASE_URL": "{url}", "KINGDEE_ACCT_ID": "ACCT_ID", "KINGDEE_USERNAME": "USERNAME",
                "KINGDEE_PASSWORD": "PASSWORD"},
}


def check_vendor(vendor: str) -> str:
    """`vendor` if it is a known fake; ValueError naming the known ones otherwise."""
    if vendor not in VENDOR_NAMES:
        raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(VENDOR_NAMES)}")
    return vendor


def vendor_module(vendor: str) -> Any:
    """The fake's module, `connectors.fakes.<vendor>` (imported on demand: it pulls in the web stack)."""
    return importlib.import_module(f"connectors.fakes.{check_vendor(vendor)}")


def build_server(vendor: str, *, seed: int = 7, entities: int = 2000, sample: bool = False,
                 sizes: Mapping[str, Any] | None = None, faults: Mapping[str, Any] | None = None,
                 token_ttl_s: float = 7200.0, universe: tuple[Any, Any] | None = None) -> Any:
    """A (not yet started) fake of `vendor` over the demo universe of `entities` companies.

    `sample` uses the small built-in universe instead of `connectors.fakes.universe`; `universe` passes an already
    built `(universe, reps)` pair (to build it once for several fakes). `sizes` overrides fields of the
    vendor's `Sizes`, `faults` fields of `Faults` (ValueError on an unknown or ill-typed one).
    """
    from connectors.fakes.faults import Faults
    from connectors.fakes.sample import sample_universe
    from connectors.fakes.server import make_server

    module = vendor_module(vendor)
    vendor_sizes = module.Sizes(**(sizes or {}))
    if universe is None and sample:
        universe = sample_universe(n_entities=entities, seed=seed)
    if universe is not None:
        dataset = module.build_dataset(universe[0], universe[1], seed, vendor_sizes)
    else:
        dataset = module.default_dataset(n_entities=entities, seed=seed, sizes=vendor_sizes)
    return make_server(vendor, dataset, faults=Faults().updated(faults or {}), token_ttl_s=token_ttl_s)


def start_all(host: str = "127.0.0.1", *, seed: int = 7, entities: int = 2000,
              ports: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Build and start every fake on `host`, on its port in `ports` or a free one; the demo universe is built once.

    If one fails to start, those already started are stopped before the error propagates.
    """
    for vendor in ports or {}:
        check_vendor(vendor)
    from connectors.fakes.universe import make_sales_reps, make_universe

    universe = (make_universe(n_entities=entities, seed=seed), make_sales_reps(seed=seed))
    servers: dict[str, Any] = {}
    try:
        for vendor in VENDOR_NAMES:
            server = build_server(vendor, seed=seed, entities=entities, universe=universe)
            port = (ports or {}).get(vendor, 0)
            try:
                server.start(host, port)
            except OSError as e:  # (naming the fake and its port: which of four is not said otherwise)
                raise OSError(e.errno, f"{vendor} on {host}:{port}: {e.strerror or e}") from None
            servers[vendor] = server
    except BaseException:
        stop_all(servers)
        raise
    return servers


def stop_all(servers: Mapping[str, Any]) -> None:
    """Stop every started fake (each one even if another fails to stop)."""
    for server in servers.values():
        try:
            server.stop()
        except Exception:  # best effort: the others must stop too
            continue


def demo_env(urls: Mapping[str, str]) -> dict[str, str]:
    """The demo config's environment for the fakes at `urls` (vendor → base URL): URLs and credentials."""
    env: dict[str, str] = {}
    for vendor, url in urls.items():
        module = vendor_module(vendor)
        for name, source in DEMO_VARIABLES[vendor].items():
            env[name] = url if source == "{url}" else str(getattr(module, source))
    return env


def export_lines(env: Mapping[str, str]) -> list[str]:
    """`export NAME=value` lines a POSIX shell can `source`."""
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write `export` lines to `path` atomically: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# written by `hub fakes serve-all`; removed when it stops\n" + "\n".join(export_lines(env)) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while inside the block (main thread only); handlers restored after."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait(stop: threading.Event) -> None:
    """Block until `stop` is set (in slices, so signal handlers run promptly)."""
    while not stop.wait(0.5):
        pass
