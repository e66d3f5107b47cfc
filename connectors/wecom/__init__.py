"""WeCom (企业微信) customer-contact source: a declarative airbyte-cdk manifest (`manifest.yaml`)."""

from connectors.cdk_components import manifest_source

create_source = manifest_source(__file__, "corp_id, secret, optional base_url and tuning")
