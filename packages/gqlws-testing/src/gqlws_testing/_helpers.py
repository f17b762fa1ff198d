"""Building consumers and applications for tests, broadcasting and waiting."""

from __future__ import annotations

import asyncio

import gqlws_server_channels as gqlws
import graphene
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path as url_path
from gqlws_protocol import JsonObject

from ._client import GraphqlWsClient

__all__ = ["broadcast_and_wait", "make_application", "make_consumer"]


class _Nothing(graphene.ObjectType):  # type: ignore[misc]
    """A query type for schemas that only test mutations or subscriptions."""

    ok = graphene.Boolean(default_value=True)


def make_consumer(
    schema: graphene.Schema | None = None,
    *,
    query: type[graphene.ObjectType] | None = None,
    mutation: type[graphene.ObjectType] | None = None,
    subscription: type[graphene.ObjectType] | None = None,
    auto_camelcase: bool = True,
    consumer: type[gqlws.GraphqlWsConsumer] | None = None,
    **settings: object,
) -> type[gqlws.GraphqlWsConsumer]:
    """A `GraphqlWsConsumer` subclass for a test.

    Args:
        schema: the schema; or give the root types instead.
        query: the query root type (a placeholder one when None).
        mutation: the mutation root type.
        subscription: the subscription root type.
        auto_camelcase: graphene's `auto_camelcase` for a schema built
            from root types.
        consumer: the class to derive from (default `GraphqlWsConsumer`).
        **settings: consumer settings as class attributes
            (`confirm_subscriptions=True`, `send_ping_every=0.1`...).

    Returns:
        The new consumer class.

    Raises:
        ValueError: both `schema` and root types were given, or neither a
            schema nor a consumer with one.
    """
    if schema is not None and (query or mutation or subscription):
        raise ValueError("give either schema or root types (query, mutation, subscription)")
    if schema is None and (query or mutation or subscription):
        schema = graphene.Schema(
            query=query or _Nothing,
            mutation=mutation,
            subscription=subscription,
            auto_camelcase=auto_camelcase,
        )
    base = consumer or gqlws.GraphqlWsConsumer
    attrs: dict[str, object] = dict(settings)
    if schema is not None:
        attrs["schema"] = schema
    elif getattr(base, "schema", None) is None:
        raise ValueError("a consumer needs a schema: give schema, root types, or a consumer")
    return type(f"{base.__name__}UnderTest", (base,), attrs)


def make_application(
    consumer: type[gqlws.GraphqlWsConsumer], *, path: str = "graphql/"
) -> ProtocolTypeRouter:
    """An ASGI application serving `consumer` at `path` over WebSocket.

    Args:
        consumer: the consumer class.
        path: the route, without a leading slash.

    Returns:
        A `ProtocolTypeRouter` with a `websocket` route only.
    """
    route = url_path(path.lstrip("/"), consumer.as_asgi())
    return ProtocolTypeRouter({"websocket": URLRouter([route])})


async def broadcast_and_wait(
    subscription: type[gqlws.Subscription],
    client: GraphqlWsClient,
    op_id: str,
    *,
    payload: object = None,
    group: str | None = None,
    timeout: float = 5.0,
) -> JsonObject:
    """Broadcast to a subscription and wait for the client's notification.

    Args:
        subscription: the `Subscription` class to broadcast with.
        client: the testing client holding the subscription.
        op_id: the id of the subscription in `client` (from `subscribe()`
            or `start()`).
        payload: the broadcast payload.
        group: the group to reach; None reaches every subscription of the
            class.
        timeout: seconds to wait for the notification.

    Returns:
        The notification's execution result.

    Raises:
        TimeoutError: no notification arrived in time.
        GraphqlWsResponseError: the notification carries errors.
    """
    await subscription.broadcast_async(group=group, payload=payload)
    return await asyncio.wait_for(client.receive_next(op_id), timeout)
