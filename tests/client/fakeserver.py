"""A scripted GraphQL-over-WebSocket server for the client tests.

Built on anyio sockets, wsproto and `gqlws_protocol.ServerConnection`, so it
runs under asyncio and trio alike and checks every frame the client sends
against the server machine (a client that subscribes before the ack, reuses
an active id or sends garbage gets closed like a real server would close
it). A test gives a handler coroutine per connection; `standard` is a
well-behaved server, and the `FakeConnection` verbs script misbehaviour:
raw frames, frames before the ack, closes with any code, dropped sockets,
unanswered pings.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from gqlws_protocol import (
    CloseFrame,
    Complete,
    ConnectionAck,
    ConnectionInit,
    ConnectionRejected,
    Error,
    Event,
    JsonObject,
    Next,
    RemoteProtocolError,
    ServerConfig,
    ServerConnection,
    Subscribe,
)
from wsproto import ConnectionType, WSConnection
from wsproto import events as ws_events
from wsproto.connection import ConnectionState

Handler = Callable[["FakeConnection"], Awaitable[None]]
Selector = Callable[[Sequence[str]], "str | None"]


class ClientGone(Exception):
    """The client closed the socket (or it was lost)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"client closed the socket: {code} {reason!r}")
        self.code = code
        self.reason = reason


@dataclass
class HandshakeRequest:
    """What the client asked for in its upgrade request."""

    path: str
    subprotocols: list[str]
    headers: dict[str, str] = field(default_factory=dict)


def prefer_first(offered: Sequence[str]) -> str | None:
    """Select the client's first known subprotocol (client order wins)."""
    for token in offered:
        if token in ("graphql-transport-ws", "graphql-ws"):
            return token
    return None


