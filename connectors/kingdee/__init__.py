"""Kingdee K/3 Cloud (金蝶云星空) source: a declarative airbyte-cdk manifest (`manifest.yaml`)."""

from connectors.cdk_components import manifest_source

create_source = manifest_source(__file__, "base_url, acct_id, username, password, optional tuning")
