"""Settings and forms of `GraphqlWsConsumer` and `Subscription` the other
modules leave out: the worker pool bound, custom validation rules, the
accepted subprotocols, sync and async hooks, every form of the subscription
methods, the subscription context, server `unsubscribe()` from each kind of
caller, and decoding a broadcast once per connection."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import gqlws_server_channels as gqlws
import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path
from graphql import FieldNode, GraphQLError, ValidationRule

from tests.server import schema as schema_module
from tests.server.conftest import MODERN, PROTOCOLS, Connect, make_consumer
from tests.server.schema import (
    BLOCKING,
    UNSUBSCRIBED,
    OnAsyncSubscribe,
    OnClassSubscribe,
    OnMessage,
)

pytestmark = pytest.mark.asyncio

ON_MESSAGE = 'subscription { onMessage(room: "%s") { room text sender } }'


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_max_worker_threads_bounds_the_sync_resolvers_running_at_once(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, max_worker_threads=2)
    for op_id in ("1", "2", "3"):
        await client.start(op_id, "{ blocking }")
    # Two resolvers hold both threads of the pool...
    for _ in range(2):
        assert await asyncio.to_thread(BLOCKING.entered.acquire, True, 3)
    # ...so the third does not start while they block.
    assert not await asyncio.to_thread(BLOCKING.entered.acquire, True, 0.3)
    BLOCKING.release.set()
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(6):
        message = await client.receive()
        results.setdefault(message["id"], []).append(message)
    for op_id in ("1", "2", "3"):
        assert results[op_id] == [
            {"type": client.next_type, "id": op_id, "payload": {"data": {"blocking": "released"}}},
            {"type": "complete", "id": op_id},
        ]
    assert BLOCKING.peak == 2


class NoFailField(ValidationRule):
    """A custom rule: the `fail` field may not be queried."""

    def enter_field(self, node: FieldNode, *_args: object) -> None:
        if node.name.value == "fail":
            self.report_error(GraphQLError("the fail field is off limits", node))


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_custom_validation_rule_refuses_with_an_error_message(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, validation_rules=[NoFailField])
    await client.start("1", "{ hello fail }")
    error = await client.receive()
    assert error["id"] == "1"
    assert client.errors(error) == [
        {"message": "the fail field is off limits", "locations": [{"line": 1, "column": 9}]}
    ]
    assert (await client.execute("2", "{ hello }"))["data"] == {"hello": "Hello, world!"}


async def test_custom_validation_rule_applies_to_its_consumer_only(connect: Connect) -> None:
    # The document cache is shared: a consumer without the rule must not get
    # the refusal cached for one with it.
    strict = await connect(MODERN, validation_rules=[NoFailField])
    await strict.start("1", "{ fail }")
    assert (await strict.receive())["type"] == "error"
    plain = await connect(MODERN)
    assert (await plain.execute("1", "{ fail }"))["errors"][0]["message"] == "resolver exploded"


async def test_subprotocols_setting_limits_what_is_accepted() -> None:
    consumer = make_consumer(subprotocols=["graphql-ws"])
    app = URLRouter([path("graphql/", consumer.as_asgi())])
    modern_only = WebsocketCommunicator(app, "/graphql/", subprotocols=["graphql-transport-ws"])
    connected, _ = await modern_only.connect()
    assert not connected
    both = WebsocketCommunicator(
        app, "/graphql/", subprotocols=["graphql-transport-ws", "graphql-ws"]
    )
    connected, selected = await both.connect()
    assert connected
    assert selected == "graphql-ws"
    await both.disconnect()


async def test_subprotocols_setting_order_is_the_preference() -> None:
    consumer = make_consumer(subprotocols=["graphql-ws", "graphql-transport-ws"])
    app = URLRouter([path("graphql/", consumer.as_asgi())])
    comm = WebsocketCommunicator(
        app, "/graphql/", subprotocols=["graphql-transport-ws", "graphql-ws"]
    )
    connected, selected = await comm.connect()
    assert connected
    assert selected == "graphql-ws"
    await comm.disconnect()


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_sync_on_operation_runs_in_a_worker_thread_and_can_refuse(
    connect: Connect, proto: str
) -> None:
    seen: list[tuple[str, str, str]] = []

    def on_operation(self: Any, op_id: str, payload: Any) -> None:
        seen.append((op_id, payload["query"], threading.current_thread().name))
        if "fail" in payload["query"]:
            raise GraphQLError("not allowed")

    client = await connect(proto, on_operation=on_operation)
    await client.start("1", "{ fail }")
    error = await client.receive()
    assert error["id"] == "1"
    assert client.errors(error)[0]["message"] == "not allowed"
    assert (await client.execute("2", "{ hello }"))["data"] == {"hello": "Hello, world!"}
    assert [(op_id, query) for op_id, query, _ in seen] == [("1", "{ fail }"), ("2", "{ hello }")]
    assert all(thread.startswith("gqlws") for _, _, thread in seen)


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_async_on_disconnect_gets_the_code_after_unsubscribed(
    connect: Connect, proto: str
) -> None:
    async def on_disconnect(self: Any, code: int) -> None:
        await asyncio.sleep(0)
        schema_module.EVENTS.append(("disconnect", code))

    client = await connect(proto, confirm_subscriptions=True, on_disconnect=on_disconnect)
    await client.subscribe("s", ON_MESSAGE % "a")
    await client.comm.disconnect(code=4321)
    assert schema_module.EVENTS == [
        ("subscribe", "a"),
        ("unsubscribed", "a"),
        ("disconnect", 4321),
    ]


def _calls(kind: str) -> list[tuple[Any, Any, str]]:
    return [details for name, details in schema_module.EVENTS if name == kind]


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize(
    ("subscription", "subscribe_on_loop", "unsubscribed_self"),
    [
        # `subscribe` an async plain method (on the loop), `unsubscribed` a
        # sync classmethod (bound to the class, in a worker thread).
        (OnAsyncSubscribe, True, OnAsyncSubscribe),
        # `subscribe` a sync classmethod (in a worker thread), `unsubscribed`
        # a plain sync method (`self` is the root: None).
        (OnClassSubscribe, False, None),
    ],
    ids=["async-method-subscribe", "classmethod-subscribe"],
)
async def test_subscription_method_forms_share_one_context(
    connect: Connect,
    proto: str,
    subscription: type[gqlws.Subscription],
    subscribe_on_loop: bool,
    unsubscribed_self: Any,
) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    field = subscription.__name__[0].lower() + subscription.__name__[1:]
    await client.subscribe("s", f'subscription {{ {field}(room: "r") {{ value }} }}')
    await subscription.broadcast_async(group="r", payload="one")
    await subscription.broadcast_async(group="r", payload="two")
    assert (await client.next("s"))["data"][field]["value"] == "r: one"
    assert (await client.next("s"))["data"][field]["value"] == "r: two"
    await client.stop("s")
    await client.stopped("s")
    assert await asyncio.to_thread(UNSUBSCRIBED.wait, 3)

    ((subscribe_cls, context, subscribe_thread),) = _calls("subscribe")
    if subscribe_on_loop:
        assert subscribe_thread == threading.current_thread().name
    else:
        assert subscribe_cls is subscription
        assert subscribe_thread.startswith("gqlws")
    ((unsubscribed_owner, unsubscribed_context, unsubscribed_thread),) = _calls("unsubscribed")
    assert unsubscribed_owner is unsubscribed_self
    assert unsubscribed_thread.startswith("gqlws")
    # One context object for `subscribe`, every `publish` and `unsubscribed`.
    publish_contexts = [ctx for _, ctx, _ in _calls("publish")]
    assert len(publish_contexts) == 2
    assert all(ctx is context for ctx in publish_contexts)
    assert unsubscribed_context is context
    assert context.operation_id == "s"


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_plain_unsubscribe_from_async_code_and_from_a_thread(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, confirm_subscriptions=True)
    await client.subscribe("a", ON_MESSAGE % "a")
    await client.subscribe("b", ON_MESSAGE % "b")
    await client.subscribe("c", ON_MESSAGE % "c")

    # On the loop: `unsubscribe()` gives a task to await.
    task = OnMessage.unsubscribe(group="a")
    assert task is not None
    await task
    await client.complete("a")
    assert ("unsubscribed", "a") in schema_module.EVENTS

    # A plain thread of the server process: both block until sent.
    returned: list[object] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            returned.append(OnMessage.unsubscribe(group="b"))
            OnMessage.unsubscribe_sync(group="c")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    await asyncio.to_thread(thread.join)
    assert not errors
    assert returned == [None]
    # `unsubscribed` runs before the `complete` goes out.
    completes = [await client.receive() for _ in range(2)]
    assert sorted(m["id"] for m in completes) == ["b", "c"]
    assert all(m["type"] == "complete" for m in completes)
    assert sorted(room for kind, room in schema_module.EVENTS if kind == "unsubscribed") == [
        "a",
        "b",
        "c",
    ]
    # They are gone: a broadcast reaches none of them.
    await OnMessage.broadcast_async(payload={"text": "late", "sender": "x"})
    assert await client.nothing()


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("strict_ordering", [False, True], ids=["concurrent", "strict"])
async def test_a_broadcast_is_decoded_once_per_connection(
    connect: Connect, proto: str, strict_ordering: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[bytes] = []
    original = gqlws.Serializer.deserialize

    def counting(data: bytes) -> object:
        decoded.append(data)
        return original(data)

    monkeypatch.setattr(gqlws.Serializer, "deserialize", staticmethod(counting))
    client = await connect(proto, confirm_subscriptions=True, strict_ordering=strict_ordering)
    # Two subscriptions of one connection in one group (and one class group).
    await client.subscribe("one", ON_MESSAGE % "shared")
    await client.subscribe("two", ON_MESSAGE % "shared")
    await OnMessage.broadcast_async(group="shared", payload={"text": "room", "sender": "x"})
    assert {(await client.receive())["id"] for _ in range(2)} == {"one", "two"}
    assert len(decoded) == 1
    await OnMessage.broadcast_async(payload={"text": "class", "sender": "x"})
    assert {(await client.receive())["id"] for _ in range(2)} == {"one", "two"}
    assert len(decoded) == 2
