"""The client against this project's own server, running for real.

`GraphqlWsConsumer` (gqlws-server-channels) serves `tests.integration.asgi_app`
from uvicorn and from daphne processes on 127.0.0.1; every test runs under
asyncio (aiohttp transport) and trio (trio-websocket transport), and over both
subprotocols. The processes belong to this module: the timeout tests freeze
them (SIGSTOP, then SIGCONT) and the reconnect test kills its own.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from gqlws_client import (
    ConnectionRejectedError,
    ConnectionTimeoutError,
    GraphqlWsClient,
    GraphqlWsResponseError,
    GraphqlWsSubscription,
    GraphqlWsTransport,
)
from gqlws_protocol import JsonObject

from tests.integration.conftest import (
    KINDS,
    LiveServer,
    start_server,
    stop_processes,
    wait_listening,
)

from .conftest import TransportFactory

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

STEP = 10.0  # seconds any single exchange may take
MODERN = "graphql-transport-ws"
LEGACY = "graphql-ws"
CONFIRMATION = {"data": None}  # asgi_app confirms each subscription with it

SEND = (
    "mutation Send($room: String!, $text: String!) "
    '{ send(room: $room, text: $text, sender: "tester") { ok } }'
)
ON_MESSAGE = "subscription OnMessage($room: String!) { onMessage(room: $room) { text } }"


# Servers.


@dataclass
class Server:
    """A server process of this module, which the tests may freeze or kill."""

    kind: str
    log_dir: Path
    live: LiveServer
    _names: Iterator[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls, kind: str, log_dir: Path) -> Server:
        """Start a `kind` process on a free port (call `wait_listening` before use)."""
        names = itertools.count()
        live = start_server(kind, log_dir, name=f"{kind}-{next(names)}")
        return cls(kind, log_dir, live, names)

    def url(self, path: str = "graphql/") -> str:
        return f"ws://127.0.0.1:{self.live.port}/{path}"

    def wait_listening(self) -> None:
        wait_listening(self.live)

    def kill(self) -> None:
        """SIGKILL: no close frame, no goodbye; the port is free afterwards."""
        self.live.process.kill()
        self.live.process.wait(STEP)

    def restart(self) -> None:
        """A new process on the same port, once it listens (blocks)."""
        if self.live.process.poll() is None:
            stop_processes([self.live.process])
        self.live = start_server(
            self.kind, self.log_dir, name=f"{self.kind}-{next(self._names)}", port=self.live.port
        )
        wait_listening(self.live)

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """SIGSTOP the process: the kernel still accepts bytes, nobody answers."""
        os.kill(self.live.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.live.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Terminate (then kill) the process, frozen or not."""
        if self.live.process.poll() is None:
            os.kill(self.live.process.pid, signal.SIGCONT)
        stop_processes([self.live.process])


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """One process per kind, started together (their start-ups overlap)."""
    log_dir = tmp_path_factory.mktemp("live-servers")
    started: dict[str, Server] = {}
    try:
        for kind in KINDS:
            started[kind] = Server.start(kind, log_dir)
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(params=KINDS)
def server(request: pytest.FixtureRequest, servers: dict[str, Server]) -> Server:
    """This module's uvicorn or daphne process, running and listening."""
    chosen = servers[request.param]
    chosen.wait_listening()
    return chosen


