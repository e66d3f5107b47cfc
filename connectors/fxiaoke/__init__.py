"""Fxiaoke (纷享销客) CRM source: a declarative airbyte-cdk manifest (`manifest.yaml`)."""

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
    """The Fxiaoke source for `config` (keys: app_id, app_secret, permanent_code, open_user_id,
    optional base_url, start_date, slice_step and tuning)."""
    return build_source(MANIFEST, config or {}, catalog, state)
