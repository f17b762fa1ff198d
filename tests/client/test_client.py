"""`GraphqlWsClient` behaviours, under asyncio (aiohttp) and trio (trio-websocket)."""

from __future__ import annotations

import json
import socket
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from gqlws_client import (
    BufferOverflowError,
    ClientClosedError,
    ConnectionLostError,
    ConnectionRejectedError,
    ConnectionTimeoutError,
    GraphqlWsClient,
    GraphqlWsConnectionError,
    GraphqlWsError,
    GraphqlWsResponseError,
    GraphqlWsSubscription,
)
from gqlws_protocol import LocalProtocolError, Next

from .conftest import TransportFactory
from .fakeserver import FakeConnection, accept, serve, serve_operations

pytestmark = pytest.mark.anyio

TIMEOUT = 5
FAST_RETRY: dict[str, Any] = {"reconnect": True, "reconnect_delay": (0.01, 0.02)}


def frames(conn: FakeConnection) -> list[dict[str, object]]:
    return [json.loads(text) for text in conn.received]


# Idiomatic calls.


@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
async def test_execute_and_subscribe(make_transport: TransportFactory, subprotocol: str) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            transport = make_transport(server.url)
            async with GraphqlWsClient(transport, subprotocol=subprotocol) as client:
                assert client.connected
                result = await client.execute(
                    "query Echo($x: Int) { echo }", {"x": 1}, operation_name="Echo"
                )
                assert result == {"data": {"echo": {"x": 1}, "operationName": "Echo"}}
                results = [r async for r in client.subscribe("subscription { count }", {"n": 4})]
                assert results == [{"data": {"count": i}} for i in range(4)]
            assert (client.connected, client.closed) == (False, True)


