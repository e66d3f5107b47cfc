"""Which airbyte-cdk source implements each `connector:` kind of the config."""

from __future__ import annotations

import importlib
import socket
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airbyte_cdk.models import ConfiguredAirbyteCatalog
from airbyte_cdk.sources import Source

from connectors.cdk_secrets import share_with_cdk
from core.config import CONNECTOR_KINDS

CONNECTORS: dict[str, str] = {kind: f"connectors.{kind}" for kind in CONNECTOR_KINDS}
DESCRIPTIONS: dict[str, str] = {
    "sql": "any SQLAlchemy database: a table or a query, incremental on a cursor column",
    "file": "CSV (any encoding), XLSX, JSON Lines; a path or a glob; incremental by file",
    "wecom": "WeCom (企业微信): external contacts per follow user, directory users and departments",
    "dingtalk": "DingTalk (钉钉): CRM customers and contacts, staff",
    "fxiaoke": "Fxiaoke (纷享销客) CRM OpenAPI: accounts, contacts, leads, opportunities, orders, payments",
    "kingdee": "Kingdee K/3 Cloud WebAPI: customers, sales orders, receivables, receipts, salesmen",
}


class UnknownConnector(ValueError):
    pass


def create_source(kind: str, config: Mapping[str, Any] | None = None,
                  catalog: ConfiguredAirbyteCatalog | None = None, state: list[Any] | None = None) -> Source:
    """Instantiate the source for a connector kind; an unknown kind is an error listing the known ones. The CDK
    masks every secret of `core.secrets` from here on (`connectors.cdk_secrets`)."""
    if kind not in CONNECTORS:
        raise UnknownConnector(f"unknown connector {kind!r}; known: {', '.join(CONNECTORS)}")
    share_with_cdk()
    module = importlib.import_module(CONNECTORS[kind])
    return module.create_source(config, catalog, state)


def refused_endpoint(config: Mapping[str, Any], timeout_s: float = 3.0) -> tuple[str, str] | None:
    """(key, URL) of the first `base_url`-like value of a connector config whose server refuses connections;
    None when none does.

    A quick TCP connect before a sync: nothing listening means failing at once with a clear message
    instead of after minutes of the connector's retries. Only a refused connection counts; DNS errors,
    timeouts and URLs reached through a proxy are left to the connector and its retries.
    """
    proxies = urllib.request.getproxies_environment()
    for key, value in config.items():
        if not key.endswith("base_url") or not isinstance(value, str):
            continue
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            continue
        # (`proxy_bypass_environment` is public in CPython's urllib.request, missing from typeshed's stubs)
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # (see above)
        if url.scheme in proxies and not bypass(url.hostname):
            continue
        try:
            port = url.port or (443 if url.scheme == "https" else 80)
            with socket.create_connection((url.hostname, port), timeout=timeout_s):
                pass
        except ConnectionRefusedError:
            return key, value
        except (OSError, ValueError):
            continue
    return None
