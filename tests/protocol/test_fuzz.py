"""Hypothesis over (state x incoming frame): random lives of both machines.

Valid frames (what the peer's codec writes for random peer events), invalid
frames (random envelopes), garbage text, our own `send()` of random events,
timers with increasing `now`, and closes from both ends. Whatever happens:

* `receive_text` / `receive_bytes` raise nothing but `RemoteProtocolError`; after one, the
  state is CLOSED and the outbox ends with exactly its close frame;
* `send` raises nothing but `LocalProtocolError`, and then changes nothing;
* every other verb raises nothing;
* over the whole life, at most one close frame leaves, and it is the last;
* every text frame is valid UTF-8 and a message the peer's codec accepts.
"""

from __future__ import annotations

import json
import math

import pytest
from gqlws_protocol import (
    ClientConfig,
    ClientConnection,
    CloseFrame,
    Codec,
    Complete,
    ConnectionAck,
    ConnectionClosed,
    ConnectionInit,
    ConnectionRejected,
    ConnectionState,
    Error,
    Event,
    Frame,
    LocalProtocolError,
    Next,
    Ping,
    Pong,
    RemoteProtocolError,
    Role,
    ServerConfig,
    ServerConnection,
    Subprotocol,
    Subscribe,
)
from gqlws_protocol._codec import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import DIALECTS, LEGACY, check_close_frames

IDS = st.sampled_from(["1", "2", "3"])
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    # Lone surrogates: json.dumps escapes them, json.loads gives them back.
    | st.sampled_from(["\ud800", "x\udfff", "é"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=3)
optional_objects = st.none() | json_objects
errors = st.lists(
    st.fixed_dictionaries({"message": st.text(max_size=8)}, optional={"path": json_values}),
    min_size=1,
    max_size=3,
)

client_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(ConnectionInit, payload=optional_objects),
    st.builds(Ping, payload=optional_objects),
    st.builds(Pong, payload=optional_objects),
    st.builds(
        Subscribe,
        id=IDS,
        query=st.text(max_size=10),
        variables=optional_objects,
        operation_name=st.none() | st.text(max_size=4),
        extensions=optional_objects,
    ),
    st.builds(Complete, id=IDS),
    st.builds(ConnectionClosed, code=st.just(1000)),
)
server_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(ConnectionAck, payload=optional_objects),
    st.builds(ConnectionRejected, payload=optional_objects, reason=st.text(max_size=200)),
    st.builds(Ping, payload=optional_objects),
    st.builds(Pong, payload=optional_objects),
    st.builds(Next, id=IDS, payload=json_objects),
    st.builds(Error, id=IDS, errors=errors | st.just([])),
    st.builds(Complete, id=IDS),
)

WIRE_TYPES = [
    "connection_init",
    "connection_ack",
    "connection_error",
    "connection_terminate",
    "ka",
    "ping",
    "pong",
    "subscribe",
    "start",
    "next",
    "data",
    "error",
    "complete",
    "stop",
    "",
    "bogus",
]


@st.composite
def envelopes(draw: st.DrawFn) -> str:
    """A JSON object shaped like a message, with any field wrong or missing."""
    message: dict[str, object] = {}
    if draw(st.booleans()):
        message["type"] = draw(st.sampled_from(WIRE_TYPES) | json_values)
    if draw(st.booleans()):
        message["id"] = draw(IDS | json_values)
    if draw(st.booleans()):
        message["payload"] = draw(
            json_values
            | st.fixed_dictionaries(
                {"query": st.text(max_size=5) | json_values},
                optional={"variables": json_values, "operationName": json_values},
            )
            | st.lists(st.fixed_dictionaries({"message": json_values}), max_size=2)
        )
    return json.dumps(message)


garbage = st.text(max_size=20) | json_values.map(json.dumps)


def _incoming(peer_events: st.SearchStrategy[Event]) -> st.SearchStrategy[tuple[str, object]]:
    return st.one_of(
        st.tuples(st.just("valid"), peer_events),
        st.tuples(st.just("text"), envelopes()),
        st.tuples(st.just("text"), garbage),
        st.tuples(st.just("bytes"), st.binary(max_size=10)),
    )


