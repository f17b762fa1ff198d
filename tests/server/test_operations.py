"""Queries, mutations, errors and hooks of `GraphqlWsConsumer`, on both
subprotocols."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path
from graphql import GraphQLError, MiddlewareManager

from tests.server.conftest import MODERN, PROTOCOLS, Connect, make_consumer

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("offered", "selected"),
    [
        (["graphql-transport-ws"], "graphql-transport-ws"),
        (["graphql-ws"], "graphql-ws"),
        (["graphql-ws", "graphql-transport-ws"], "graphql-transport-ws"),
        (["foo", "graphql-ws"], "graphql-ws"),
    ],
)
async def test_subprotocol_negotiation_prefers_the_modern_protocol(
    offered: list[str], selected: str
) -> None:
    app = URLRouter([path("graphql/", make_consumer().as_asgi())])
    comm = WebsocketCommunicator(app, "/graphql/", subprotocols=offered)
    connected, subprotocol = await comm.connect()
    assert connected
    assert subprotocol == selected
    await comm.disconnect()


async def test_handshake_without_a_known_subprotocol_is_refused() -> None:
    app = URLRouter([path("graphql/", make_consumer().as_asgi())])
    comm = WebsocketCommunicator(app, "/graphql/", subprotocols=["chat"])
    connected, _ = await comm.connect()
    assert not connected


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_query_with_variables_and_operation_name(connect: Connect, proto: str) -> None:
    client = await connect(proto)
    query = "query A { hello } query B($n: String) { hello(name: $n) }"
    await client.start("1", query, {"n": "gqlws"})
    await client.send(
        {
            "type": client.start_type,
            "id": "2",
            "payload": {"query": query, "variables": {"n": "you"}, "operationName": "B"},
        }
    )
    # Operations run concurrently: collect both.
    got: dict[str, list[dict[str, Any]]] = {}
    for _ in range(3):
        message = await client.receive()
        got.setdefault(message["id"], []).append(message)
    assert got["2"][0]["payload"] == {"data": {"hello": "Hello, you!"}}
    assert got["2"][1] == {"type": "complete", "id": "2"}
    # Two operations and no operationName: a request error, not a result.
    assert got["1"][0]["type"] == "error"
    assert len(got["1"]) == 1


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_sync_resolvers_run_in_worker_threads_async_ones_on_the_loop(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto)
    payload = await client.execute("1", "{ thread asyncHello }")
    assert payload["data"]["thread"].startswith("gqlws")
    assert payload["data"]["asyncHello"] == "Hello, world!"


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_slow_query_does_not_hold_up_a_fast_one(connect: Connect, proto: str) -> None:
    client = await connect(proto)
    await client.start("slow", "{ slow(seconds: 0.5) }")
    await client.start("fast", "{ hello }")
    first = await client.receive()
    assert first["id"] == "fast"


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_strict_ordering_answers_in_request_order(connect: Connect, proto: str) -> None:
    client = await connect(proto, strict_ordering=True)
    await client.start("slow", "{ slow(seconds: 0.2) }")
    await client.start("fast", "{ hello }")
    assert (await client.next("slow")) == {"data": {"slow": "done"}}
    await client.complete("slow")
    assert (await client.next("fast")) == {"data": {"hello": "Hello, world!"}}


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_mutation(connect: Connect, proto: str) -> None:
    client = await connect(proto)
    payload = await client.execute("1", 'mutation { send(room: "r", text: "t") { ok } }')
    assert payload == {"data": {"send": {"ok": True}}}


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_validation_and_syntax_errors_answer_error_and_keep_the_socket(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto)
    await client.start("1", "{ nope }")
    error = await client.receive()
    assert error["type"] == "error" and error["id"] == "1"
    errors = error["payload"] if client.modern else [error["payload"]]
    assert "Cannot query field 'nope'" in errors[0]["message"]
    await client.start("2", "{ hello")
    error = await client.receive()
    assert error["type"] == "error" and error["id"] == "2"
    first = error["payload"][0] if client.modern else error["payload"]
    assert first["message"].startswith("Syntax Error")
    assert first["locations"] == [{"line": 1, "column": 8}]
    # Still serving.
    assert (await client.execute("3", "{ hello }"))["data"] == {"hello": "Hello, world!"}


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_resolver_error_is_a_result_with_errors(connect: Connect, proto: str) -> None:
    client = await connect(proto)
    payload = await client.execute("1", "{ hello fail }")
    assert payload["data"] == {"hello": "Hello, world!", "fail": None}
    assert payload["errors"] == [
        {"message": "resolver exploded", "locations": [{"line": 1, "column": 9}], "path": ["fail"]}
    ]


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_mask_errors_hides_unexpected_exceptions(connect: Connect, proto: str) -> None:
    client = await connect(proto, mask_errors=True)
    payload = await client.execute("1", "{ fail }")
    assert payload["errors"][0]["message"] == "Internal server error"
    assert payload["errors"][0]["path"] == ["fail"]
    assert "exploded" not in str(payload)


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_on_connect_rejection(connect: Connect, proto: str) -> None:
    def on_connect(self: Any, payload: Any) -> None:
        raise RuntimeError("Connection rejected!")

    client = await connect(proto, init=False, on_connect=on_connect)
    await client.send({"type": "connection_init", "payload": {"token": "bad"}})
    if client.modern:
        assert await client.closed_with() == 4403
    else:
        message = await client.receive()
        assert message == {
            "type": "connection_error",
            "payload": {
                "message": "RuntimeError: Connection rejected!",
                "extensions": {"code": "RuntimeError"},
            },
        }
        assert await client.closed_with() == 4403


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_on_connect_sees_payload_and_its_dict_becomes_the_ack_payload(
    connect: Connect, proto: str
) -> None:
    seen = []

    async def on_connect(self: Any, payload: Any) -> dict[str, Any]:
        seen.append(payload)
        self.scope["token"] = payload["token"]
        return {"welcome": payload["token"]}

    client = await connect(proto, init=False, on_connect=on_connect)
    ack = await client.init({"token": "abc"})
    assert seen == [{"token": "abc"}]
    assert ack["payload"] == {"welcome": "abc"}


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_on_operation_can_refuse(connect: Connect, proto: str) -> None:
    async def on_operation(self: Any, op_id: str, payload: Any) -> None:
        if "fail" in payload["query"]:
            raise GraphQLError("not allowed")

    client = await connect(proto, on_operation=on_operation)
    await client.start("1", "{ fail }")
    error = await client.receive()
    assert error["type"] == "error"
    first = error["payload"][0] if client.modern else error["payload"]
    assert first["message"] == "not allowed"
    assert (await client.execute("2", "{ hello }"))["data"]["hello"] == "Hello, world!"


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_on_disconnect_gets_the_code(connect: Connect, proto: str) -> None:
    codes = []

    def on_disconnect(self: Any, code: int) -> None:
        codes.append(code)

    client = await connect(proto, on_disconnect=on_disconnect)
    await client.comm.disconnect(code=1000)
    assert codes == [1000]


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_context_is_a_dict_and_an_object_without_private_keys(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto)
    payload = await client.execute("1", "{ contextKeys }")
    assert payload["data"]["contextKeys"] == [
        "channel_name",
        "channels_scope",
        "graphql_operation_id",
        "graphql_operation_name",
        "operation_id",
        "operation_name",
    ]


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_middleware_list_and_manager_wrap_resolvers_except_introspection(
    connect: Connect, proto: str
) -> None:
    calls: list[str] = []

    async def shout(next_: Any, root: Any, info: Any, **args: Any) -> Any:
        # Sync resolvers run in worker threads, so (as for async resolvers)
        # a middleware gets an awaitable from them.
        calls.append(info.field_name)
        result = next_(root, info, **args)
        if inspect.isawaitable(result):
            result = await result
        return result.upper() if isinstance(result, str) else result

    for middleware in ([shout], MiddlewareManager(shout)):
        calls.clear()
        client = await connect(proto, middleware=middleware)
        assert (await client.execute("1", "{ hello }"))["data"] == {"hello": "HELLO, WORLD!"}
        assert calls == ["hello"]
        await client.execute("2", "query IntrospectionQuery { __typename }")
        assert calls == ["hello"]


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_max_query_depth_and_introspection_switch(connect: Connect, proto: str) -> None:
    client = await connect(proto, max_query_depth=1, allow_introspection=False)
    await client.start("1", 'subscription { onMessage(room: "a") { text } }')
    error = await client.receive()
    assert "2 levels deep, more than the 1 allowed" in client.errors(error)[0]["message"]
    await client.start("2", "{ __schema { queryType { name } } }")
    error = await client.receive()
    assert "introspection" in client.errors(error)[0]["message"].lower()
    assert (await client.execute("3", "{ hello }"))["data"]["hello"] == "Hello, world!"


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_operation_limit_answers_error_and_keeps_the_socket(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto, max_operations=1)
    await client.start("1", "{ slow(seconds: 0.3) }")
    await client.start("2", "{ hello }")
    error = await client.receive()
    assert error["id"] == "2"
    assert "too many operations" in client.errors(error)[0]["message"]
    assert (await client.next("1")) == {"data": {"slow": "done"}}
    await client.complete("1")
    # The slot is free again.
    assert (await client.execute("3", "{ hello }"))["data"] == {"hello": "Hello, world!"}


async def test_duplicate_active_id_closes_4409_even_for_a_running_query(connect: Connect) -> None:
    client = await connect(MODERN)
    await client.start("1", "{ slow(seconds: 1) }")
    await client.start("1", "{ hello }")
    assert await client.closed_with() == 4409


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_start_before_init_is_refused_4401(connect: Connect, proto: str) -> None:
    client = await connect(proto, init=False)
    await client.start("1", "{ hello }")
    assert await client.closed_with() == 4401


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_init_timeout_closes_4408(connect: Connect, proto: str) -> None:
    # graphql-ws has no close code of its own for it: the server uses 4408
    # on both (see the README's settings table).
    client = await connect(proto, init=False, connection_init_wait_timeout=0.1)
    assert await client.closed_with(timeout=2) == 4408


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_server_pings(connect: Connect, proto: str) -> None:
    client = await connect(proto, send_ping_every=0.05)
    kinds = [(await client.receive_raw())["type"] for _ in range(3)]
    assert kinds == (["ping"] * 3 if client.modern else ["ka"] * 3)


async def test_pong_timeout_closes_a_silent_client(connect: Connect) -> None:
    client = await connect(MODERN, send_ping_every=0.05, pong_timeout=0.05)
    assert (await client.receive_raw())["type"] == "ping"
    assert await client.closed_with() == 1001


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_send_keepalive_every_is_the_old_name(connect: Connect, proto: str) -> None:
    client = await connect(proto, send_keepalive_every=0.05)
    assert (await client.receive_raw())["type"] == ("ping" if client.modern else "ka")


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_as_asgi_overrides_settings_and_rejects_unknown_ones(proto: str) -> None:
    consumer = make_consumer()
    app = URLRouter([path("graphql/", consumer.as_asgi(connection_init_wait_timeout=0.05))])
    comm = WebsocketCommunicator(app, "/graphql/", subprotocols=[proto])
    assert (await comm.connect())[0]
    closed = await comm.receive_output(2)
    assert closed == {
        "type": "websocket.close",
        "code": 4408,
        "reason": "Connection initialisation timeout",
    }
    with pytest.raises(TypeError, match="no setting 'nonsense'"):
        consumer(nonsense=1)


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_warn_operation_timeout_logs_the_operation(
    connect: Connect, proto: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = await connect(proto, warn_operation_timeout=0.05)
    with caplog.at_level(logging.WARNING, logger="gqlws_server_channels"):
        await client.execute("op-7", "query Slowly { slow(seconds: 0.1) }")
    assert any("'op-7'" in r.getMessage() and "Slowly" in r.getMessage() for r in caplog.records)


async def test_binary_frame_closes_4400(connect: Connect) -> None:
    client = await connect(MODERN)
    await client.comm.send_to(bytes_data=b'{"type":"ping"}')
    assert await client.closed_with() == 4400


async def test_binary_frame_on_legacy_answers_error_and_keeps_the_socket(
    connect: Connect,
) -> None:
    client = await connect("graphql-ws")
    await client.comm.send_to(bytes_data=b'{"type":"ka"}')
    error = await client.receive()
    assert "binary frames are not allowed" in client.errors(error)[0]["message"]
    assert (await client.execute("1", "{ hello }"))["data"] == {"hello": "Hello, world!"}


async def test_document_cache_is_shared_and_bounded() -> None:
    from gqlws_server_channels._execution import DocumentCache

    from tests.server.schema import schema

    cache = DocumentCache(maxsize=2)
    rules: tuple[Any, ...] = ()
    first = cache.get(schema.graphql_schema, rules, "{ hello }")
    assert cache.get(schema.graphql_schema, rules, "{ hello }") is first
    cache.get(schema.graphql_schema, rules, "{ a: hello }")
    cache.get(schema.graphql_schema, rules, "{ b: hello }")
    assert cache.get(schema.graphql_schema, rules, "{ hello }") is not first
    assert len(cache._entries) == 2


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_many_connections_at_once(connect: Connect, proto: str) -> None:
    clients = await asyncio.gather(*(connect(proto) for _ in range(20)))
    results = await asyncio.gather(*(c.execute("1", "{ asyncHello }") for c in clients))
    assert all(r == {"data": {"asyncHello": "Hello, world!"}} for r in results)


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_scope_persists_for_the_connection_context_does_not(
    connect: Connect, proto: str
) -> None:
    client = await connect(proto)
    await client.execute("1", 'mutation { remember(value: "kept") { ok } }')
    assert (await client.execute("2", "{ recall contextKeys }"))["data"] == {
        "recall": "kept",
        "contextKeys": [
            "channel_name",
            "channels_scope",
            "graphql_operation_id",
            "graphql_operation_name",
            "operation_id",
            "operation_name",
        ],
    }


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_context_carries_the_user_of_the_auth_middleware(
    connect: Connect, proto: str
) -> None:
    class User:
        def __str__(self) -> str:
            return "alice"

    client = await connect(proto, scope={"user": User()})
    assert (await client.execute("1", "{ whoami }"))["data"] == {"whoami": "alice"}


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_sync_on_connect_returning_none_accepts(connect: Connect, proto: str) -> None:
    def on_connect(self: Any, payload: Any) -> None:
        return None

    client = await connect(proto, init=False, on_connect=on_connect)
    ack = await client.init({"any": "thing"})
    assert "payload" not in ack


@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_on_connect_returning_false_refuses(connect: Connect, proto: str) -> None:
    async def on_connect(self: Any, payload: Any) -> bool:
        return False

    client = await connect(proto, init=False, on_connect=on_connect)
    await client.send({"type": "connection_init"})
    if not client.modern:
        assert (await client.receive())["type"] == "connection_error"
    assert await client.closed_with() == 4403


async def test_legacy_start_with_an_active_id_replaces_the_operation(connect: Connect) -> None:
    client = await connect("graphql-ws")
    await client.start("1", "{ slow(seconds: 5) }")
    await client.start("1", "{ hello }")
    assert await client.next("1") == {"data": {"hello": "Hello, world!"}}
    await client.complete("1")
    assert await client.nothing(0.3)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("proto", PROTOCOLS)
async def test_django_orm_in_a_sync_resolver(connect: Connect, proto: str) -> None:
    from asgiref.sync import sync_to_async

    from tests.testapp.models import Book

    await sync_to_async(Book.objects.create)(title="b")
    await sync_to_async(Book.objects.create)(title="a")
    client = await connect(proto)
    assert (await client.execute("1", "{ bookTitles }"))["data"] == {"bookTitles": ["a", "b"]}
