"""Kingdee K/3 Cloud (金蝶云星空) source: a declarative airbyte-cdk manifest (`manifest.yaml`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog
from airbyte_cdk.sources import Source

from connectors.cdk_components import build_source

MANIFEST = Path(__file__).with_name("manifest.yaml")


def create_source(
    config: Mapping[str, Any] | None = None,
    catalog: ConfiguredAirbyteCatalog | None = None,
    state: list[AirbyteStateMessage] | None = None,
) -> Source:
    """The Kingdee source for `config` (keys: base_url, acct_id, username, password, optional
    lcid, start_date, slice_step, page_size and tuning)."""
    return build_source(MANIFEST, config or {}, catalog, state)
