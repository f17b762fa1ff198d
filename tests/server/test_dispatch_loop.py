"""The consumer's own dispatch loop: messages to its channel still reach
their handlers one at a time with the client's, and a handler that raises
or stops ends the connection as in Channels' loop."""

from __future__ import annotations

import asyncio
from typing import Any

import graphene
import pytest
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from .conftest import MODERN, PROTOCOLS, Connect, RawClient, make_consumer


class Query(graphene.ObjectType):
    channel = graphene.String()
    hello = graphene.String()

    @staticmethod
    def resolve_channel(root: None, info: Any) -> str:
        return str(info.context.channel_name)

    @staticmethod
    def resolve_hello(root: None, info: Any) -> str:
        return "hi"


pytestmark = pytest.mark.asyncio

SEEN: list[str] = []


async def _custom_echo(self: Any, message: dict[str, Any]) -> None:
    SEEN.append(message["text"])
    await asyncio.sleep(0.01)
    await self.base_send({"type": "websocket.send", "text": f'{{"echo":"{message["text"]}"}}'})


async def _custom_fail(self: Any, message: dict[str, Any]) -> None:
    raise RuntimeError("handler exploded")


async def _custom_stop(self: Any, message: dict[str, Any]) -> None:
    raise StopConsumer()


def _consumer() -> Any:
    return make_consumer(
        schema=graphene.Schema(query=Query),
        custom_echo=_custom_echo,
        custom_fail=_custom_fail,
        custom_stop=_custom_stop,
    )


async def _channel_of(client: Any) -> str:
    # Where users find it: the context.
    result = await client.execute("c", "{ channel }")
    return str(result["data"]["channel"])


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_a_message_to_the_consumers_channel_reaches_its_handler(
    connect: Connect, proto: str
) -> None:
    SEEN.clear()
    client = await connect(proto, consumer=_consumer())
    layer = get_channel_layer()
    channel = await _channel_of(client)
    await layer.send(channel, {"type": "custom.echo", "text": "one"})
    await layer.send(channel, {"type": "custom.echo", "text": "two"})
    assert await client.receive_raw() == {"echo": "one"}
    assert await client.receive_raw() == {"echo": "two"}
    # The client side still works beside it.
    assert await client.execute("q", "{ hello }") == {"data": {"hello": "hi"}}


async def test_a_channel_handler_that_raises_ends_the_connection() -> None:
    # Its own communicator: the application ends with the error, which the
    # shared fixture's teardown would raise again.
    app = URLRouter([path("graphql/", _consumer().as_asgi())])
    comm = WebsocketCommunicator(app, "/graphql/", subprotocols=[MODERN])
    connected, _ = await comm.connect()
    assert connected
    client = RawClient(comm, MODERN)
    await client.init()
    layer = get_channel_layer()
    await layer.send(await _channel_of(client), {"type": "custom.fail"})
    with pytest.raises(RuntimeError, match="handler exploded"):
        await asyncio.wait_for(comm.future, 3)


async def test_a_channel_handler_that_stops_ends_the_connection_cleanly(connect: Connect) -> None:
    client = await connect(MODERN, consumer=_consumer())
    layer = get_channel_layer()
    await layer.send(await _channel_of(client), {"type": "custom.stop"})
    await asyncio.wait_for(client.comm.future, 3)
    assert client.comm.future.exception() is None
