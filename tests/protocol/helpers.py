"""Shared drivers for the protocol-core tests: build states by driving the
machines, and wire a client to a server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gqlws_protocol import (
    ClientConfig,
    ClientConnection,
    CloseFrame,
    ConnectionAck,
    ConnectionInit,
    ConnectionState,
    Event,
    Frame,
    ServerConfig,
    ServerConnection,
    Subprotocol,
    Subscribe,
)

MODERN = Subprotocol.GRAPHQL_TRANSPORT_WS
LEGACY = Subprotocol.GRAPHQL_WS
DIALECTS = [MODERN, LEGACY]

#: The wire name of a client's operation start, per dialect.
START = {MODERN: "subscribe", LEGACY: "start"}
#: The wire name of a server's operation result, per dialect.
RESULT = {MODERN: "next", LEGACY: "data"}
#: The wire name of a client's operation cancel, per dialect.
CANCEL = {MODERN: "complete", LEGACY: "stop"}

MAX_REASON_BYTES = 123


def subscribe_text(subprotocol: Subprotocol, op_id: str, query: str = "{ a }") -> str:
    """A valid operation start, as a client writes it."""
    return json.dumps({"type": START[subprotocol], "id": op_id, "payload": {"query": query}})


def cancel_text(subprotocol: Subprotocol, op_id: str) -> str:
    """A valid operation cancel, as a client writes it."""
    return json.dumps({"type": CANCEL[subprotocol], "id": op_id})


def server_in(
    subprotocol: Subprotocol,
    state: ConnectionState,
    config: ServerConfig | None = None,
    *,
    now: float = 0.0,
    operations: tuple[str, ...] = (),
) -> ServerConnection:
    """A server driven into `state` through its public API, outbox drained.

    In READY, `operations` are started by the client and left pending.
    """
    server = ServerConnection(subprotocol, config or ServerConfig(init_timeout=None), now=now)
    if state is not ConnectionState.IDLE:
        server.receive_text('{"type":"connection_init"}', now)
    if state in (ConnectionState.READY, ConnectionState.CLOSED):
        server.send(ConnectionAck())
        for op_id in operations:
            server.receive_text(subscribe_text(subprotocol, op_id), now)
    if state is ConnectionState.CLOSED:
        server.receive_close(1000)
    server.data_to_send()
    assert server.state is state
    return server


def client_in(
    subprotocol: Subprotocol,
    state: ConnectionState,
    config: ClientConfig | None = None,
    *,
    now: float = 0.0,
    operations: tuple[str, ...] = (),
) -> ClientConnection:
    """A client driven into `state` through its public API, outbox drained.

    In READY, `operations` are subscribed (sent to the server).
    """
    client = ClientConnection(subprotocol, config or ClientConfig(ack_timeout=None), now=now)
    if state is not ConnectionState.IDLE:
        client.send(ConnectionInit())
    if state in (ConnectionState.READY, ConnectionState.CLOSED):
        client.receive_text('{"type":"connection_ack"}', now)
        for op_id in operations:
            client.send(Subscribe(id=op_id, query="{ a }"))
    if state is ConnectionState.CLOSED:
        client.receive_close(1000)
    client.data_to_send()
    assert client.state is state
    return client


def state_of(machine: ServerConnection | ClientConnection) -> ConnectionState:
    """The machine's state, read afresh (mypy keeps narrowing a property)."""
    return machine.state


def check_close_frames(frames: list[Frame]) -> None:
    """At most one close frame, always last, its reason within 123 bytes."""
    closes = [i for i, frame in enumerate(frames) if isinstance(frame, CloseFrame)]
    assert len(closes) <= 1, frames
    if closes:
        assert closes[0] == len(frames) - 1, frames
        reason = frames[-1].reason  # type: ignore[union-attr]
        assert len(reason.encode()) <= MAX_REASON_BYTES


@dataclass
class Wire:
    """A client and a server joined by an in-memory socket.

    `pump()` moves frames both ways until neither side has anything to send,
    recording every frame on the wire and every event each side reported.
    """

    client: ClientConnection
    server: ServerConnection
    client_events: list[Event] = field(default_factory=list)
    server_events: list[Event] = field(default_factory=list)
    to_server: list[Frame] = field(default_factory=list)
    to_client: list[Frame] = field(default_factory=list)

    def pump(self, now: float) -> tuple[list[Event], list[Event]]:
        """Deliver everything queued; return (client events, server events)."""
        client_events: list[Event] = []
        server_events: list[Event] = []
        while True:
            from_client = self.client.data_to_send()
            from_server = self.server.data_to_send()
            if not from_client and not from_server:
                break
            self.to_server += from_client
            self.to_client += from_server
            for frame in from_client:
                if isinstance(frame, CloseFrame):
                    server_events += self.server.receive_close(frame.code, frame.reason)
                else:
                    server_events += self.server.receive_text(frame, now)
            for frame in from_server:
                if isinstance(frame, CloseFrame):
                    client_events += self.client.receive_close(frame.code, frame.reason)
                else:
                    client_events += self.client.receive_text(frame, now)
        check_close_frames(self.to_server)
        check_close_frames(self.to_client)
        self.client_events += client_events
        self.server_events += server_events
        return client_events, server_events

    def tick(self, now: float) -> tuple[list[Event], list[Event]]:
        """Fire both machines' timers at `now`, then pump."""
        client_events = self.client.handle_timeout(now)
        server_events = self.server.handle_timeout(now)
        pumped_client, pumped_server = self.pump(now)
        return client_events + pumped_client, server_events + pumped_server
