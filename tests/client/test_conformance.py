"""reference/protocols.md C.3 and C.4: the client checklist, item by item.

Each test runs under asyncio (aiohttp transport) and trio (trio-websocket
transport) against the scripted server of `fakeserver`, whose server
machine also checks every frame the client sends.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from gqlws_client import (
    ClientClosedError,
    ConnectionLostError,
    ConnectionRejectedError,
    ConnectionTimeoutError,
    GraphqlWsClient,
    GraphqlWsResponseError,
    GraphqlWsTransport,
)
from gqlws_protocol import ConnectionAck, ConnectionInit, Next, Ping, Pong

from .conftest import TransportFactory
from .fakeserver import (
    TWO_ERRORS,
    FakeConnection,
    accept,
    reject,
    serve,
    serve_operations,
)

pytestmark = pytest.mark.anyio

TIMEOUT = 5
LEGACY = "graphql-ws"
MODERN = "graphql-transport-ws"
FAST_RETRY: dict[str, Any] = {"reconnect": True, "reconnect_delay": (0.01, 0.02)}


def frames(conn: FakeConnection) -> list[dict[str, object]]:
    return [json.loads(text) for text in conn.received]


def close_code(conn: FakeConnection) -> int | None:
    """The code of the client's close frame, or None."""
    return None if conn.client_close is None else conn.client_close[0]


# C.3: graphql-transport-ws.


async def test_c3_01_offers_graphql_transport_ws(make_transport: TransportFactory) -> None:
    async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
        assert client.subprotocol == MODERN
        assert server.connections[0].request is not None
        assert server.connections[0].request.subprotocols == [MODERN]


