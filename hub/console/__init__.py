"""The steward console and the match API (`hub ui`): `create_app(cfg)` builds the FastAPI app."""

from hub.console.app import create_app

__all__ = ["create_app"]
