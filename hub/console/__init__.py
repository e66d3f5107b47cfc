"""The steward console and the match API (`hub ui`): `create_app(cfg)` builds the FastAPI app.

Needs customer-hub[console]; without it, importing this package says so (`hub.extras`).
"""

from hub.extras import require

require("console", "the steward console")

from hub.console.app import create_app  # noqa: E402  (after the check: it imports FastAPI)

__all__ = ["create_app"]
