"""DingTalk (钉钉) CRM and staff source: a declarative airbyte-cdk manifest (`manifest.yaml`)."""

from connectors.cdk_components import manifest_source

create_source = manifest_source(
    __file__, "app_key, app_secret, operator_user_id, optional base_url, oapi_base_url and tuning")
