"""Races between leaving and joining a group, and errors while a
subscription's notifications are executed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer

from tests.server.conftest import PROTOCOLS, Connect, RawClient
from tests.server.schema import GATE, OnAnything, OnMessage, OnRaw

pytestmark = pytest.mark.asyncio

ON_MESSAGE = 'subscription { onMessage(room: "%s") { text } }'


async def _confirmed(client: RawClient, op_id: str, stopped: str | None) -> None:
    """Wait for the confirmation of `op_id`, passing the legacy `complete`
    of the subscription `stopped` just before."""
    expected = [{"type": client.next_type, "id": op_id, "payload": {"data": None}}]
    if stopped is not None and not client.modern:
        expected.append({"type": "complete", "id": stopped})
    got = [await client.receive() for _ in expected]
    assert sorted(got, key=str) == sorted(expected, key=str)


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("strict_ordering", [False, True], ids=["concurrent", "strict"])
async def test_subscribing_again_right_after_a_complete_keeps_the_group(
    connect: Connect, proto: str, strict_ordering: bool
) -> None:
    """Completing the only subscription of a group and at once subscribing
    again to it: the group is left and joined again, and whichever lands
    last, the new subscription receives the broadcasts."""
    client = await connect(proto, confirm_subscriptions=True, strict_ordering=strict_ordering)
    await client.subscribe("s0", ON_MESSAGE % "churn")
    for i in range(1, 21):
        # Both frames in one go: the complete's group leave and the new
        # subscription's join overlap.
        await client.stop(f"s{i - 1}")
        await client.start(f"s{i}", ON_MESSAGE % "churn")
        await _confirmed(client, f"s{i}", f"s{i - 1}")
        await OnMessage.broadcast_async(group="churn", payload={"text": f"m{i}", "sender": "x"})
        assert await client.next(f"s{i}") == {"data": {"onMessage": {"text": f"m{i}"}}}


class SlowLeaveLayer(InMemoryChannelLayer):
    """An in-memory layer whose first `group_discard` completes only after
    the next `group_add` of the same group (or after 0.5 s): the order a
    Redis layer may give when the two calls run on different connections."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.held: str | None = None
        self.discard_started = asyncio.Event()
        self.added_meanwhile = asyncio.Event()
        self.discarded = asyncio.Event()

    async def group_discard(self, group: str, channel: str) -> None:
        if self.held is not None or self.discarded.is_set():
            await super().group_discard(group, channel)
            return
        self.held = group
        self.discard_started.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.added_meanwhile.wait(), 0.5)
        await super().group_discard(group, channel)
        self.discarded.set()

    async def group_add(self, group: str, channel: str) -> None:
        await super().group_add(group, channel)
        if group == self.held:
            self.added_meanwhile.set()


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize(
    "strict_ordering",
    [False, True],
    ids=["concurrent", "strict"],
)
async def test_a_slow_group_leave_does_not_undo_the_next_join(
    connect: Connect, proto: str, strict_ordering: bool, settings: Any
) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.SlowLeaveLayer"}}
    layer = get_channel_layer()
    assert isinstance(layer, SlowLeaveLayer)
    client = await connect(proto, confirm_subscriptions=True, strict_ordering=strict_ordering)
    await client.subscribe("old", ON_MESSAGE % "r")
    await client.stop("old")
    await client.stopped("old")
    await asyncio.wait_for(layer.discard_started.wait(), 3)
    # The leave is in flight: subscribe again to the same groups.
    await client.subscribe("new", ON_MESSAGE % "r")
    await asyncio.wait_for(layer.discarded.wait(), 3)
    # To the class group (the one whose leave was slow).
    await OnMessage.broadcast_async(payload={"text": "after", "sender": "x"})
    # `nothing()` rather than a receive timeout, which would cancel the app.
    assert not await client.nothing(0.5), "the new subscription got no notification"
    assert await client.next("new") == {"data": {"onMessage": {"text": "after"}}}


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_a_notification_that_fails_to_send_is_reported(
    connect: Connect, proto: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("raw", "subscription { onRaw { value } }")
    with caplog.at_level(logging.WARNING, logger="gqlws_server_channels"):
        # A datetime in a GenericScalar: graphql-core passes it through,
        # the JSON encoder refuses it.
        await OnRaw.broadcast_async(payload=datetime.datetime(2026, 1, 1))
        await OnRaw.broadcast_async(payload="fine")
        # The client hears of the failed one, and the subscription goes on.
        failed = await client.next("raw")
        assert failed["data"] is None
        assert failed["errors"][0]["extensions"] == {"code": "LocalProtocolError"}
        assert await client.next("raw") == {"data": {"onRaw": {"value": "fine"}}}
    reported = [
        r
        for r in caplog.records
        if r.name.startswith("gqlws_server_channels") and "'raw'" in r.getMessage()
    ]
    assert reported, "the failed notification was not logged"
    assert reported[0].exc_info is not None


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_a_notification_that_fails_to_send_does_not_stall_the_queue(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("raw", "subscription { onRaw { value } }")
    await client.subscribe("marker", "subscription { onAnything { value } }")
    await OnRaw.broadcast_async(payload="hold")
    await asyncio.wait_for(GATE.entered.wait(), 3)
    # Queued behind the held one: one that cannot be sent, one that can.
    await OnRaw.broadcast_async(payload=datetime.datetime(2026, 1, 1))
    await OnRaw.broadcast_async(payload="fine")
    await OnAnything.broadcast_async(payload="marker")
    assert (await client.next("marker"))["data"]["onAnything"]["value"] == "'marker'"
    GATE.opened.set()
    assert await client.next("raw") == {"data": {"onRaw": {"value": "hold"}}}
    # `nothing()` rather than a receive timeout, which would cancel the app.
    assert not await client.nothing(0.5), "'fine' is stuck in the queue"
    failed = await client.next("raw")
    assert failed["data"] is None and failed["errors"]
    assert await client.next("raw") == {"data": {"onRaw": {"value": "fine"}}}