async def test_operations_run_concurrently(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            got: dict[int, list[object]] = {}

            async def consume(n: int) -> None:
                got[n] = [r async for r in client.subscribe("subscription { count }", {"n": n})]

            async with anyio.create_task_group() as tg:
                for n in (5, 7, 9):
                    tg.start_soon(consume, n)
                tg.start_soon(client.execute, "{ hello }")
            assert got == {n: [{"data": {"count": i}} for i in range(n)] for n in (5, 7, 9)}


async def test_result_with_errors_raises_with_partial_data(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            with pytest.raises(GraphqlWsResponseError) as info:
                await client.execute("{ partial }")
            assert info.value.errors == [{"message": "b failed", "path": ["b"]}]
            assert info.value.response == {
                "data": {"a": 1, "b": None},
                "errors": [{"message": "b failed", "path": ["b"]}],
            }
            assert "b failed" in str(info.value)
            # The connection is fine.
            assert await client.execute("{ hello }") == {"data": {"hello": "world"}}


async def test_subscription_error_message_raises(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            sub = client.subscribe("subscription { fails }")
            with pytest.raises(GraphqlWsResponseError) as info:
                async for _ in sub:
                    pass
            assert len(info.value.errors) == 2
            assert [r async for r in sub] == []


async def test_subscription_result_with_errors_cancels_it(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            sub = client.subscribe("subscription { forever }")
            await sub.__aenter__()
            conn = server.connections[0]
            await conn.wait_until(lambda: bool(conn.active))
            await conn.send(
                Next(id=str(sub.id), payload={"data": None, "errors": [{"message": "x"}]})
            )
            with pytest.raises(GraphqlWsResponseError):
                await sub.__anext__()
            await conn.wait_until(lambda: conn.cancelled == [sub.id])


async def test_cancelled_execute_sends_complete(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            conn = server.connections[0]
            with anyio.move_on_after(0.05):
                await client.execute("subscription { forever }")
            await conn.wait_until(lambda: conn.cancelled == ["1"])
            assert len(conn.frames_of_type("complete")) == 1


async def test_subscription_context_manager(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            conn = server.connections[0]
            async with client.subscribe("subscription { forever }") as sub:
                assert sub.id == "1"
                await conn.wait_until(lambda: bool(conn.active))
                await conn.send(Next(id="1", payload={"data": {"n": 1}}))
                assert await sub.__anext__() == {"data": {"n": 1}}
            await conn.wait_until(lambda: conn.cancelled == ["1"])
            await sub.aclose()
            assert [r async for r in sub] == []
            assert len(conn.frames_of_type("complete")) == 1


# The step-by-step calls.


async def test_step_by_step_api(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(make_transport(server.url))
            await client.connect_and_init()
            try:
                assert client.connected
                op_id = await client.start("subscription { count }", variables={"n": 2})
                assert await client.receive_next(op_id) == {"data": {"count": 0}}
                assert await client.receive_next(op_id) == {"data": {"count": 1}}
                await client.receive_complete(op_id)
                with pytest.raises(ValueError, match="no operation"):
                    await client.receive_next(op_id)

                op_id = await client.start("{ hello }", msg_id="mine")
                assert op_id == "mine"
                with pytest.raises(GraphqlWsError, match="expected its completion"):
                    await client.receive_complete(op_id)
                await client.receive_complete(op_id)

                op_id = await client.start("{ hello }")
                await client.receive_next(op_id)
                await client.receive_complete(op_id)

                op_id = await client.start("{ hello }")
                await client.receive_next(op_id)
                with pytest.raises(GraphqlWsError, match="completed; expected a result"):
                    await client.receive_next(op_id)

                op_id = await client.start("{ fails }")
                with pytest.raises(GraphqlWsResponseError):
                    await client.receive_next(op_id)

                op_id = await client.start("{ partial }")
                with pytest.raises(GraphqlWsResponseError):
                    await client.receive_next(op_id)
                await client.receive_complete(op_id)

                op_id = await client.start("subscription { forever }", msg_id="f")
                with pytest.raises(LocalProtocolError, match="already active"):
                    await client.start("{ hello }", msg_id="f")
                conn = server.connections[0]
                await conn.wait_until(lambda: "f" in conn.active)
                await client.complete(op_id)
                await conn.wait_until(lambda: conn.cancelled == ["f"])
            finally:
                await client.finalize()
            assert client.closed
            await client.finalize()  # idempotent


# Subprotocols.


async def test_both_offered_server_answer_followed(make_transport: TransportFactory) -> None:
    def pick_legacy(offered: object) -> str:
        return "graphql-ws"

    with anyio.fail_after(TIMEOUT):
        async with serve(select=pick_legacy) as server:
            client = GraphqlWsClient(
                make_transport(server.url), subprotocol=("graphql-transport-ws", "graphql-ws")
            )
            async with client:
                assert client.subprotocol == "graphql-ws"
                assert await client.execute("{ hello }") == {"data": {"hello": "world"}}
            conn = server.connections[0]
            assert conn.request is not None
            assert conn.request.subprotocols == ["graphql-transport-ws", "graphql-ws"]
            assert [f["type"] for f in frames(conn)] == [
                "connection_init",
                "start",
                "connection_terminate",
            ]


def test_subprotocol_is_checked() -> None:
    from gqlws_client import GraphqlWsTransportAiohttp

    transport = GraphqlWsTransportAiohttp("ws://127.0.0.1:1/")
    with pytest.raises(ValueError, match="'graphql-foo'"):
        GraphqlWsClient(transport, subprotocol="graphql-foo")
    with pytest.raises(ValueError, match="at least one"):
        GraphqlWsClient(transport, subprotocol=())
    with pytest.raises(ValueError, match="twice"):
        GraphqlWsClient(transport, subprotocol=("graphql-ws", "graphql-ws"))
    with pytest.raises(TypeError, match="GraphqlWsTransport"):
        GraphqlWsClient("ws://nope")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("connect_timeout", 0),
        ("ack_timeout", -1),
        ("max_reconnect_attempts", -1),
        ("reconnect_delay", (0, 1)),
        ("reconnect_delay", (2, 1)),
        ("lazy_close_timeout", -1),
        ("buffer_size", 0),
        ("overflow", "block"),
        ("pong_timeout", 1),
    ],
)
def test_options_are_checked(option: str, value: object) -> None:
    from gqlws_client import GraphqlWsTransportAiohttp

    with pytest.raises(ValueError, match=option.split("_", maxsplit=1)[0]):
        GraphqlWsClient(GraphqlWsTransportAiohttp("ws://127.0.0.1:1/"), **{option: value})  # type: ignore[arg-type]


# Connection params, headers and cookies.


async def test_connection_params_run_on_every_connect(make_transport: TransportFactory) -> None:
    calls: list[int] = []

    def params() -> dict[str, object]:
        calls.append(1)
        return {"n": len(calls)}

    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(
                make_transport(server.url), connection_params=params, **FAST_RETRY
            )
            async with client:
                assert await client.execute("{ params }") == {"data": {"params": {"n": 1}}}
                await server.connections[0].close(1012)
                await server.wait_connections(2)
                await client.connect_and_init()  # waits for the new ack
                assert await client.execute("{ params }") == {"data": {"params": {"n": 2}}}
                assert client.ack_payload is None


async def test_async_connection_params(make_transport: TransportFactory) -> None:
    async def params() -> dict[str, object]:
        await anyio.lowlevel.checkpoint()
        return {"token": "async"}

    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            transport = make_transport(server.url)
            async with GraphqlWsClient(transport, connection_params=params) as client:
                result = await client.execute("{ params }")
                assert result == {"data": {"params": {"token": "async"}}}


@pytest.mark.parametrize("bad", [RuntimeError("no token"), "not a mapping"])
async def test_failing_connection_params_close_4005(
    make_transport: TransportFactory, bad: object
) -> None:
    def params() -> object:
        if isinstance(bad, Exception):
            raise bad
        return bad

    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(
                make_transport(server.url),
                connection_params=params,  # type: ignore[arg-type]
                **FAST_RETRY,
            )
            with pytest.raises(GraphqlWsConnectionError) as info:
                await client.__aenter__()
            assert info.value.code == 4005
            assert isinstance(info.value.__cause__, (RuntimeError, TypeError))
            conn = server.connections[0]
            await conn.finished.wait()
            assert conn.client_close is not None
            assert conn.client_close[0] == 4005
            assert server.attempts == 1


async def test_headers_and_cookies(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            transport = make_transport(
                server.url, headers={"X-Token": "abc"}, cookies={"sessionid": "s1", "b": "2"}
            )
            async with GraphqlWsClient(transport) as client:
                result = await client.execute("{ headers }")
            headers = result["data"]["headers"]  # type: ignore[index]
            assert headers["x-token"] == "abc"
            assert headers["cookie"] == "sessionid=s1; b=2"


async def test_ack_payload(make_transport: TransportFactory) -> None:
    async def ack_with_payload(conn: FakeConnection) -> None:
        await serve_operations(conn, await accept(conn, {"user": "ann"}))

    async with (
        serve(ack_with_payload) as server,
        GraphqlWsClient(make_transport(server.url)) as client,
    ):
        assert client.ack_payload == {"user": "ann"}


# Buffers.


async def _subscribe_and_flood(
    client: GraphqlWsClient, conn: FakeConnection, count: int
) -> GraphqlWsSubscription:
    sub = client.subscribe("subscription { forever }")
    await sub.__aenter__()
    await conn.wait_until(lambda: sub.id in conn.active)
    for i in range(count):
        await conn.send(Next(id=str(sub.id), payload={"data": {"i": i}}))
    # Frames are handled in order: once this answer is in, so are the results.
    await client.execute("{ hello }")
    return sub


async def test_buffer_drops_oldest_when_full(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with (
            serve() as server,
            GraphqlWsClient(make_transport(server.url), buffer_size=3) as client,
        ):
            conn = server.connections[0]
            sub = await _subscribe_and_flood(client, conn, 5)
            assert sub.dropped == 2
            got = [await sub.__anext__() for _ in range(3)]
            assert got == [{"data": {"i": i}} for i in (2, 3, 4)]
            assert conn.cancelled == []
            await sub.aclose()


async def test_buffer_overflow_fails_the_subscription(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(make_transport(server.url), buffer_size=2, overflow="fail")
            async with client:
                conn = server.connections[0]
                sub = await _subscribe_and_flood(client, conn, 3)
                await conn.wait_until(lambda: len(conn.cancelled) == 1)
                got = [await sub.__anext__() for _ in range(2)]
                assert got == [{"data": {"i": 0}}, {"data": {"i": 1}}]
                with pytest.raises(BufferOverflowError) as info:
                    await sub.__anext__()
                assert info.value.operation_id == sub.id
                assert len(conn.frames_of_type("complete")) == 1


# Failures and the exception tree.


async def test_refused_tcp_connection(make_transport: TransportFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GraphqlWsClient(make_transport(f"ws://127.0.0.1:{port}/graphql"))
    with anyio.fail_after(TIMEOUT), pytest.raises(ConnectionLostError) as info:
        await client.__aenter__()
    assert info.value.code is None
    assert info.value.__cause__ is not None


async def test_http_refusal(make_transport: TransportFactory, anyio_backend: str) -> None:
    async with serve(reject_status=403) as server:
        client = GraphqlWsClient(make_transport(server.url), **FAST_RETRY)
        with anyio.fail_after(TIMEOUT), pytest.raises(ConnectionRejectedError) as info:
            await client.__aenter__()
        assert info.value.status == 403
        assert server.attempts == 1
        if anyio_backend == "asyncio":
            import aiohttp

            assert isinstance(info.value.__cause__, aiohttp.WSServerHandshakeError)
        else:
            import trio_websocket

            assert isinstance(info.value.__cause__, trio_websocket.ConnectionRejected)


async def test_connect_timeout(make_transport: TransportFactory) -> None:
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)

        async def mute(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                await anyio.sleep_forever()

        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, mute)
            client = GraphqlWsClient(
                make_transport(f"ws://127.0.0.1:{port}/"), connect_timeout=0.1
            )
            with anyio.fail_after(TIMEOUT), pytest.raises(ConnectionTimeoutError) as info:
                await client.__aenter__()
            assert isinstance(info.value, TimeoutError)
            assert info.value.code is None
            tg.cancel_scope.cancel()


async def test_dropped_socket_fails_pending_operations(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            conn = server.connections[0]

            async def drop() -> None:
                await conn.wait_until(lambda: bool(conn.active))
                await conn.drop()

            async with anyio.create_task_group() as tg:
                tg.start_soon(drop)
                with pytest.raises(ConnectionLostError) as info:
                    await client.execute("subscription { forever }")
            assert info.value.code == 1006
            assert not client.connected
            with pytest.raises(ConnectionLostError):
                await client.execute("{ hello }")
            # connect_and_init() tries again after a final failure.
            await client.connect_and_init()
            assert await client.execute("{ hello }") == {"data": {"hello": "world"}}


async def test_execute_is_not_resent_after_reconnect(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with (
            serve() as server,
            GraphqlWsClient(make_transport(server.url), **FAST_RETRY) as client,
        ):
            conn = server.connections[0]

            async def restart() -> None:
                await conn.wait_until(lambda: len(conn.frames_of_type("subscribe")) == 2)
                await conn.wait_until(lambda: len(conn.active) == 2)
                await conn.close(1012)

            sub = client.subscribe("subscription { forever }")
            await sub.__aenter__()
            async with anyio.create_task_group() as tg:
                tg.start_soon(restart)
                with pytest.raises(ConnectionLostError) as info:
                    await client.execute("subscription { forever }")
            assert info.value.code == 1012
            second = await server.wait_connections(2)
            await second.wait_until(lambda: sub.id in second.active)
            assert [f["id"] for f in frames(second) if f["type"] == "subscribe"] == [sub.id]
            await sub.aclose()


async def test_closed_client(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(make_transport(server.url))
            with pytest.raises(RuntimeError, match="not open"):
                await client.execute("{ hello }")
            async with client:
                pass
            with pytest.raises(ClientClosedError):
                await client.execute("{ hello }")
            with pytest.raises(ClientClosedError):
                await client.connect_and_init()


async def test_close_fails_waiting_operations(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(make_transport(server.url))
            errors: list[ClientClosedError] = []

            async def wait_forever() -> None:
                try:
                    await client.execute("subscription { forever }")
                except ClientClosedError as exc:
                    errors.append(exc)

            # The waiting tasks live in a task group around the client: a
            # client is closed by the task that opened it, in nested order.
            async with anyio.create_task_group() as tg, client:
                conn = server.connections[0]
                tg.start_soon(wait_forever)
                tg.start_soon(wait_forever)
                await conn.wait_until(lambda: len(conn.active) == 2)
            assert len(errors) == 2
            assert errors[0] is not errors[1]
            assert errors[0].code == 1000


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_transport_must_be_entered(anyio_backend: str) -> None:
    from gqlws_client import GraphqlWsTransportTrio

    transport = GraphqlWsTransportTrio("ws://127.0.0.1:1/")
    with pytest.raises(RuntimeError, match="enter the trio transport"):
        await transport.connect(["graphql-transport-ws"])
    async with transport:
        with pytest.raises(RuntimeError, match="already entered"):
            await transport.__aenter__()


async def test_cancelled_while_connecting(
    make_transport: TransportFactory, anyio_backend: str
) -> None:
    async def never_ack(conn: FakeConnection) -> None:
        await anyio.sleep_forever()

    with anyio.fail_after(TIMEOUT):
        async with serve(never_ack) as server, anyio.create_task_group() as tg:
            client = GraphqlWsClient(make_transport(server.url))
            scope = anyio.CancelScope()

            async def cancel_once_initialising() -> None:
                conn = await server.wait_connections(1)
                await conn.wait_until(lambda: bool(conn.received))
                scope.cancel()

            tg.start_soon(cancel_once_initialising)
            with scope:
                async with client:
                    pytest.fail("connected without an ack")
            assert scope.cancelled_caught
            assert client.closed
            conn = server.connections[0]
            await conn.finished.wait()
            # Under trio the cancellation reaches trio-websocket's reader task
            # too, so the socket is dropped rather than closed with 1000.
            expected = {"asyncio": 1000, "trio": 1006}[anyio_backend]
            assert conn.client_close == (expected, "")


async def test_execute_without_a_result(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            with pytest.raises(GraphqlWsError, match="completed without a result"):
                await client.execute("subscription { count }", {"n": 0})


async def test_step_by_step_details(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            transport = make_transport(server.url)
            async with GraphqlWsClient(transport) as client:
                assert client.transport is transport
                await client.connect_and_init()  # already connected: nothing to do
                taken = await client.start("subscription { forever }", msg_id="1")
                assert await client.start("{ hello }") == "2"  # "1" is taken
                op_id = await client.start("{ fails }")
                with pytest.raises(GraphqlWsResponseError):
                    await client.receive_complete(op_id)
                await client.complete("unknown")  # ignored
                await client.complete(taken)
                await client.complete(taken)  # ignored
                conn = server.connections[0]
                await conn.wait_until(lambda: conn.cancelled == [taken])


async def test_lazy_connection_lost_while_idle_is_not_retried(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(
                make_transport(server.url), lazy=True, lazy_close_timeout=10, **FAST_RETRY
            )
            async with client:
                assert client.subprotocol is None
                await client.execute("{ hello }")
                first = server.connections[0]
                await first.close(1012)
                await first.finished.wait()
                await anyio.wait_all_tasks_blocked()
                # Not waiting to reconnect: nobody needs the connection.
                assert not client._supervisor.running
                assert server.attempts == 1
                assert await client.execute("{ hello }") == {"data": {"hello": "world"}}
                assert server.attempts == 2


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_aiohttp_session_given_is_left_open(anyio_backend: str) -> None:
    import aiohttp
    from gqlws_client import GraphqlWsTransportAiohttp

    with anyio.fail_after(TIMEOUT):
        async with serve() as server, aiohttp.ClientSession() as session:
            transport = GraphqlWsTransportAiohttp(server.url, session=session)
            async with GraphqlWsClient(transport) as client:
                await client.execute("{ hello }")
            assert not session.closed


async def test_two_tasks_reading_one_operation(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            op_id = await client.start("subscription { forever }")
            conn = server.connections[0]
            await conn.wait_until(lambda: op_id in conn.active)
            got: list[object] = []

            async def read() -> None:
                got.append(await client.receive_next(op_id))

            async with anyio.create_task_group() as tg:
                tg.start_soon(read)
                tg.start_soon(read)
                await anyio.wait_all_tasks_blocked()
                for i in range(2):
                    await conn.send(Next(id=op_id, payload={"data": {"i": i}}))
            assert sorted(got, key=str) == [{"data": {"i": 0}}, {"data": {"i": 1}}]
            await client.complete(op_id)


async def test_a_transport_on_the_wrong_loop_says_so(anyio_backend: str) -> None:
    from gqlws_client import GraphqlWsTransportAiohttp, GraphqlWsTransportTrio

    wrong = {"asyncio": GraphqlWsTransportTrio, "trio": GraphqlWsTransportAiohttp}[anyio_backend]
    client = GraphqlWsClient(wrong("ws://127.0.0.1:1/graphql"))
    with pytest.raises(RuntimeError, match=f"not {anyio_backend}"):
        await client.__aenter__()
