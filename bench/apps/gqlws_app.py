"""gqlws: `GraphqlWsConsumer` serving the benchmark schema, both subprotocols.

`hello` is a sync resolver marked with `run_inline`: it only formats a
string, so it runs on the event loop like a resolver of the library we
replace. With `BENCH_HELLO=sync` it is a plain sync resolver, which gqlws
runs in its worker threads (what an unmarked resolver that might use the ORM
gets). `send` is an async mutation awaiting `OnMessage.broadcast_async`;
`OnMessage` has async `subscribe` and `publish`, so no notification takes a
thread hop. Subscriptions are confirmed (`confirm_subscriptions`), which is
how the load generator knows one is live.
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.apps.settings")
django.setup()

import graphene  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402
from gqlws_server_channels import GraphqlWsConsumer, Subscription, run_inline  # noqa: E402

__all__ = ["BenchConsumer", "application", "schema"]

_HELLO = os.environ.get("BENCH_HELLO", "inline")


def _hello(root: object, info: Any, name: str) -> str:
    return f"Hello, {name}!"


class Query(graphene.ObjectType):  # type: ignore[misc]
    hello = graphene.String(
        name=graphene.String(default_value="stranger"),
        resolver=_hello if _HELLO == "sync" else run_inline(_hello),
    )


class OnMessage(Subscription):
    """Messages sent to one room."""

    room = graphene.String()
    text = graphene.String()

    class Arguments:
        room = graphene.String(required=True)

    @staticmethod
    async def subscribe(root: object, info: Any, room: str) -> list[str]:
        return [room]

    @staticmethod
    async def publish(payload: dict[str, str], info: Any, room: str) -> OnMessage:
        return OnMessage(room=payload["room"], text=payload["text"])


class Send(graphene.Mutation):  # type: ignore[misc]
    """Broadcast a message to a room."""

    class Arguments:
        room = graphene.String(required=True)
        text = graphene.String(required=True)

    ok = graphene.Boolean()

    @staticmethod
    async def mutate(root: object, info: Any, room: str, text: str) -> Send:
        await OnMessage.broadcast_async(group=room, payload={"room": room, "text": text})
        return Send(ok=True)


class Mutation(graphene.ObjectType):  # type: ignore[misc]
    send = Send.Field()


class SubscriptionRoot(graphene.ObjectType):  # type: ignore[misc]
    on_message = OnMessage.Field()


schema = graphene.Schema(query=Query, mutation=Mutation, subscription=SubscriptionRoot)


class BenchConsumer(GraphqlWsConsumer):
    """The benchmark schema, subscriptions confirmed."""

    schema = schema
    confirm_subscriptions = True


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("graphql/", BenchConsumer.as_asgi())])}
)