def _actions(role: Role) -> st.SearchStrategy[list[tuple[str, object]]]:
    own, peer = (
        (server_events, client_events) if role is Role.SERVER else (client_events, server_events)
    )
    action = st.one_of(
        _incoming(peer),
        _incoming(peer),
        st.tuples(st.just("send"), own),
        st.tuples(st.just("timeout"), st.floats(0, 12)),
        st.tuples(st.just("active"), IDS),
        st.tuples(st.just("flush"), st.none()),
        st.tuples(st.just("close"), st.sampled_from([1000, 1001, 4400])),
        st.tuples(st.just("peer_close"), st.none() | st.sampled_from([1000, 1006, 4400])),
    )
    return st.lists(action, max_size=40)


timeouts = st.none() | st.sampled_from([0.5, 3.0, 10.0])


@st.composite
def server_configs(draw: st.DrawFn) -> ServerConfig:
    ping = draw(timeouts)
    return ServerConfig(
        init_timeout=draw(timeouts),
        ping_interval=ping,
        pong_timeout=draw(timeouts) if ping is not None else None,
        confirm_subscriptions=draw(st.booleans()),
        max_operations=draw(st.sampled_from([None, 1, 2, 3])),
    )


@st.composite
def client_configs(draw: st.DrawFn) -> ClientConfig:
    ping = draw(timeouts)
    return ClientConfig(
        ack_timeout=draw(timeouts),
        ping_interval=ping,
        pong_timeout=draw(timeouts) if ping is not None else None,
        keepalive_timeout=draw(timeouts),
    )


class Life:
    """One connection's life, with the invariants checked at every step."""

    def __init__(self, machine: ServerConnection | ClientConnection, role: Role) -> None:
        self.machine = machine
        self.role = role
        peer = Role.CLIENT if role is Role.SERVER else Role.SERVER
        self.peer_codec = Codec(machine.subprotocol, peer)
        self.sent: list[Frame] = []
        self.now = 0.0

    def drain(self) -> list[Frame]:
        batch = self.machine.data_to_send()
        self.sent += batch
        check_close_frames(self.sent)
        for frame in batch:
            if isinstance(frame, str):
                self._check_text(frame)
        return batch

    def _check_text(self, frame: str) -> None:
        frame.encode()  # a WebSocket text frame must be valid UTF-8
        message = json.loads(frame)
        assert isinstance(message, dict)
        assert isinstance(message["type"], str)
        legacy_reply = (
            self.role is Role.SERVER
            and self.machine.subprotocol is LEGACY
            and message["type"] == "error"
            and "id" not in message
        )
        if legacy_reply:
            # The legacy answer to a bad frame that had no usable id.
            assert isinstance(message["payload"]["message"], str)
            return
        try:
            self.peer_codec.decode(frame)
        except DecodeError as exc:  # pragma: no cover - reported as a failure
            pytest.fail(f"the peer cannot decode {frame!r}: {exc}")

    def check_state(self) -> None:
        deadline = self.machine.next_deadline()
        if self.machine.state is ConnectionState.CLOSED:
            assert deadline is None
            assert self.machine.active_operations == frozenset()
        elif deadline is not None:
            assert math.isfinite(deadline)

    def receive(self, data: str | bytes) -> None:
        self.drain()
        was_closed = self.machine.state is ConnectionState.CLOSED
        try:
            if isinstance(data, bytes):
                events = self.machine.receive_bytes(data, self.now)
            else:
                events = self.machine.receive_text(data, self.now)
        except RemoteProtocolError as exc:
            assert not was_closed
            assert self.machine.state is ConnectionState.CLOSED
            batch = self.drain()
            assert batch, "no close frame queued"
            assert batch[-1] == CloseFrame(exc.code, exc.reason)
            assert sum(isinstance(f, CloseFrame) for f in batch) == 1
        else:
            assert isinstance(events, list)
            if was_closed:
                assert events == []
                assert self.drain() == []

    def send(self, event: Event) -> None:
        self.drain()
        state = self.machine.state
        operations = self.machine.active_operations
        try:
            self.machine.send(event)
        except LocalProtocolError:
            # Our own misuse: nothing was queued, nothing changed.
            assert self.machine.data_to_send() == []
            assert self.machine.state is state
            assert self.machine.active_operations == operations

    def run(self, actions: list[tuple[str, object]]) -> None:
        for kind, arg in actions:
            if kind == "valid":
                assert isinstance(
                    arg,
                    (
                        ConnectionInit,
                        ConnectionAck,
                        ConnectionRejected,
                        Ping,
                        Pong,
                        Subscribe,
                        Next,
                        Error,
                        Complete,
                        ConnectionClosed,
                    ),
                )
                try:
                    text = self.peer_codec.encode(arg)
                except LocalProtocolError:
                    continue  # the peer never sends that in this dialect
                self.receive(text)
            elif kind in ("text", "bytes"):
                assert isinstance(arg, (str, bytes))
                self.receive(arg)
            elif kind == "send":
                self.send(arg)  # type: ignore[arg-type]
            elif kind == "timeout":
                assert isinstance(arg, float)
                self.now += arg
                events = self.machine.handle_timeout(self.now)
                assert all(isinstance(e, ConnectionClosed) for e in events)
            elif kind == "active":
                if isinstance(self.machine, ServerConnection):
                    self.machine.subscription_active(str(arg))
            elif kind == "close":
                assert isinstance(arg, int)
                self.machine.close(arg)
            elif kind == "peer_close":
                self.machine.receive_close(arg)  # type: ignore[arg-type]
            self.drain()
            self.check_state()