@pytest.fixture(params=KINDS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A uvicorn or daphne process of the test's own, stopped at its end."""
    own = Server.start(str(request.param), tmp_path)
    try:
        own.wait_listening()
        yield own
    finally:
        own.stop()


@pytest.fixture(params=[MODERN, LEGACY])
def subprotocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# A transport that records what went through it.


class Recorder(GraphqlWsTransport):
    """Wraps a transport and keeps the frames, connects and closes it saw."""

    def __init__(self, inner: GraphqlWsTransport) -> None:
        self.inner = inner
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.connects = 0
        self.closes: list[int] = []
        self.aborts: list[int] = []
        self._changed: anyio.Event | None = None

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once `predicate()` holds, checked after each frame."""
        while not predicate():
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def __aenter__(self) -> Recorder:
        await self.inner.__aenter__()
        return self

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def connect(self, subprotocols: Sequence[str]) -> str | None:
        self.connects += 1
        return await self.inner.connect(subprotocols)

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))
        self._notify()
        await self.inner.send(text)

    async def receive(self) -> str:
        text = await self.inner.receive()
        self.received.append(json.loads(text))
        self._notify()
        return text

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closes.append(code)
        self._notify()
        await self.inner.close(code, reason)

    async def abort(self, code: int = 1000, reason: str = "") -> None:
        self.aborts.append(code)
        self._notify()
        await self.inner.abort(code, reason)

    def sent_types(self, op_id: str | None) -> list[str]:
        return [f["type"] for f in self.sent if f.get("id") == op_id]

    def received_types(self, op_id: str | None) -> list[str]:
        return [f["type"] for f in self.received if f.get("id") == op_id]


# Helpers.


def new_room() -> str:
    """A room no other test uses: the server processes are shared."""
    return f"room-{uuid.uuid4().hex}"


async def confirmed(results: GraphqlWsSubscription) -> None:
    """Start the subscription; return once the server says it is live."""
    with anyio.fail_after(STEP):
        assert await results.__anext__() == CONFIRMATION


async def send(client: GraphqlWsClient, room: str, text: str) -> None:
    """Broadcast `text` to `room` through the schema's mutation."""
    result = await client.execute(SEND, {"room": room, "text": text})
    assert result == {"data": {"send": {"ok": True}}}


async def take(results: AsyncIterator[JsonObject], count: int) -> list[JsonObject]:
    got: list[JsonObject] = []
    with anyio.fail_after(STEP):
        async for result in results:
            got.append(result)
            if len(got) == count:
                break
    return got


def message(text: str) -> JsonObject:
    return {"data": {"onMessage": {"text": text}}}


# 1. Queries and mutations.


async def test_query_and_mutation(
    make_transport: TransportFactory, server: Server, subprotocol: str
) -> None:
    """Queries (variables, operation name) and mutations get their results,
    and a mutation's effect is visible to the next query."""
    transport = make_transport(server.url())
    with anyio.fail_after(STEP):
        async with GraphqlWsClient(transport, subprotocol=subprotocol) as client:
            assert client.subprotocol == subprotocol
            assert await client.execute('{ hello(name: "x") }') == {"data": {"hello": "Hello, x!"}}
            result = await client.execute(
                "query A { hello } query B($n: String) { asyncHello(name: $n) }",
                {"n": "vars"},
                operation_name="B",
            )
            assert result == {"data": {"asyncHello": "Hello, vars!"}}
            await send(client, new_room(), "nobody listens")
            # The mutation ran on the server: a later query of the same
            # connection sees what it stored.
            result = await client.execute('mutation { remember(value: "kept") { ok } }')
            assert result == {"data": {"remember": {"ok": True}}}
            assert await client.execute("{ recall }") == {"data": {"recall": "kept"}}


# 2. A subscription.


async def test_subscription_receives_100_broadcasts_in_order(
    make_transport: TransportFactory, server: Server, subprotocol: str
) -> None:
    """100 notifications broadcast by another client's mutations arrive, in order."""
    room = new_room()
    texts = [f"message {i}" for i in range(100)]
    with anyio.fail_after(STEP):
        async with (
            GraphqlWsClient(make_transport(server.url()), subprotocol=subprotocol) as listener,
            GraphqlWsClient(make_transport(server.url()), subprotocol=subprotocol) as sender,
            listener.subscribe(ON_MESSAGE, {"room": room}) as results,
        ):
            await confirmed(results)
            for text in texts:
                await send(sender, room, text)
            assert await take(results, 100) == [message(text) for text in texts]
            assert results.dropped == 0


# 3. Cancelling a subscription.


async def test_leaving_the_loop_unsubscribes_on_the_server(
    make_transport: TransportFactory, server: Server, subprotocol: str
) -> None:
    """Leaving `async for` early sends one complete / stop: the server runs
    `unsubscribed`, a later broadcast reaches only the subscription still
    live, and the connection goes on working."""
    room = new_room()
    events = "query Events($room: String!) { serverEvents(room: $room) }"
    stop = "complete" if subprotocol == MODERN else "stop"
    data = "next" if subprotocol == MODERN else "data"
    transport = Recorder(make_transport(server.url("graphql-live/")))

    async def first_message(client: GraphqlWsClient) -> None:
        async for result in client.subscribe(ON_MESSAGE, {"room": room}):
            if result == CONFIRMATION:
                await send(client, room, "first")
                continue
            assert result == message("first")
            break

    with anyio.fail_after(STEP):
        async with GraphqlWsClient(transport, subprotocol=subprotocol) as client:
            await first_message(client)
            op_id = next(f["id"] for f in transport.sent if f["type"] in ("subscribe", "start"))
            await transport.wait_until(lambda: stop in transport.sent_types(op_id))
            # The server tore the subscription down (its `unsubscribed` ran).
            while True:
                result: Any = await client.execute(events, {"room": room})
                seen = result["data"]["serverEvents"]
                assert seen[0] == "subscribe"
                if "unsubscribed" in seen:
                    break
            async with client.subscribe(ON_MESSAGE, {"room": room}) as witness:
                await confirmed(witness)
                await send(client, room, "second")
                assert await take(witness, 1) == [message("second")]
            # Nothing came for the cancelled id after its first result but,
            # on graphql-ws, the server's `complete` answering the `stop`;
            # and one stop went out.
            ending = [] if subprotocol == MODERN else ["complete"]
            assert transport.received_types(op_id) == [data, data, *ending]
            assert transport.sent_types(op_id).count(stop) == 1


# 4. Errors.


async def test_validation_and_resolver_errors(
    make_transport: TransportFactory, server: Server, subprotocol: str
) -> None:
    """A validation error raises with every error of the list; a resolver
    error raises with the partial data; the connection stays usable."""
    transport = make_transport(server.url())
    with anyio.fail_after(STEP):
        async with GraphqlWsClient(transport, subprotocol=subprotocol) as client:
            with pytest.raises(GraphqlWsResponseError) as info:
                await client.execute("{ nope alsoNope }")
            messages = [str(error["message"]) for error in info.value.errors]
            assert len(messages) == 2
            assert "'nope'" in messages[0]
            assert "'alsoNope'" in messages[1]
            with pytest.raises(GraphqlWsResponseError) as info:
                async for _ in client.subscribe("subscription { noSuchField }"):
                    pass
            assert "noSuchField" in str(info.value.errors[0]["message"])
            with pytest.raises(GraphqlWsResponseError) as info:
                await client.execute("{ hello fail }")
            assert [error["message"] for error in info.value.errors] == ["resolver exploded"]
            assert info.value.errors[0]["path"] == ["fail"]
            response: Any = info.value.response
            assert response["data"] == {"hello": "Hello, world!", "fail": None}
            assert await client.execute("{ hello }") == {"data": {"hello": "Hello, world!"}}


async def test_rejected_connection(
    make_transport: TransportFactory,
    server: Server,
    subprotocol: str,
) -> None:
    """An `on_connect` that raises refuses the connection (4403), which the
    client does not retry; the same route acks a client whose
    `connection_params` it likes."""
    url = server.url("graphql-reject/")
    transport = Recorder(make_transport(url))
    with anyio.fail_after(STEP):
        client = GraphqlWsClient(
            transport,
            subprotocol=subprotocol,
            connection_params={"token": "bad"},
            ack_timeout=0.5,
            reconnect=True,
            max_reconnect_attempts=1,
            reconnect_delay=(0.05, 0.05),
        )
        with pytest.raises(ConnectionRejectedError) as info:
            async with client:
                pass
        assert info.value.code == 4403
        assert transport.connects == 1
        if subprotocol == LEGACY:
            # A `connection_error` came first, carrying the reason.
            assert info.value.payload is not None
            assert info.value.payload["message"] == "PermissionError: bad token"
        async with GraphqlWsClient(
            make_transport(url), subprotocol=subprotocol, connection_params={"token": "good"}
        ) as client:
            assert client.ack_payload == {"welcome": True}
            assert await client.execute("{ hello }") == {"data": {"hello": "Hello, world!"}}


# 5. A server that never acks.


async def test_ack_timeout(
    make_transport: TransportFactory, server: Server, subprotocol: str
) -> None:
    """Without a `connection_ack` within `ack_timeout` the client closes with
    4504 and raises `ConnectionTimeoutError`, promptly."""
    transport = Recorder(make_transport(server.url("graphql-slow-ack/")))
    client = GraphqlWsClient(transport, subprotocol=subprotocol, ack_timeout=0.5)
    start = anyio.current_time()
    with anyio.fail_after(STEP), pytest.raises(ConnectionTimeoutError) as info:
        async with client:
            pass
    elapsed = anyio.current_time() - start
    assert info.value.code == 4504
    # Closed without waiting for a server that stopped answering.
    assert transport.aborts == [4504]
    assert [frame["type"] for frame in transport.sent] == ["connection_init"]
    assert 0.5 <= elapsed < 3.0


# 6. The server process dies and comes back.


async def test_reconnect_and_resubscribe_after_a_restart(
    make_transport: TransportFactory, own_server: Server
) -> None:
    """A killed server process is replaced on the same port: clients of both
    subprotocols reconnect, send their subscriptions again after the new
    ack, and receive the broadcasts that follow."""
    room = new_room()
    options: dict[str, Any] = {
        "reconnect": True,
        "reconnect_delay": (0.05, 0.2),
        "max_reconnect_attempts": None,
    }
    transports = [Recorder(make_transport(own_server.url())) for _ in range(2)]
    with anyio.fail_after(4 * STEP):
        async with (
            GraphqlWsClient(transports[0], subprotocol=MODERN, **options) as modern,
            GraphqlWsClient(transports[1], subprotocol=LEGACY, **options) as legacy,
            modern.subscribe(ON_MESSAGE, {"room": room}) as modern_results,
            legacy.subscribe(ON_MESSAGE, {"room": room}) as legacy_results,
        ):
            await confirmed(modern_results)
            await confirmed(legacy_results)
            await send(modern, room, "before")
            assert await take(modern_results, 1) == [message("before")]
            assert await take(legacy_results, 1) == [message("before")]

            own_server.kill()
            await anyio.to_thread.run_sync(own_server.restart)

            # Sent again after the new ack; the new process confirms it.
            await confirmed(modern_results)
            await confirmed(legacy_results)
            await send(legacy, room, "after")
            assert await take(modern_results, 1) == [message("after")]
            assert await take(legacy_results, 1) == [message("after")]
            for transport, results, start in (
                (transports[0], modern_results, "subscribe"),
                (transports[1], legacy_results, "start"),
            ):
                assert transport.connects >= 2
                assert transport.sent_types(results.id).count(start) == 2
                # The same id went out again on the new connection, after
                # its `connection_init`.
                kinds = [(f["type"], f.get("id")) for f in transport.sent]
                last_init = len(kinds) - 1 - kinds[::-1].index(("connection_init", None))
                assert (start, results.id) in kinds[last_init:]
                # Two connections opened (the attempts in between were refused).
                assert kinds.count(("connection_init", None)) == 2


# 7. A server that stops answering.


async def test_pong_timeout(make_transport: TransportFactory, server: Server) -> None:
    """graphql-transport-ws: a frozen server answers no `ping`; after
    `pong_timeout` the client closes with 4499 and the subscription raises
    `ConnectionTimeoutError`."""
    transport = Recorder(make_transport(server.url()))
    client = GraphqlWsClient(transport, subprotocol=MODERN, ping_interval=0.2, pong_timeout=0.5)
    with anyio.fail_after(STEP):
        async with client, client.subscribe(ON_MESSAGE, {"room": new_room()}) as results:
            await confirmed(results)
            # Pings are answered while the server runs.
            await transport.wait_until(lambda: "pong" in transport.received_types(None))
            with server.frozen():
                start = anyio.current_time()
                with pytest.raises(ConnectionTimeoutError) as info:
                    await results.__anext__()
                elapsed = anyio.current_time() - start
    assert info.value.code == 4499
    assert transport.aborts == [4499]
    assert elapsed < 3.0  # the closing handshake alone used to take 5 s


async def test_keepalive_timeout(make_transport: TransportFactory, server: Server) -> None:
    """graphql-ws: the server's `ka` stops when it freezes; after
    `keepalive_timeout` the client closes with 4499 and the subscription
    raises `ConnectionTimeoutError`."""
    transport = Recorder(make_transport(server.url("graphql-keepalive/")))
    client = GraphqlWsClient(transport, subprotocol=LEGACY, keepalive_timeout=0.5)
    with anyio.fail_after(STEP):
        async with client, client.subscribe(ON_MESSAGE, {"room": new_room()}) as results:
            await confirmed(results)
            assert "ka" in [frame["type"] for frame in transport.received]
            with server.frozen():
                start = anyio.current_time()
                with pytest.raises(ConnectionTimeoutError) as info:
                    await results.__anext__()
                elapsed = anyio.current_time() - start
    assert info.value.code == 4499
    assert transport.aborts == [4499]
    assert elapsed < 3.0  # the closing handshake alone used to take 5 s


async def test_unanswered_pings_reconnect_when_reconnect_is_on(
    make_transport: TransportFactory, server: Server
) -> None:
    """With `reconnect`, a pong timeout (graphql-transport-ws) or a `ka`
    timeout (graphql-ws) is worth a reconnect: once the server answers
    again, the clients connect anew and their subscriptions go on."""
    room = new_room()
    retry: dict[str, Any] = {
        "reconnect": True,
        "reconnect_delay": (0.05, 0.1),
        "max_reconnect_attempts": None,
    }
    modern_transport = Recorder(make_transport(server.url()))
    legacy_transport = Recorder(make_transport(server.url("graphql-keepalive/")))
    with anyio.fail_after(2 * STEP):
        async with (
            GraphqlWsClient(
                modern_transport, subprotocol=MODERN, ping_interval=0.2, pong_timeout=0.5, **retry
            ) as modern,
            GraphqlWsClient(
                legacy_transport, subprotocol=LEGACY, keepalive_timeout=0.5, **retry
            ) as legacy,
            modern.subscribe(ON_MESSAGE, {"room": room}) as modern_results,
            legacy.subscribe(ON_MESSAGE, {"room": room}) as legacy_results,
        ):
            await confirmed(modern_results)
            await confirmed(legacy_results)
            with server.frozen():
                await modern_transport.wait_until(lambda: modern_transport.aborts == [4499])
                await legacy_transport.wait_until(lambda: legacy_transport.aborts == [4499])
            # Sent again after the new ack, and confirmed again.
            await confirmed(modern_results)
            await confirmed(legacy_results)
            await send(modern, room, "back")
            assert await take(modern_results, 1) == [message("back")]
            assert await take(legacy_results, 1) == [message("back")]
            assert modern_transport.connects >= 2
            assert legacy_transport.connects >= 2
