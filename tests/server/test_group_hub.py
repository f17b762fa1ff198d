"""The group hub: one channel per event loop joins the Channels groups for
every connection of the loop (no `strict_ordering`), receives each broadcast
once and fans it out in process."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from gqlws_server_channels._subscription import group_name

from tests.server.conftest import MODERN, Connect
from tests.server.schema import OnMessage

pytestmark = pytest.mark.asyncio

ON_MESSAGE = 'subscription { onMessage(room: "%s") { room text } }'


def _members(room: str | None) -> dict[str, float]:
    layer = get_channel_layer()
    name = group_name("GQLWS", OnMessage._cls_path(), room)
    return dict(layer.groups.get(name, {}))


async def test_connections_share_one_membership_and_all_get_the_broadcast(
    connect: Connect,
) -> None:
    clients = [await connect(MODERN, confirm_subscriptions=True) for _ in range(3)]
    for client in clients:
        await client.subscribe("s", ON_MESSAGE % "hub")
    # The room group and the class-wide group, one member each: the hub.
    assert len(_members("hub")) == 1
    assert len(_members(None)) == 1
    await OnMessage.broadcast_async(group="hub", payload={"text": "hi", "sender": "x"})
    for client in clients:
        assert (await client.next("s"))["data"]["onMessage"]["text"] == "hi"


async def test_the_hub_leaves_with_the_last_local_member(connect: Connect) -> None:
    one = await connect(MODERN, confirm_subscriptions=True)
    two = await connect(MODERN, confirm_subscriptions=True)
    await one.subscribe("s", ON_MESSAGE % "leaving")
    await two.subscribe("s", ON_MESSAGE % "leaving")
    await one.stop("s")
    await asyncio.sleep(0.05)
    assert len(_members("leaving")) == 1
    await OnMessage.broadcast_async(group="leaving", payload={"text": "a", "sender": "x"})
    assert (await two.next("s"))["data"]["onMessage"]["text"] == "a"
    assert await one.nothing()
    await two.stop("s")
    await asyncio.sleep(0.05)
    assert _members("leaving") == {}
    # Joining again after the hub left works as the first time.
    await one.subscribe("again", ON_MESSAGE % "leaving")
    await OnMessage.broadcast_async(group="leaving", payload={"text": "b", "sender": "x"})
    assert (await one.next("again"))["data"]["onMessage"]["text"] == "b"


async def test_strict_ordering_connections_join_with_their_own_channel(
    connect: Connect,
) -> None:
    strict = await connect(MODERN, confirm_subscriptions=True, strict_ordering=True)
    relaxed = await connect(MODERN, confirm_subscriptions=True)
    await strict.subscribe("s", ON_MESSAGE % "mixed")
    await relaxed.subscribe("s", ON_MESSAGE % "mixed")
    assert len(_members("mixed")) == 2
    await OnMessage.broadcast_async(group="mixed", payload={"text": "both", "sender": "x"})
    for client in (strict, relaxed):
        assert (await client.next("s"))["data"]["onMessage"]["text"] == "both"


async def test_unsubscribe_reaches_the_connections_through_the_hub(connect: Connect) -> None:
    clients = [await connect(MODERN, confirm_subscriptions=True) for _ in range(2)]
    for client in clients:
        await client.subscribe("s", ON_MESSAGE % "ending")
    await OnMessage.unsubscribe_async(group="ending")
    for client in clients:
        await client.complete("s")
