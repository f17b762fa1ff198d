"""The ASGI application the interop suite serves from a real server process.

Run by `uvicorn tests.integration.asgi_app:application` or `daphne
tests.integration.asgi_app:application` from the repository root: WebSocket
`graphql/` serves the test schema with subscription confirmations on, so a
client knows when a subscription is live. The channel layer is the one of the
settings (Channels' in-memory layer: one process).
"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_settings")
# Before anything touches models or the channel layer.
django.setup()

import gqlws_server_channels as gqlws  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from tests.server.schema import schema  # noqa: E402

__all__ = ["InteropConsumer", "application"]


class InteropConsumer(gqlws.GraphqlWsConsumer):
    """The test schema, subscriptions confirmed with `{"data": null}`."""

    schema = schema
    confirm_subscriptions = True


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("graphql/", InteropConsumer.as_asgi())])}
)
