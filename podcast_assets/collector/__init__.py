"""The aurora event collector: an HTTP endpoint that lands instant listen events durably.

``create_app(settings)`` is the ASGI app, ``serve(settings, host, port)`` runs it with
uvicorn (``podcast-assets collector`` and ``python -m podcast_assets.collector``). Events
land as NDJSON segments under ``landing/<provider>/events/``: ``*.ndjson.open`` while being
written, ``*.ndjson`` once sealed (see :mod:`podcast_assets.collector.segments`).
"""

from podcast_assets.collector.app import create_app, serve

__all__ = ["create_app", "serve"]
