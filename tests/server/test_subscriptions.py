"""Subscriptions: groups, broadcasts from every kind of caller, ordering,
queue limits, unsubscribe, and `unsubscribed` on every way out."""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
from typing import Any

import gqlws_server_channels as gqlws
import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.server import schema as schema_module
from tests.server.conftest import MODERN, PROTOCOLS, Connect
from tests.server.schema import (
    GATE,
    OnAnything,
    OnGated,
    OnGatedLatest,
    OnGatedPair,
    OnMessage,
)

pytestmark = pytest.mark.asyncio

ON_MESSAGE = 'subscription { onMessage(room: "%s") { room text sender } }'


async def send(room: str, text: str, sender: str = "someone") -> None:
    await OnMessage.broadcast_async(group=room, payload={"text": text, "sender": sender})


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_confirmation_then_notifications_in_order(connect: Connect, proto: str) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("s", ON_MESSAGE % "a")
    for i in range(50):
        await send("a", f"m{i}")
    for i in range(50):
        payload = await client.next("s")
        assert payload == {
            "data": {"onMessage": {"room": "a", "text": f"m{i}", "sender": "someone"}}
        }


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_a_broadcast_right_after_the_confirmation_always_arrives(
    connect: Connect, proto: str
) -> None:
    for attempt in range(10):
        client = await connect(proto, confirm_subscriptions=True)
        await client.subscribe("s", ON_MESSAGE % f"r{attempt}")
        await send(f"r{attempt}", "first")
        assert (await client.next("s"))["data"]["onMessage"]["text"] == "first"


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_custom_confirmation_message(connect: Connect, proto: str) -> None:
    client = await connect(
        proto,
        confirm_subscriptions=True,
        subscription_confirmation_message={"data": "ready", "errors": [RuntimeError("x")]},
    )
    await client.start("s", ON_MESSAGE % "a")
    assert await client.next("s") == {
        "data": "ready",
        "errors": [{"message": "RuntimeError: x", "extensions": {"code": "RuntimeError"}}],
    }


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_groups_route_broadcasts(connect: Connect, proto: str) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("a", ON_MESSAGE % "a")
    await client.subscribe("b", ON_MESSAGE % "b")
    await send("b", "to b")
    assert (await client.next("b"))["data"]["onMessage"]["text"] == "to b"
    assert await client.nothing()
    # Without a group: every subscription of the class.
    await OnMessage.broadcast_async(payload={"text": "all", "sender": "x"})
    got = {(await client.receive())["id"] for _ in range(2)}
    assert got == {"a", "b"}


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_publish_returning_none_or_skip_suppresses(connect: Connect, proto: str) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("s", 'subscription { onMessage(room: "a", skipSender: "me") { text } }')
    await client.subscribe("any", "subscription { onAnything { value } }")
    await send("a", "mine", sender="me")
    await OnAnything.broadcast_async(payload="skip")
    await send("a", "theirs", sender="you")
    message = await client.receive()
    assert message["id"] == "s"
    assert message["payload"] == {"data": {"onMessage": {"text": "theirs"}}}
    assert await client.nothing()


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_publish_raising_sends_errors_and_keeps_the_subscription(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("s", ON_MESSAGE % "a")
    await OnMessage.broadcast_async(group="a", payload={"fail": True})
    payload = await client.next("s")
    assert payload["data"] == {"onMessage": None}
    assert payload["errors"][0]["message"] == "publish exploded"
    await send("a", "still here")
    assert (await client.next("s"))["data"]["onMessage"]["text"] == "still here"


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_client_stop_calls_unsubscribed_and_stops_notifications(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("s", ON_MESSAGE % "a")
    await client.stop("s")
    if not client.modern:
        # Legacy servers confirm a stop with complete.
        await client.complete("s")
    await send("a", "late")
    assert await client.nothing()
    for _ in range(50):
        if ("unsubscribed", "a") in schema_module.EVENTS:
            break
        await asyncio.sleep(0.01)
    assert schema_module.EVENTS == [("subscribe", "a"), ("unsubscribed", "a")]


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_server_unsubscribe_completes_after_what_was_broadcast_before(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("s", ON_MESSAGE % "a")
    await client.subscribe("t", ON_MESSAGE % "b")
    await send("a", "before")
    await OnMessage.unsubscribe_async(group="a")
    assert (await client.next("s"))["data"]["onMessage"]["text"] == "before"
    await client.complete("s")
    assert ("unsubscribed", "a") in schema_module.EVENTS
    await send("a", "after")
    await send("b", "b lives")
    assert (await client.next("t"))["data"]["onMessage"]["text"] == "b lives"


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_unsubscribed_runs_on_disconnect(connect: Connect, proto: str) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("s", ON_MESSAGE % "a")
    await client.subscribe("x", "subscription { onAnything { value } }")
    await client.comm.disconnect()
    assert ("unsubscribed", "a") in schema_module.EVENTS
    assert ("unsubscribed", "anything") in schema_module.EVENTS


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_group_membership_is_counted_per_connection(connect: Connect, proto: str) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("one", ON_MESSAGE % "shared")
    await client.subscribe("two", ON_MESSAGE % "shared")
    await client.stop("one")
    await client.stopped("one")
    await send("shared", "for two")
    assert (await client.next("two"))["data"]["onMessage"]["text"] == "for two"
    assert await client.nothing()


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize(
    "case",
    [
        # The consumer's limit, for a class without one.
        pytest.param(
            (OnGated, {"subscription_notification_queue_limit": 2}, ["7", "8"], 7),
            id="consumer-limit-2",
        ),
        # The class's limit wins over the consumer's.
        pytest.param(
            (OnGatedPair, {"subscription_notification_queue_limit": 5}, ["7", "8"], 7),
            id="class-limit-2",
        ),
        # A limit of one keeps the latest: dropping is not worth a warning.
        pytest.param((OnGatedLatest, {}, ["8"], 0), id="class-limit-1"),
    ],
)
async def test_queue_limits_drop_the_oldest_and_log_it(
    connect: Connect,
    proto: str,
    case: tuple[type[gqlws.Subscription], dict[str, Any], list[str], int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    subscription, settings, kept, dropped = case
    client = await connect(proto, confirm_subscriptions=True, **settings)
    field = subscription.__name__[0].lower() + subscription.__name__[1:]
    await client.subscribe("s", f"subscription {{ {field} {{ value }} }}")
    await client.subscribe("marker", "subscription { onAnything { value } }")
    # The first notification holds its `publish`; nine more queue meanwhile.
    await subscription.broadcast_async(payload="hold")
    await asyncio.wait_for(GATE.entered.wait(), 3)
    with caplog.at_level(logging.WARNING, logger="gqlws_server_channels"):
        for i in range(9):
            await subscription.broadcast_async(payload=i)
        # Group messages reach a connection in the order they were sent:
        # once this one arrived, the nine are queued (or dropped).
        await OnAnything.broadcast_async(payload="marker")
        assert (await client.next("marker"))["data"]["onAnything"]["value"] == "'marker'"
        GATE.opened.set()
        values = [(await client.next("s"))["data"][field]["value"] for _ in range(1 + len(kept))]
        assert values == ["'hold'", *kept]
        assert await client.nothing()
    logged = [r.getMessage() for r in caplog.records if "oldest dropped" in r.getMessage()]
    assert len(logged) == dropped
    assert all("subscription 's'" in message for message in logged)


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_generic_async_generator_subscription(connect: Connect, proto: str) -> None:
    client = await connect(proto)
    await client.start("c", "subscription { count(upto: 3) }")
    for i in range(3):
        assert await client.next("c") == {"data": {"count": i}}
    await client.complete("c")


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_subscribe_returning_a_wrong_type_is_an_error(connect: Connect, proto: str) -> None:
    client = await connect(proto)
    await client.start("b", "subscription { badGroups { value } }")
    error = await client.receive()
    assert error["type"] == "error"
    first = error["payload"][0] if client.modern else error["payload"]
    assert "must return a list or tuple of group names" in first["message"]


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_broadcast_from_a_plain_thread_and_from_sync_code_on_the_loop(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("s", "subscription { onAnything { value } }")

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            OnAnything.broadcast(payload="from thread")
            OnAnything.broadcast_sync(payload="sync from thread")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    await asyncio.to_thread(thread.join)
    assert not errors
    assert (await client.next("s"))["data"]["onAnything"]["value"] == "'from thread'"
    assert (await client.next("s"))["data"]["onAnything"]["value"] == "'sync from thread'"
    task = OnAnything.broadcast(payload="from the loop")
    assert task is not None
    await task
    assert (await client.next("s"))["data"]["onAnything"]["value"] == "'from the loop'"
    with pytest.raises(RuntimeError, match="event loop"):
        OnAnything.broadcast_sync(payload="wrong place")


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_broadcast_of_an_unsupported_type_fails_at_the_call(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("s", "subscription { onAnything { value } }")
    with pytest.raises(TypeError, match="object"):
        OnAnything.broadcast(payload=object())
    assert await client.nothing()


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_payload_types_survive_the_trip(connect: Connect, proto: str) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("s", "subscription { onAnything { value } }")
    when = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)
    await OnAnything.broadcast_async(payload={"when": when, 1: {2, 3}})
    value = (await client.next("s"))["data"]["onAnything"]["value"]
    assert value == repr({"when": when, 1: {2, 3}})


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_group_name_prefix_is_honoured_in_subclasses(connect: Connect, proto: str) -> None:
    client = await connect(proto, confirm_subscriptions=True, group_name_prefix="CUSTOM")
    await client.subscribe("s", ON_MESSAGE % "p")
    await send("p", "prefixed")
    assert (await client.next("s"))["data"]["onMessage"]["text"] == "prefixed"


async def test_prefixes_setting_reaches_consumers_this_process_did_not_import(
    connect: Connect, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A broadcasting process that never imported the consumer with a custom
    prefix (a management command) reaches it through the setting."""
    from gqlws_server_channels import _subscription

    client = await connect(MODERN, confirm_subscriptions=True, group_name_prefix="ELSEWHERE")
    await client.subscribe("s", ON_MESSAGE % "p")
    # As in a process that does not know of that consumer class.
    monkeypatch.delitem(_subscription._prefixes, "ELSEWHERE")
    await send("p", "lost")
    assert await client.nothing(0.3)
    settings.GQLWS_GROUP_NAME_PREFIXES = ["ELSEWHERE"]
    await send("p", "found")
    assert (await client.next("s"))["data"]["onMessage"]["text"] == "found"
    settings.GQLWS_GROUP_NAME_PREFIXES = "ELSEWHERE"
    with pytest.raises(ImproperlyConfigured, match="GQLWS_GROUP_NAME_PREFIXES must be a list"):
        await send("p", "misconfigured")


async def test_subscription_outside_the_consumer_is_a_clear_error() -> None:
    result = await schema_module.schema.subscribe('subscription { onMessage(room: "a") { text } }')
    assert "served over WebSocket by GraphqlWsConsumer only" in str(result.errors)


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_strict_ordering_sends_the_mutation_result_before_its_notification(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, confirm_subscriptions=True, strict_ordering=True)
    await client.subscribe("s", ON_MESSAGE % "a")
    await client.start("m", 'mutation { send(room: "a", text: "x") { ok } }')
    assert (await client.receive())["id"] == "m"
    assert await client.receive() == {"type": "complete", "id": "m"}
    assert (await client.next("s"))["data"]["onMessage"]["text"] == "x"


async def test_two_connections_one_broadcast(connect: Connect) -> None:
    one = await connect(MODERN, confirm_subscriptions=True)
    two = await connect("graphql-ws", confirm_subscriptions=True)
    await one.subscribe("s", ON_MESSAGE % "a")
    await two.subscribe("s", ON_MESSAGE % "a")
    await one.execute("m", 'mutation { send(room: "a", text: "hi") { ok } }')
    for client in (one, two):
        assert (await client.next("s"))["data"]["onMessage"]["text"] == "hi"
