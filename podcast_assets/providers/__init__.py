"""The five providers as data (``specs``) and the one reader that understands them all."""

from podcast_assets.providers.specs import PROVIDERS, ProviderSpec, provider

__all__ = ["PROVIDERS", "ProviderSpec", "provider"]
