"""The read API over the serving store (``podcast-assets api``) and its keys."""

from podcast_assets.api.app import create_app, serve
from podcast_assets.api.keys import TIERS, ApiKey, KeyStore

__all__ = ["TIERS", "ApiKey", "KeyStore", "create_app", "serve"]