async def test_c3_01_no_subprotocol_selected_is_fatal(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve(select=lambda offered: None) as server:
            client = GraphqlWsClient(make_transport(server.url), **FAST_RETRY)
            with pytest.raises(ConnectionRejectedError) as info:
                await client.__aenter__()
            assert info.value.code == 4406
            assert server.attempts == 1
            conn = server.connections[0]
            await conn.finished.wait()
            assert conn.client_close is not None
            assert conn.client_close[0] == 4406


class _OtherTokenTransport(GraphqlWsTransport):
    """A transport whose server answers with a token we did not offer."""

    def __init__(self) -> None:
        self.closed_with: tuple[int, str] | None = None
        self.connects = 0

    async def connect(self, subprotocols: object) -> str | None:
        self.connects += 1
        return "graphql-foo"

    async def send(self, text: str) -> None:
        raise AssertionError("nothing may be sent")

    async def receive(self) -> str:
        await anyio.sleep_forever()
        raise AssertionError

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed_with is None:
            self.closed_with = (code, reason)


async def test_c3_01_other_subprotocol_selected_is_fatal() -> None:
    transport = _OtherTokenTransport()
    client = GraphqlWsClient(transport, **FAST_RETRY)
    with pytest.raises(ConnectionRejectedError, match="graphql-foo"):
        await client.__aenter__()
    assert transport.connects == 1
    assert transport.closed_with is not None
    assert transport.closed_with[0] == 4406


@pytest.mark.parametrize("code", [4406, 4403])
async def test_c3_01_server_close_4406_or_4403_is_not_retried(
    make_transport: TransportFactory, code: int
) -> None:
    async def close_at_init(conn: FakeConnection) -> None:
        await conn.expect(ConnectionInit)
        await conn.close(code, "no")

    with anyio.fail_after(TIMEOUT):
        async with serve(close_at_init) as server:
            client = GraphqlWsClient(make_transport(server.url), **FAST_RETRY)
            with pytest.raises(ConnectionRejectedError) as info:
                await client.__aenter__()
            assert (info.value.code, info.value.reason) == (code, "no")
            assert server.attempts == 1


@pytest.mark.parametrize("params", [None, {"token": "t1"}])
async def test_c3_02_first_frame_is_connection_init(
    make_transport: TransportFactory, params: dict[str, str] | None
) -> None:
    async with serve() as server:
        transport = make_transport(server.url)
        async with GraphqlWsClient(transport, connection_params=params):
            pass
        conn = server.connections[0]
        expected = (
            {"type": "connection_init"}
            if params is None
            else {
                "type": "connection_init",
                "payload": params,
            }
        )
        assert frames(conn)[0] == expected


async def test_c3_03_operations_wait_for_the_ack(make_transport: TransportFactory) -> None:
    gate = anyio.Event()

    async def slow_ack(conn: FakeConnection) -> None:
        await conn.expect(ConnectionInit)
        await gate.wait()
        await conn.send(ConnectionAck())
        await serve_operations(conn)

    results: list[object] = []
    with anyio.fail_after(TIMEOUT):
        async with serve(slow_ack) as server:
            client = GraphqlWsClient(make_transport(server.url), lazy=True)
            async with client, anyio.create_task_group() as tg:

                async def run() -> None:
                    results.append(await client.execute("{ hello }"))

                tg.start_soon(run)
                conn = await server.wait_connections(1)
                await conn.wait_until(lambda: len(conn.received) >= 1)
                await anyio.wait_all_tasks_blocked()
                # The server machine would have closed 4401 on an early subscribe.
                assert [f["type"] for f in frames(conn)] == ["connection_init"]
                gate.set()
    assert results == [{"data": {"hello": "world"}}]
    assert [f["type"] for f in frames(conn)] == ["connection_init", "subscribe"]


async def _never_ack(conn: FakeConnection) -> None:
    await conn.expect(ConnectionInit)
    await anyio.sleep_forever()


async def test_c3_04_ack_timeout_closes_4504_and_retries(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve(_never_ack) as server:
            client = GraphqlWsClient(
                make_transport(server.url),
                ack_timeout=0.1,
                max_reconnect_attempts=1,
                **FAST_RETRY,
            )
            with pytest.raises(ConnectionTimeoutError) as info:
                await client.__aenter__()
            assert info.value.code == 4504
            assert isinstance(info.value, TimeoutError)
            assert server.attempts == 2
            for conn in server.connections:
                await conn.finished.wait()
                assert conn.client_close is not None
                assert conn.client_close[0] == 4504


async def test_c3_05_next_before_ack_closes_4004(make_transport: TransportFactory) -> None:
    async def early_next(conn: FakeConnection) -> None:
        await conn.expect(ConnectionInit)
        await conn.send_raw('{"type":"next","id":"1","payload":{"data":null}}')
        await anyio.sleep_forever()

    with anyio.fail_after(TIMEOUT):
        async with serve(early_next) as server:
            client = GraphqlWsClient(make_transport(server.url), **FAST_RETRY)
            with pytest.raises(ConnectionLostError) as info:
                await client.__aenter__()
            assert info.value.code == 4004
            conn = server.connections[0]
            await conn.finished.wait()
            assert conn.client_close is not None
            assert conn.client_close[0] == 4004
            assert server.attempts == 1


async def test_c3_06_server_ping_gets_pong_with_payload(
    make_transport: TransportFactory,
) -> None:
    pongs: list[object] = []

    async def pinging(conn: FakeConnection) -> None:
        await conn.send(Ping(payload={"n": 1}))
        init_seen = False
        while not (init_seen and pongs):
            event = await conn.next_event()
            if isinstance(event, Pong):
                pongs.append(event.payload)
            init_seen = init_seen or isinstance(event, ConnectionInit)
        await conn.send(ConnectionAck())
        await conn.send(Ping(payload={"n": 2}))
        pongs.append((await conn.expect(Pong)).payload)  # type: ignore[union-attr]
        conn.notify()
        await serve_operations(conn)

    with anyio.fail_after(TIMEOUT):
        async with serve(pinging) as server, GraphqlWsClient(make_transport(server.url)) as client:
            await server.connections[0].wait_until(lambda: len(pongs) == 2)
            assert await client.execute("{ hello }") == {"data": {"hello": "world"}}
    assert pongs == [{"n": 1}, {"n": 2}]


async def test_c3_07_client_pings_and_reconnects_without_pong(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(
                make_transport(server.url), ping_interval=0.05, pong_timeout=0.2, **FAST_RETRY
            )
            async with client:
                first = server.connections[0]
                await first.wait_until(lambda: len(first.frames_of_type("ping")) >= 2)
                assert first.client_close is None
                first.drop_outgoing = lambda frame: '"type":"pong"' in frame
                await server.wait_connections(2)
                await first.finished.wait()
                assert close_code(first) == 4499
                await client.connect_and_init()  # waits for the new ack
                assert await client.execute("{ hello }") == {"data": {"hello": "world"}}


async def test_c3_08_ids_are_unique_among_active_operations(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            subs = [client.subscribe("subscription { forever }") for _ in range(4)]
            for sub in subs:
                await sub.__aenter__()
            conn = server.connections[0]
            await conn.wait_until(lambda: len(conn.active) == 4)
            await subs[0].aclose()
            await subs[1].aclose()
            await conn.wait_until(lambda: len(conn.active) == 2)
            for _ in range(3):
                await client.execute("{ hello }")
            ids = [f["id"] for f in frames(conn) if f["type"] == "subscribe"]
            assert len(ids) == len(set(ids)) == 7
            with pytest.raises(Exception, match="already active"):
                await client.start("{ hello }", msg_id=subs[2].id)
            for sub in subs[2:]:
                await sub.aclose()


async def test_c3_09_cancel_sends_exactly_one_complete(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            conn = server.connections[0]
            ids: list[str] = []

            async def feed() -> None:
                await conn.wait_until(lambda: bool(conn.active))
                ids.extend(conn.active)
                await conn.send(Next(id=ids[0], payload={"data": {"ticks": 0}}))

            got = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(feed)
                async for result in client.subscribe("subscription { forever }"):
                    got.append(result)
                    break
            assert got == [{"data": {"ticks": 0}}]
            # Leaving the loop cancelled the operation.
            await conn.wait_until(lambda: conn.cancelled == ids)
            await client.execute("{ hello }")
            completes = [f for f in frames(conn) if f["type"] == "complete"]
            assert completes == [{"type": "complete", "id": ids[0]}]


async def test_c3_09_nothing_sent_after_server_end(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            await client.execute("{ hello }")
            with pytest.raises(GraphqlWsResponseError):
                await client.execute("{ fails }")
            assert [r async for r in client.subscribe("subscription { count }")]
            await client.execute("{ hello }")
            assert server.connections[0].frames_of_type("complete") == []


async def test_c3_10_unknown_and_finished_ids_are_ignored(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server, GraphqlWsClient(make_transport(server.url)) as client:
            await client.execute("{ hello }")
            conn = server.connections[0]
            for text in (
                '{"type":"next","id":"1","payload":{"data":{"late":true}}}',
                '{"type":"complete","id":"1"}',
                '{"type":"next","id":"999","payload":{"data":null}}',
                '{"type":"error","id":"999","payload":[{"message":"x"}]}',
                '{"type":"complete","id":"999"}',
            ):
                await conn.send_raw(text)
            assert await client.execute("{ hello }") == {"data": {"hello": "world"}}
            assert conn.client_close is None
            assert client.connected


async def test_c3_11_error_carries_the_full_list_and_is_not_retried(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            async with GraphqlWsClient(make_transport(server.url), **FAST_RETRY) as client:
                with pytest.raises(GraphqlWsResponseError) as info:
                    await client.execute("{ fails }")
            assert info.value.errors == TWO_ERRORS
            assert info.value.response == TWO_ERRORS
            assert info.value.operation_id == "1"
            assert len(server.connections[0].frames_of_type("subscribe")) == 1


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"type":"whatever"}',
        '{"type":"error","id":"1","payload":{"message":"not a list"}}',
    ],
)
async def test_c3_12_invalid_server_frame_closes_4004(
    make_transport: TransportFactory, frame: str
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            async with GraphqlWsClient(make_transport(server.url)) as client:
                sub = client.subscribe("subscription { forever }")
                await sub.__aenter__()
                conn = server.connections[0]
                await conn.wait_until(lambda: bool(conn.active))
                await conn.send_raw(frame)
                with pytest.raises(ConnectionLostError) as info:
                    await sub.__anext__()
                assert info.value.code == 4004
                assert not client.connected
            await conn.finished.wait()
            assert conn.client_close is not None
            assert conn.client_close[0] == 4004


FATAL_FROM_SERVER = [4400, 4401, 4409, 4429, 4500, 4004, 4005, 1002, 1003, 1007, 1011]
RETRIED_FROM_SERVER = [1000, 1001, 1012, 1013, 1014, 4408, 4499, 4504, 4000]


@pytest.mark.parametrize("code", FATAL_FROM_SERVER)
async def test_c3_13_fatal_close_codes_are_not_retried(
    make_transport: TransportFactory, code: int
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with (
            serve() as server,
            GraphqlWsClient(make_transport(server.url), **FAST_RETRY) as client,
        ):
            sub = client.subscribe("subscription { forever }")
            await sub.__aenter__()
            conn = server.connections[0]
            await conn.wait_until(lambda: bool(conn.active))
            await conn.close(code, "bye")
            with pytest.raises(ConnectionLostError) as info:
                await sub.__anext__()
            assert (info.value.code, info.value.reason) == (code, "bye")
            assert server.attempts == 1
            # The client stays failed: new operations raise at once.
            with pytest.raises(ConnectionLostError):
                await client.execute("{ hello }")


@pytest.mark.parametrize("code", [*RETRIED_FROM_SERVER, None])
async def test_c3_13_14_retryable_closes_reconnect_and_resubscribe(
    make_transport: TransportFactory, anyio_backend: str, code: int | None
) -> None:
    if code == 1014 and anyio_backend == "trio":
        pytest.skip("wsproto 1.3 (under trio-websocket) fails a close frame with code 1014")
    with anyio.fail_after(TIMEOUT):
        async with (
            serve() as server,
            GraphqlWsClient(make_transport(server.url), **FAST_RETRY) as client,
        ):
            sub = client.subscribe("subscription { forever }")
            await sub.__aenter__()
            first = server.connections[0]
            await first.wait_until(lambda: bool(first.active))
            if code is None:
                await first.drop()  # 1006: no close frame
            else:
                await first.close(code, "bye")
            second = await server.wait_connections(2)
            await second.wait_until(lambda: sub.id in second.active)
            assert [f["type"] for f in frames(second)] == ["connection_init", "subscribe"]
            assert frames(second)[1]["id"] == sub.id
            await second.send(Next(id=str(sub.id), payload={"data": {"ticks": 7}}))
            assert await sub.__anext__() == {"data": {"ticks": 7}}
            await sub.aclose()


async def test_c3_13_bounded_attempts_with_backoff(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        # A proxy answering 503 while the server restarts: retried, bounded.
        async with serve(reject_status=503) as server:
            client = GraphqlWsClient(
                make_transport(server.url),
                reconnect=True,
                max_reconnect_attempts=2,
                reconnect_delay=(0.01, 0.04),
            )
            start = anyio.current_time()
            with pytest.raises(ConnectionRejectedError) as info:
                await client.__aenter__()
            assert info.value.status == 503
            assert server.attempts == 3
            # Two waits: at least 0.005 s then 0.01 s (half of each ceiling).
            assert anyio.current_time() - start >= 0.015


async def test_c3_13_attempts_count_restarts_after_each_ack(
    make_transport: TransportFactory,
) -> None:
    async def ack_then_restart(conn: FakeConnection) -> None:
        await accept(conn)
        await conn.close(1012, "restarting")

    with anyio.fail_after(TIMEOUT):
        async with serve(ack_then_restart) as server:
            client = GraphqlWsClient(
                make_transport(server.url), max_reconnect_attempts=1, **FAST_RETRY
            )
            async with client:
                await server.wait_connections(4)


async def test_c3_15_lazy_connects_on_demand_and_closes_when_idle(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with (
            serve() as server,
            GraphqlWsClient(make_transport(server.url), lazy=True) as client,
        ):
            await anyio.wait_all_tasks_blocked()
            assert server.attempts == 0
            assert not client.connected
            assert await client.execute("{ hello }") == {"data": {"hello": "world"}}
            first = server.connections[0]
            await first.finished.wait()
            assert first.client_close == (1000, "")
            results = [r async for r in client.subscribe("subscription { count }")]
            assert len(results) == 3
            second = server.connections[1]
            await second.finished.wait()
            assert second.client_close == (1000, "")
            assert server.attempts == 2


async def test_c3_15_lazy_close_timeout_keeps_the_connection(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(make_transport(server.url), lazy=True, lazy_close_timeout=10)
            async with client:
                for _ in range(3):
                    await client.execute("{ hello }")
                assert server.attempts == 1
                assert client.connected
            conn = server.connections[0]
            await conn.finished.wait()
            assert conn.client_close == (1000, "")


async def test_c3_15_close_always_sends_1000(make_transport: TransportFactory) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            async with GraphqlWsClient(make_transport(server.url)) as client:
                sub = client.subscribe("subscription { forever }")
                await sub.__aenter__()
                conn = server.connections[0]
                await conn.wait_until(lambda: bool(conn.active))
            with pytest.raises(ClientClosedError):
                await sub.__anext__()
            await conn.finished.wait()
            assert conn.client_close == (1000, "")


# C.4: legacy graphql-ws.


async def test_c4_01_offers_graphql_ws_and_inits_first(
    make_transport: TransportFactory,
) -> None:
    async with serve() as server:
        async with GraphqlWsClient(make_transport(server.url), subprotocol=LEGACY) as client:
            assert client.subprotocol == LEGACY
            assert await client.execute("{ hello }") == {"data": {"hello": "world"}}
        conn = server.connections[0]
        assert conn.request is not None
        assert conn.request.subprotocols == [LEGACY]
        assert [f["type"] for f in frames(conn)][:2] == ["connection_init", "start"]


async def test_c4_02_ka_before_and_after_ack(make_transport: TransportFactory) -> None:
    async def early_ka(conn: FakeConnection) -> None:
        await conn.send_raw('{"type":"ka"}')
        await conn.expect(ConnectionInit)
        await conn.send_raw('{"type":"ka"}')
        await conn.send(ConnectionAck())
        await conn.send_raw('{"type":"ka"}')
        await serve_operations(conn)

    with anyio.fail_after(TIMEOUT):
        async with serve(early_ka) as server:
            client = GraphqlWsClient(make_transport(server.url), subprotocol=LEGACY)
            async with client:
                assert await client.execute("{ hello }") == {"data": {"hello": "world"}}
                assert server.connections[0].client_close is None


async def test_c4_03_ka_watchdog_closes_and_reconnects(make_transport: TransportFactory) -> None:
    async def one_ka(conn: FakeConnection) -> None:
        await accept(conn)
        await conn.send_raw('{"type":"ka"}')
        await serve_operations(conn)

    with anyio.fail_after(TIMEOUT):
        async with serve(one_ka) as server:
            client = GraphqlWsClient(
                make_transport(server.url),
                subprotocol=LEGACY,
                keepalive_timeout=0.1,
                **FAST_RETRY,
            )
            async with client:
                first = server.connections[0]
                await server.wait_connections(2)
                await first.finished.wait()
                assert first.client_close is not None
                assert first.client_close[0] == 4499


async def test_c4_04_cancel_sends_stop_and_needs_no_complete(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(make_transport(server.url), subprotocol=LEGACY)
            async with client:
                conn = server.connections[0]
                # This server never confirms a `stop` with `complete`.
                conn.drop_outgoing = lambda frame: '"type":"complete"' in frame
                sub = client.subscribe("subscription { forever }")
                await sub.__aenter__()
                await conn.wait_until(lambda: bool(conn.active))
                await sub.aclose()
                await conn.wait_until(lambda: bool(conn.cancelled))
                assert conn.frames_of_type("stop") == [f'{{"type":"stop","id":"{sub.id}"}}']
                conn.drop_outgoing = lambda frame: False
                assert await client.execute("{ hello }") == {"data": {"hello": "world"}}


async def test_c4_05_connection_error_fails_every_pending_operation(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve(reject) as server:
            client = GraphqlWsClient(
                make_transport(server.url), subprotocol=LEGACY, lazy=True, **FAST_RETRY
            )
            errors: list[BaseException] = []

            async def run() -> None:
                try:
                    await client.execute("{ hello }")
                except ConnectionRejectedError as exc:
                    errors.append(exc)

            async with client, anyio.create_task_group() as tg:
                tg.start_soon(run)
                tg.start_soon(run)
            assert len(errors) == 2
            assert all(e.payload == {"message": "go away"} for e in errors)  # type: ignore[attr-defined]
            assert server.attempts == 1
            # Eager mode: the same refusal comes out of `async with`.
            with pytest.raises(ConnectionRejectedError, match="go away"):
                async with GraphqlWsClient(make_transport(server.url), subprotocol=LEGACY):
                    pass


async def test_c4_06_error_object_becomes_a_one_element_list(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(make_transport(server.url), subprotocol=LEGACY)
            async with client:
                op_id = await client.start("subscription { forever }")
                conn = server.connections[0]
                await conn.wait_until(lambda: bool(conn.active))
                await conn.send_raw(
                    json.dumps(
                        {"type": "error", "id": op_id, "payload": {"message": "Invalid params"}}
                    )
                )
                with pytest.raises(GraphqlWsResponseError) as info:
                    await client.receive_next(op_id)
                assert info.value.errors == [{"message": "Invalid params"}]


async def test_c4_07_clean_shutdown_terminates_then_closes(
    make_transport: TransportFactory,
) -> None:
    async with serve() as server:
        async with GraphqlWsClient(make_transport(server.url), subprotocol=LEGACY) as client:
            await client.execute("{ hello }")
        conn = server.connections[0]
        await conn.finished.wait()
        assert frames(conn)[-1] == {"type": "connection_terminate"}
        assert conn.client_close == (1000, "")


async def test_c4_08_restart_after_reconnect_and_no_pipelining(
    make_transport: TransportFactory,
) -> None:
    with anyio.fail_after(TIMEOUT):
        async with serve() as server:
            client = GraphqlWsClient(make_transport(server.url), subprotocol=LEGACY, **FAST_RETRY)
            async with client:
                sub = client.subscribe("subscription { forever }")
                await sub.__aenter__()
                first = server.connections[0]
                await first.wait_until(lambda: bool(first.active))
                await first.close(1012, "restart")
                second = await server.wait_connections(2)
                await second.wait_until(lambda: sub.id in second.active)
                # The server machine closes 4401 on a `start` before the ack.
                assert [f["type"] for f in frames(second)] == ["connection_init", "start"]
                await second.send(Next(id=str(sub.id), payload={"data": {"n": 1}}))
                assert await sub.__anext__() == {"data": {"n": 1}}
                await sub.aclose()