FUZZ_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("subprotocol", DIALECTS)
@FUZZ_SETTINGS
@given(data=st.data())
def test_server_survives_any_sequence(subprotocol: Subprotocol, data: st.DataObject) -> None:
    config = data.draw(server_configs())
    life = Life(ServerConnection(subprotocol, config, now=0.0), Role.SERVER)
    life.run(data.draw(_actions(Role.SERVER)))


@pytest.mark.parametrize("subprotocol", DIALECTS)
@FUZZ_SETTINGS
@given(data=st.data())
def test_client_survives_any_sequence(subprotocol: Subprotocol, data: st.DataObject) -> None:
    config = data.draw(client_configs())
    life = Life(ClientConnection(subprotocol, config, now=0.0), Role.CLIENT)
    life.run(data.draw(_actions(Role.CLIENT)))


# Operation traffic, weighted towards what keeps a connection alive.
client_operation_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(Subscribe, id=IDS, query=st.just("{ a }")),
    st.builds(Subscribe, id=IDS, query=st.just("{ a }")),
    st.builds(Complete, id=IDS),
    st.builds(Ping),
    st.builds(Pong),
)
server_operation_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(Next, id=IDS, payload=st.just({"data": None})),
    st.builds(Next, id=IDS, payload=st.just({"data": None})),
    st.builds(Error, id=IDS, errors=errors),
    st.builds(Complete, id=IDS),
    st.builds(Ping),
    st.builds(Pong),
)


@st.composite
def _handshaken_actions(draw: st.DrawFn, role: Role) -> list[tuple[str, object]]:
    # Most random lives die early on a bad frame; these start with (part of)
    # a proper handshake and mostly valid traffic, to reach deep states.
    if role is Role.SERVER:
        handshake: list[tuple[str, object]] = [
            ("valid", ConnectionInit()),
            ("send", ConnectionAck()),
        ]
        peer, own = client_operation_events, server_events
    else:
        handshake = [("send", ConnectionInit()), ("valid", ConnectionAck())]
        peer, own = server_operation_events, client_events
    prefix = handshake[: draw(st.sampled_from([2, 2, 2, 1, 0]))]
    body = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("valid"), peer),
                st.tuples(st.just("valid"), peer),
                st.tuples(st.just("valid"), peer),
                st.tuples(st.just("send"), own),
                st.tuples(st.just("send"), own),
                st.tuples(st.just("active"), IDS),
                st.tuples(st.just("timeout"), st.floats(0, 4)),
                st.tuples(st.just("text"), envelopes()),
            ),
            min_size=10,
            max_size=40,
        )
    )
    return prefix + body


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT], ids=lambda r: r.value)
@pytest.mark.parametrize("subprotocol", DIALECTS)
@FUZZ_SETTINGS
@given(data=st.data())
def test_connected_machines_survive_mostly_valid_traffic(
    subprotocol: Subprotocol, role: Role, data: st.DataObject
) -> None:
    machine: ServerConnection | ClientConnection
    if role is Role.SERVER:
        machine = ServerConnection(subprotocol, data.draw(server_configs()), now=0.0)
    else:
        machine = ClientConnection(subprotocol, data.draw(client_configs()), now=0.0)
    life = Life(machine, role)
    life.run(data.draw(_handshaken_actions(role)))
