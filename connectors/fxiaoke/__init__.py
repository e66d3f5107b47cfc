"""Fxiaoke (纷享销客) CRM source: a declarative airbyte-cdk manifest (`manifest.yaml`)."""

from connectors.cdk_components import manifest_source

create_source = manifest_source(
    __file__, "app_id, app_secret, permanent_code, open_user_id, optional base_url and tuning")
