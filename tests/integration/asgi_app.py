"""The ASGI application the interop suite serves from a real server process.

Run by `uvicorn tests.integration.asgi_app:application` or `daphne
tests.integration.asgi_app:application` from the repository root: WebSocket
`graphql/` serves the test schema with subscription confirmations on, so a
client knows when a subscription is live. The channel layer is the one of the
settings (Channels' in-memory layer: one process).

The client's live tests (tests/client/test_live_server.py) use more paths:
`graphql-live/` adds a `serverEvents` query showing what the schema's hooks
saw, `graphql-reject/` refuses connections whose `token` is not "good",
`graphql-slow-ack/` never acks in time, and `graphql-keepalive/` sends a
ping (`ka` on graphql-ws) every 0.2 s.
"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_settings")
# Before anything touches models or the channel layer.
django.setup()

import asyncio  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from typing import Any  # noqa: E402

import gqlws_server_channels as gqlws  # noqa: E402
import graphene  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from tests.server.schema import EVENTS, Mutation, Query, Subscription, schema  # noqa: E402

__all__ = [
    "InteropConsumer",
    "KeepaliveConsumer",
    "LiveConsumer",
    "RejectingConsumer",
    "SlowAckConsumer",
    "application",
]


class InteropConsumer(gqlws.GraphqlWsConsumer):
    """The test schema, subscriptions confirmed with `{"data": null}`."""

    schema = schema
    confirm_subscriptions = True


class LiveQuery(Query):
    """The test schema's queries, and what its hooks saw in this process."""

    server_events = graphene.List(graphene.String, room=graphene.String(required=True))

    @staticmethod
    def resolve_server_events(root: None, info: Any, room: str) -> list[str]:
        return [kind for kind, value in EVENTS if value == room]


live_schema = graphene.Schema(query=LiveQuery, mutation=Mutation, subscription=Subscription)


class LiveConsumer(InteropConsumer):
    """`InteropConsumer` with the `serverEvents` query."""

    schema = live_schema


class RejectingConsumer(InteropConsumer):
    """Refuses a connection unless its `connection_init` carries the good token."""

    async def on_connect(self, payload: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        if not payload or payload.get("token") != "good":
            raise PermissionError("bad token")
        return {"welcome": True}


class SlowAckConsumer(InteropConsumer):
    """Never acks in time: `on_connect` takes a minute."""

    async def on_connect(self, payload: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        await asyncio.sleep(60)
        return None


class KeepaliveConsumer(InteropConsumer):
    """Pings (graphql-transport-ws) or sends `ka` (graphql-ws) every 0.2 s."""

    send_ping_every = 0.2


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [
                path("graphql/", InteropConsumer.as_asgi()),
                path("graphql-live/", LiveConsumer.as_asgi()),
                path("graphql-reject/", RejectingConsumer.as_asgi()),
                path("graphql-slow-ack/", SlowAckConsumer.as_asgi()),
                path("graphql-keepalive/", KeepaliveConsumer.as_asgi()),
            ]
        )
    }
)