class FakeConnection:
    """One client socket, as the fake server sees it."""

    def __init__(self, server: FakeServer, stream: anyio.abc.SocketStream) -> None:
        self.server = server
        self.stream = stream
        self.ws = WSConnection(ConnectionType.SERVER)
        self.request: HandshakeRequest | None = None
        self.subprotocol: str | None = None
        self.machine: ServerConnection | None = None
        #: Every text frame the client sent, in order.
        self.received: list[str] = []
        #: The client's close frame (code, reason), once it came.
        self.client_close: tuple[int, str] | None = None
        #: Set when the socket is over.
        self.finished = anyio.Event()
        #: Outgoing frames for which this returns True are not sent (to
        #: script a server that stops answering pings, for instance).
        self.drop_outgoing: Callable[[str], bool] = lambda frame: False
        #: Ids of the subscriptions the server streams right now.
        self.active: set[str] = set()
        #: The `connection_init` payload, once received (standard handler).
        self.init_payload: JsonObject | None = None
        #: Operation ids the client cancelled (standard handler).
        self.cancelled: list[str] = []
        self.ticks: tuple[MemoryObjectSendStream[int], MemoryObjectReceiveStream[int]] = (
            anyio.create_memory_object_stream[int](math.inf)
        )
        self._changed = anyio.Event()
        self._send_lock = anyio.Lock()
        self._inbox_send, self._inbox = anyio.create_memory_object_stream["str | ClientGone"](
            math.inf
        )
        self._events: deque[Event] = deque()
        self._text_parts: list[str] = []

    # Waiting on what the client did.

    def notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` holds (re-checked on every change)."""
        while not predicate():
            await self._changed.wait()

    def frames_of_type(self, wire_type: str) -> list[str]:
        """The client's raw frames whose `type` is `wire_type`."""
        return [f for f in self.received if f'"type":"{wire_type}"' in f]

    # Reading.

    async def next_text(self) -> str:
        """The next raw text frame from the client (no machine involved)."""
        item = await self._inbox.receive()
        if isinstance(item, ClientGone):
            # Keep it for the next reader too.
            self._inbox_send.send_nowait(item)
            raise item
        return item

    async def next_event(self) -> Event:
        """The next event from the client, through the server machine.

        Raises:
            ClientGone: the client closed the socket.
            RemoteProtocolError: the client broke the protocol (the
                machine's close was sent).
        """
        assert self.machine is not None
        while not self._events:
            text = await self.next_text()
            try:
                events = self.machine.receive_text(text, anyio.current_time())
            finally:
                await self.flush()
            self._events.extend(events)
        return self._events.popleft()

    async def expect(self, event_type: type[Event]) -> Event:
        """The next event, which must be of `event_type`."""
        event = await self.next_event()
        assert isinstance(event, event_type), f"expected {event_type.__name__}, got {event!r}"
        return event

    # Writing.

    async def send(self, event: Event) -> None:
        """Send `event` through the server machine."""
        assert self.machine is not None
        self.machine.send(event)
        await self.flush()

    async def flush(self) -> None:
        assert self.machine is not None
        for frame in self.machine.data_to_send():
            if isinstance(frame, CloseFrame):
                await self.close(frame.code, frame.reason)
            elif not self.drop_outgoing(frame):
                await self.send_raw(frame)

    async def send_raw(self, text: str) -> None:
        """Send one text frame as is (for misbehaviour); dropped once closing."""
        if self.ws.state is ConnectionState.OPEN:
            await self._write(self.ws.send(ws_events.Message(data=text)))

    async def close(self, code: int, reason: str = "") -> None:
        """Send a close frame; the socket ends when the client answers."""
        if self.ws.state is ConnectionState.OPEN:
            await self._write(self.ws.send(ws_events.CloseConnection(code=code, reason=reason)))

    async def drop(self) -> None:
        """Cut the TCP connection without a close frame."""
        await self.stream.aclose()
        self.finished.set()

    async def _write(self, data: bytes) -> None:
        async with self._send_lock:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await self.stream.send(data)

    # The socket.

    async def handshake(self) -> bool:
        """Read the upgrade request; accept or refuse it. True if accepted."""
        while self.request is None:
            data = await self.stream.receive()
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, ws_events.Request):
                    headers = {
                        k.decode("latin-1").lower(): v.decode("latin-1")
                        for k, v in event.extra_headers
                    }
                    self.request = HandshakeRequest(
                        event.target, list(event.subprotocols), headers
                    )
        server = self.server
        if server.reject_status is not None:
            await self._write(
                self.ws.send(ws_events.RejectConnection(status_code=server.reject_status))
            )
            return False
        self.subprotocol = server.select(self.request.subprotocols)
        await self._write(self.ws.send(ws_events.AcceptConnection(subprotocol=self.subprotocol)))
        self.machine = ServerConnection(
            self.subprotocol or "graphql-transport-ws", server.config, now=anyio.current_time()
        )
        return True

    async def read_loop(self) -> None:
        gone = ClientGone(1006)
        try:
            while True:
                try:
                    data: bytes | None = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    data = None
                self.ws.receive_data(data)
                for event in self.ws.events():
                    if isinstance(event, ws_events.TextMessage):
                        self._text_parts.append(event.data)
                        if event.message_finished:
                            text = "".join(self._text_parts)
                            self._text_parts = []
                            self.received.append(text)
                            self._inbox_send.send_nowait(text)
                            self.notify()
                    elif isinstance(event, ws_events.CloseConnection):
                        self.client_close = (event.code, event.reason or "")
                        gone = ClientGone(event.code, event.reason or "")
                        if self.ws.state is ConnectionState.REMOTE_CLOSING:
                            await self._write(self.ws.send(event.response()))
                    elif isinstance(event, ws_events.Ping):
                        await self._write(self.ws.send(event.response()))
                if data is None or self.ws.state is ConnectionState.CLOSED:
                    return
        finally:
            self._inbox_send.send_nowait(gone)
            self.finished.set()
            self.notify()


class FakeServer:
    """The listening side; see `serve`."""

    def __init__(
        self,
        handler: Handler,
        *,
        select: Selector,
        reject_status: int | None,
        config: ServerConfig,
    ) -> None:
        self.handler = handler
        self.select = select
        self.reject_status = reject_status
        self.config = config
        self.url = ""
        #: Every accepted connection, in order.
        self.connections: list[FakeConnection] = []
        #: How many TCP connections came in (refused handshakes included).
        self.attempts = 0
        self._changed = anyio.Event()

    async def wait_connections(self, count: int) -> FakeConnection:
        """Wait for the `count`-th accepted connection and return it."""
        while len(self.connections) < count:
            await self._changed.wait()
        return self.connections[count - 1]

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        self.attempts += 1
        self._notify()
        conn = FakeConnection(self, stream)
        try:
            if not await conn.handshake():
                return
            self.connections.append(conn)
            self._notify()
            async with anyio.create_task_group() as tg:
                tg.start_soon(conn.read_loop)
                with contextlib.suppress(ClientGone, RemoteProtocolError):
                    await self.handler(conn)
                await conn.finished.wait()
                tg.cancel_scope.cancel()
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            conn.finished.set()
            for memory_stream in (conn._inbox_send, conn._inbox, *conn.ticks):
                memory_stream.close()
            with anyio.CancelScope(shield=True):
                await stream.aclose()


@asynccontextmanager
async def serve(
    handler: Handler | None = None,
    *,
    select: Selector = prefer_first,
    reject_status: int | None = None,
    config: ServerConfig | None = None,
) -> AsyncIterator[FakeServer]:
    """Run a fake server on 127.0.0.1 (a free port) for the `async with` body.

    Args:
        handler: the script run for each accepted connection; default
            `standard`.
        select: picks the subprotocol from the client's offer (None: accept
            without one).
        reject_status: refuse every handshake with this HTTP status.
        config: the server machine's config; default no init timeout.
    """
    server = FakeServer(
        handler or standard,
        select=select,
        reject_status=reject_status,
        config=config or ServerConfig(init_timeout=None),
    )
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    server.url = f"ws://127.0.0.1:{port}/graphql"
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


# The standard, well-behaved server.


async def standard(conn: FakeConnection) -> None:
    """Ack the init (ack payload: the init payload) and serve operations."""
    await serve_operations(conn, await accept(conn))


async def accept(conn: FakeConnection, ack_payload: JsonObject | None = None) -> JsonObject | None:
    """Receive `connection_init` and acknowledge it."""
    init = await conn.expect(ConnectionInit)
    assert isinstance(init, ConnectionInit)
    conn.init_payload = init.payload
    await conn.send(ConnectionAck(payload=ack_payload))
    return init.payload


async def reject(conn: FakeConnection) -> None:
    """Receive `connection_init` and refuse it (4403 / connection_error)."""
    await conn.expect(ConnectionInit)
    await conn.send(ConnectionRejected(payload={"message": "go away"}, reason="go away"))


async def serve_operations(conn: FakeConnection, init_payload: JsonObject | None = None) -> None:
    """Run each `Subscribe` in its own task until the client goes."""
    scopes: dict[str, anyio.CancelScope] = {}

    async def run(subscribe: Subscribe) -> None:
        with anyio.CancelScope() as scope:
            scopes[subscribe.id] = scope
            try:
                await resolve(conn, subscribe)
            finally:
                scopes.pop(subscribe.id, None)
                conn.active.discard(subscribe.id)
                conn.notify()

    async with anyio.create_task_group() as tg:
        while True:
            try:
                event = await conn.next_event()
            except (ClientGone, RemoteProtocolError):
                break
            if isinstance(event, Subscribe):
                tg.start_soon(run, event)
            elif isinstance(event, Complete):
                conn.cancelled.append(event.id)
                scope = scopes.get(event.id)
                if scope is not None:
                    scope.cancel()
                conn.notify()
        tg.cancel_scope.cancel()


TWO_ERRORS: list[JsonObject] = [
    {"message": "first problem", "locations": [{"line": 1, "column": 3}]},
    {"message": "second problem"},
]


async def resolve(conn: FakeConnection, op: Subscribe) -> None:
    """A tiny "schema": the query text picks the behaviour."""
    machine = conn.machine
    assert machine is not None
    variables = dict(op.variables or {})
    query = op.query
    if "subscription" in query:
        machine.subscription_active(op.id)
        conn.active.add(op.id)
        conn.notify()
    if "count" in query:
        for i in range(int(str(variables.get("n", 3)))):
            await conn.send(Next(id=op.id, payload={"data": {"count": i}}))
        await conn.send(Complete(id=op.id))
    elif "ticks" in query:
        while True:
            tick = await conn.ticks[1].receive()
            await conn.send(Next(id=op.id, payload={"data": {"ticks": tick}}))
    elif "forever" in query:
        await anyio.sleep_forever()
    elif "fails" in query:
        await conn.send(Error(id=op.id, errors=TWO_ERRORS))
    elif "partial" in query:
        payload = {
            "data": {"a": 1, "b": None},
            "errors": [{"message": "b failed", "path": ["b"]}],
        }
        await conn.send(Next(id=op.id, payload=payload))
        await conn.send(Complete(id=op.id))
    else:
        if "params" in query:
            data: object = {"params": conn.init_payload}
        elif "headers" in query:
            assert conn.request is not None
            data = {"headers": conn.request.headers}
        elif "echo" in query:
            data = {"echo": variables, "operationName": op.operation_name}
        else:
            data = {"hello": "world"}
        await conn.send(Next(id=op.id, payload={"data": data}))
        await conn.send(Complete(id=op.id))
