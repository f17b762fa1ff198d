"""django-channels-graphql-ws 1.0.0rc7 serving the benchmark schema.

Runs in its own virtual environment (bench/.venvs/seed: that release pins
Django below 5 and graphql-core 3.2.3), so this module is not importable from
the workspace. The schema is the one of `gqlws_app`, written for this
library's API: `hello` is a plain sync resolver, which this library runs on
the event loop; `send` is an async mutation awaiting
`OnMessage.broadcast_async`; `OnMessage` has async `subscribe` and `publish`.
Subscriptions are confirmed (`confirm_subscriptions`).
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.apps.settings")
django.setup()

import channels_graphql_ws  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
import graphene  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

__all__ = ["BenchConsumer", "application", "schema"]


class Query(graphene.ObjectType):  # type: ignore[misc]
    hello = graphene.String(name=graphene.String(default_value="stranger"))

    @staticmethod
    def resolve_hello(root: object, info: Any, name: str) -> str:
        return f"Hello, {name}!"


class OnMessage(channels_graphql_ws.Subscription):  # type: ignore[misc]
    """Messages sent to one room."""

    room = graphene.String()
    text = graphene.String()

    class Arguments:
        room = graphene.String(required=True)

    @staticmethod
    async def subscribe(root: object, info: Any, room: str) -> list[str]:
        return [room]

    @staticmethod
    async def publish(payload: dict[str, str], info: Any, room: str) -> Any:
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


class BenchConsumer(channels_graphql_ws.GraphqlWsConsumer):  # type: ignore[misc]
    """The benchmark schema, subscriptions confirmed."""

    schema = schema
    confirm_subscriptions = True


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("graphql/", BenchConsumer.as_asgi())])}
)
