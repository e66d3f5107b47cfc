"""The airbyte-cdk masks what core's secrets registry holds: the one place the two registries meet.

The CDK keeps its own list of secrets (`airbyte_cdk.utils.airbyte_secrets_utils`), which its log formatter
and its trace messages filter through. `share_with_cdk` subscribes that list to `core.secrets`: every secret
registered so far, and every one registered later (a session token obtained mid-sync), is added to it.
"""

from __future__ import annotations

from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets, filter_secrets

from core import secrets


def _add_to_cdk(values: list[str]) -> None:
    for value in values:
        if filter_secrets(value) != "****":  # (not listed yet)
            add_to_secrets(value)


def share_with_cdk() -> None:
    """Have the CDK's `filter_secrets` mask every secret of `core.secrets`, now and from now on.

    Called where sources are built (`connectors.registry.create_source`, `build_source`) and again before an
    API source reads or checks: the CDK's entrypoint replaces its whole list with the config's secrets."""
    secrets.subscribe(_add_to_cdk)
