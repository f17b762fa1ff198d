"""A ClientConnection talking to a ServerConnection, for each dialect."""

from __future__ import annotations

import json

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
    DecodeError,
    Error,
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

from .helpers import DIALECTS, LEGACY, MODERN, RESULT, START, Wire, client_in, server_in

READY = ConnectionState.READY
CLOSED = ConnectionState.CLOSED


def _wire(
    subprotocol: Subprotocol,
    server_config: ServerConfig | None = None,
    client_config: ClientConfig | None = None,
    now: float = 0.0,
) -> Wire:
    return Wire(
        client=ClientConnection(
            subprotocol, client_config or ClientConfig(ack_timeout=None), now=now
        ),
        server=ServerConnection(
            subprotocol, server_config or ServerConfig(init_timeout=None), now=now
        ),
    )


def _connected(
    subprotocol: Subprotocol,
    server_config: ServerConfig | None = None,
    client_config: ClientConfig | None = None,
) -> Wire:
    wire = _wire(subprotocol, server_config, client_config)
    wire.client.send(ConnectionInit(payload={"token": "t"}))
    assert wire.pump(1.0) == ([], [ConnectionInit(payload={"token": "t"})])
    wire.server.send(ConnectionAck(payload={"session": 1}))
    client_events, _ = wire.pump(1.0)
    assert client_events[0] == ConnectionAck(payload={"session": 1})
    assert wire.client.state is READY
    assert wire.server.state is READY
    return wire


@pytest.mark.parametrize("subprotocol", DIALECTS)
@pytest.mark.parametrize(
    "query", ["query Q { a }", "mutation M($x: Int) { set(x: $x) }"], ids=["query", "mutation"]
)
def test_single_result_operation_round_trip(subprotocol: Subprotocol, query: str) -> None:
    wire = _connected(subprotocol)
    subscribe = Subscribe(id="1", query=query, variables={"x": 1}, operation_name="Q")
    wire.client.send(subscribe)
    assert wire.pump(2.0) == ([], [subscribe])
    wire.server.send(Next(id="1", payload={"data": {"a": 1}}))
    wire.server.send(Complete(id="1"))
    assert wire.pump(2.0) == ([Next(id="1", payload={"data": {"a": 1}}), Complete(id="1")], [])
    assert wire.client.active_operations == frozenset()
    assert wire.server.active_operations == frozenset()
    # The id is free again on both sides.
    wire.client.send(Subscribe(id="1", query="{ b }"))
    assert wire.pump(3.0) == ([], [Subscribe(id="1", query="{ b }")])


@pytest.mark.parametrize("confirm", [False, True])
@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_subscription_with_many_results(subprotocol: Subprotocol, confirm: bool) -> None:
    wire = _connected(subprotocol, ServerConfig(init_timeout=None, confirm_subscriptions=confirm))
    wire.client.send(Subscribe(id="s", query="subscription { tick }"))
    wire.pump(2.0)
    wire.server.subscription_active("s")
    for n in range(20):
        wire.server.send(Next(id="s", payload={"data": {"tick": n}}))
    wire.server.send(Complete(id="s"))
    client_events, server_events = wire.pump(3.0)
    expected = [Next(id="s", payload={"data": {"tick": n}}) for n in range(20)]
    if confirm:
        expected.insert(0, Next(id="s", payload={"data": None}))
    assert client_events == [*expected, Complete(id="s")]
    assert server_events == []


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_cancels_a_subscription(subprotocol: Subprotocol) -> None:
    wire = _connected(subprotocol)
    wire.client.send(Subscribe(id="s", query="subscription { tick }"))
    wire.pump(2.0)
    wire.server.subscription_active("s")
    wire.server.send(Next(id="s", payload={"data": {"tick": 1}}))
    wire.client.send(Complete(id="s"))
    # The result and the cancel cross on the wire.
    client_events, server_events = wire.pump(3.0)
    assert client_events == []  # the result came after the client let go
    assert server_events == [Complete(id="s")]
    assert wire.server.active_operations == frozenset()
    # The server's late results go nowhere.
    wire.server.send(Next(id="s", payload={"data": {"tick": 2}}))
    wire.server.send(Complete(id="s"))
    assert wire.pump(4.0) == ([], [])
    cancel = "complete" if subprotocol is MODERN else "stop"
    sent_by_client = [json.loads(f) for f in wire.to_server if isinstance(f, str)]
    start = "subscribe" if subprotocol is MODERN else "start"
    assert [m["type"] for m in sent_by_client if m.get("id") == "s"] == [start, cancel]
    # Legacy: the server confirmed the stop with `complete`, which the client ignored.
    sent_by_server = [json.loads(f) for f in wire.to_client if isinstance(f, str)]
    ends = [m for m in sent_by_server if m.get("id") == "s" and m["type"] == "complete"]
    assert len(ends) == (1 if subprotocol is LEGACY else 0)


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_server_ends_a_subscription_and_the_client_sends_nothing_more(
    subprotocol: Subprotocol,
) -> None:
    wire = _connected(subprotocol)
    wire.client.send(Subscribe(id="s", query="subscription { tick }"))
    wire.pump(2.0)
    wire.server.subscription_active("s")
    wire.server.send(Complete(id="s"))
    assert wire.pump(3.0) == ([Complete(id="s")], [])
    frames_before = len(wire.to_server)
    wire.client.send(Complete(id="s"))
    assert wire.pump(4.0) == ([], [])
    assert len(wire.to_server) == frames_before


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_operation_errors_reach_the_client_as_a_list(subprotocol: Subprotocol) -> None:
    wire = _connected(subprotocol)
    wire.client.send(Subscribe(id="1", query="{ nope }"))
    wire.client.send(Subscribe(id="2", query="{ nope nope }"))
    wire.pump(2.0)
    one: list[dict[str, object]] = [
        {"message": "Cannot query field 'nope'.", "locations": [{"line": 1, "column": 3}]}
    ]
    two: list[dict[str, object]] = [{"message": "a"}, {"message": "b", "path": ["x"]}]
    wire.server.send(Error(id="1", errors=one))
    wire.server.send(Error(id="2", errors=two))
    client_events, _ = wire.pump(3.0)
    assert client_events == [Error(id="1", errors=one), Error(id="2", errors=two)]
    assert wire.client.active_operations == frozenset()
    # Error is terminal: nothing more for either id.
    wire.server.send(Complete(id="1"))
    assert wire.pump(4.0) == ([], [])


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_interleaved_operations_keep_their_own_order(subprotocol: Subprotocol) -> None:
    wire = _connected(subprotocol)
    for op_id in ("a", "b"):
        wire.client.send(Subscribe(id=op_id, query="subscription { tick }"))
    wire.pump(2.0)
    for op_id in ("a", "b"):
        wire.server.subscription_active(op_id)
    for n in range(3):
        for op_id in ("b", "a"):
            wire.server.send(Next(id=op_id, payload={"data": {"n": n}}))
    client_events, _ = wire.pump(3.0)
    for op_id in ("a", "b"):
        mine = [e for e in client_events if isinstance(e, Next) and e.id == op_id]
        assert [e.payload for e in mine] == [{"data": {"n": n}} for n in range(3)]


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_subscribe_before_the_ack_is_delivered_after_it(subprotocol: Subprotocol) -> None:
    wire = _wire(subprotocol)
    wire.client.send(ConnectionInit())
    wire.client.send(Subscribe(id="early", query="{ a }"))
    assert wire.pump(1.0) == ([], [ConnectionInit()])
    wire.server.send(ConnectionAck())
    assert wire.pump(2.0) == ([ConnectionAck()], [Subscribe(id="early", query="{ a }")])


def _circular() -> dict[str, object]:
    loop: dict[str, object] = {}
    loop["self"] = loop
    return loop


@pytest.mark.parametrize("state", [ConnectionState.IDLE, ConnectionState.INITIALIZING])
@pytest.mark.parametrize(
    ("variables", "cause"),
    [
        ({"x": object()}, TypeError),
        ({"x": float("nan")}, ValueError),
        ({"x": float("inf")}, ValueError),
        (_circular(), RecursionError),
    ],
    ids=["object", "nan", "inf", "circular"],
)
@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_unencodable_subscribe_before_the_ack_fails_at_send_and_claims_no_id(
    subprotocol: Subprotocol,
    variables: dict[str, object],
    cause: type[Exception],
    state: ConnectionState,
) -> None:
    wire = _wire(subprotocol)
    if state is ConnectionState.INITIALIZING:
        wire.client.send(ConnectionInit())
    with pytest.raises(LocalProtocolError, match="cannot encode Subscribe") as info:
        wire.client.send(Subscribe(id="early", query="{ a }", variables=variables))
    assert isinstance(info.value.__cause__, cause)
    # Nothing claimed, nothing held: the id is free and the connection unharmed.
    assert wire.client.active_operations == frozenset()
    assert wire.client.state is state
    wire.client.send(Subscribe(id="early", query="{ a }", variables={"x": 1}))
    assert wire.client.active_operations == frozenset({"early"})
    if state is ConnectionState.IDLE:
        wire.client.send(ConnectionInit())
    assert wire.pump(1.0) == ([], [ConnectionInit()])
    wire.server.send(ConnectionAck())
    # Only the valid subscribe goes out after the ack.
    assert wire.pump(2.0) == (
        [ConnectionAck()],
        [Subscribe(id="early", query="{ a }", variables={"x": 1})],
    )
    assert wire.server.active_operations == frozenset({"early"})


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_held_subscribe_is_encoded_when_sent_not_at_the_ack(subprotocol: Subprotocol) -> None:
    # The variables change after `send()`: the frame keeps what was sent.
    variables: dict[str, object] = {"x": 1}
    wire = _wire(subprotocol)
    wire.client.send(ConnectionInit())
    wire.client.send(Subscribe(id="early", query="{ a }", variables=variables))
    variables["x"] = object()
    wire.pump(1.0)
    wire.server.send(ConnectionAck())
    assert wire.pump(2.0) == (
        [ConnectionAck()],
        [Subscribe(id="early", query="{ a }", variables={"x": 1})],
    )


def test_both_ping_schedules_count_from_the_ack() -> None:
    wire = _wire(
        MODERN,
        server_config=ServerConfig(init_timeout=None, ping_interval=10),
        client_config=ClientConfig(ack_timeout=None, ping_interval=10),
        now=0.0,
    )
    wire.client.send(ConnectionInit())
    wire.pump(4.0)
    # A slow on_connect hook: the ack reaches the client at 6. The server's
    # latest time is the init's, 4.
    wire.server.send(ConnectionAck())
    assert wire.pump(6.0) == ([ConnectionAck()], [])
    assert wire.server.next_deadline() == 14.0
    assert wire.client.next_deadline() == 16.0
    assert wire.tick(10.0) == ([], [])
    assert wire.tick(14.0) == ([Ping()], [Pong()])
    assert wire.tick(16.0) == ([Pong()], [Ping()])
    assert wire.server.next_deadline() == 24.0
    assert wire.client.next_deadline() == 26.0


# A peer's huge garbage: the error texts stay short.

_HUGE = "x" * 100_000
_SHORT = 200

#: Wrong types and ids that are huge; the frame is built per dialect and role.
_GARBAGE: dict[str, tuple[str, object]] = {
    "long-type": ("type", _HUGE),
    "type-list": ("type", [_HUGE]),
    "type-object": ("type", {"k": _HUGE}),
    "id-list": ("id", [_HUGE]),
    "id-object": ("id", {"k": _HUGE}),
    "id-long-list": ("id", list(range(10_000))),
    "id-big-int": ("id", int("9" * 4000)),
}


def _garbage(subprotocol: Subprotocol, role: Role, kind: str) -> str:
    """A frame `role` receives whose type or id is huge and wrong."""
    field, value = _GARBAGE[kind]
    if role is Role.SERVER:
        msg: dict[str, object] = {"type": START[subprotocol], "payload": {"query": "{ a }"}}
    else:
        msg = {"type": RESULT[subprotocol], "payload": {"data": None}}
    msg["id"] = "1"
    msg[field] = value
    return json.dumps(msg)


@pytest.mark.parametrize("kind", list(_GARBAGE))
@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_codec_error_text_for_a_huge_bad_type_or_id_stays_short(
    subprotocol: Subprotocol, role: Role, kind: str
) -> None:
    with pytest.raises(DecodeError) as info:
        Codec(subprotocol, role).decode(_garbage(subprotocol, role, kind))
    message = str(info.value)
    assert len(message) < _SHORT, message[:300]


@pytest.mark.parametrize("kind", list(_GARBAGE))
@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_server_error_text_for_a_huge_bad_type_or_id_stays_short(
    subprotocol: Subprotocol, kind: str
) -> None:
    server = server_in(subprotocol, READY)
    text = _garbage(subprotocol, Role.SERVER, kind)
    if subprotocol is LEGACY:
        # The legacy answer is an `error` message; the socket stays.
        assert server.receive_text(text, 1.0) == []
        [reply] = server.data_to_send()
        assert isinstance(reply, str)
        assert len(reply) < _SHORT, reply[:300]
        assert server.state is READY
    else:
        with pytest.raises(RemoteProtocolError) as info:
            server.receive_text(text, 1.0)
        message = str(info.value)
        assert len(message) < _SHORT, message[:300]
        assert server.data_to_send() == [CloseFrame(4400, message)]


@pytest.mark.parametrize("kind", list(_GARBAGE))
@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_error_text_for_a_huge_bad_type_or_id_stays_short(
    subprotocol: Subprotocol, kind: str
) -> None:
    client = client_in(subprotocol, READY)
    with pytest.raises(RemoteProtocolError) as info:
        client.receive_text(_garbage(subprotocol, Role.CLIENT, kind), 1.0)
    message = str(info.value)
    assert len(message) < _SHORT, message[:300]
    [frame] = client.data_to_send()
    assert isinstance(frame, CloseFrame)
    assert frame.code == 4004


def test_modern_pings_are_answered_both_ways() -> None:
    wire = _connected(MODERN)
    wire.client.send(Ping(payload={"c": 1}))
    wire.server.send(Ping(payload={"s": 1}))
    client_events, server_events = wire.pump(2.0)
    assert client_events == [Ping(payload={"s": 1}), Pong(payload={"c": 1})]
    assert server_events == [Ping(payload={"c": 1}), Pong(payload={"s": 1})]


def test_modern_rejection_closes_4403() -> None:
    wire = _wire(MODERN)
    wire.client.send(ConnectionInit(payload={"token": "bad"}))
    wire.pump(1.0)
    wire.server.send(ConnectionRejected(reason="bad token"))
    client_events, _ = wire.pump(1.0)
    assert client_events == [ConnectionClosed(code=4403, reason="bad token")]
    assert wire.client.state is CLOSED


def test_legacy_rejection_sends_connection_error_then_4403() -> None:
    wire = _wire(LEGACY)
    wire.client.send(ConnectionInit(payload={"token": "bad"}))
    wire.client.send(Subscribe(id="1", query="{ a }"))
    wire.pump(1.0)
    wire.server.send(ConnectionRejected(reason="bad token"))
    client_events, server_events = wire.pump(1.0)
    assert client_events == [
        ConnectionRejected(payload={"message": "bad token"}, reason="bad token"),
        ConnectionClosed(code=4403, reason="bad token"),
    ]
    # The server had already closed; the client's close reaches a closed machine.
    assert server_events == []
    assert wire.client.state is CLOSED
    assert wire.server.state is CLOSED
    assert wire.to_client[-1] == CloseFrame(4403, "bad token")


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_client_close_ends_the_server_side(subprotocol: Subprotocol) -> None:
    wire = _connected(subprotocol)
    wire.client.send(Subscribe(id="1", query="{ a }"))
    wire.pump(2.0)
    wire.client.close()
    _, server_events = wire.pump(3.0)
    if subprotocol is LEGACY:
        # `connection_terminate` arrives first and closes the server.
        assert server_events == [ConnectionClosed(code=1000, reason="connection_terminate")]
        assert wire.to_client[-1] == CloseFrame(1000, "connection_terminate")
    else:
        assert server_events == [ConnectionClosed(code=1000)]
    assert wire.server.state is CLOSED
    assert wire.server.active_operations == frozenset()


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_server_close_reaches_the_client(subprotocol: Subprotocol) -> None:
    wire = _connected(subprotocol)
    wire.server.close(1001, "Going away")
    assert wire.pump(2.0) == ([ConnectionClosed(code=1001, reason="Going away")], [])
    assert wire.client.state is CLOSED


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_init_timeout_over_the_wire(subprotocol: Subprotocol) -> None:
    wire = _wire(subprotocol, server_config=ServerConfig(init_timeout=3), now=10.0)
    assert wire.server.next_deadline() == 13.0
    assert wire.tick(12.9) == ([], [])
    client_events, server_events = wire.tick(13.0)
    assert server_events == [
        ConnectionClosed(code=4408, reason="Connection initialisation timeout")
    ]
    assert client_events == [
        ConnectionClosed(code=4408, reason="Connection initialisation timeout")
    ]


@pytest.mark.parametrize("subprotocol", DIALECTS)
def test_ack_timeout_over_the_wire(subprotocol: Subprotocol) -> None:
    wire = _wire(subprotocol, client_config=ClientConfig(ack_timeout=5), now=0.0)
    wire.client.send(ConnectionInit())
    wire.pump(0.0)
    # The server's on_connect hook never finishes: no ack.
    assert wire.tick(4.0) == ([], [])
    client_events, server_events = wire.tick(5.0)
    assert client_events == [
        ConnectionClosed(code=4504, reason="Connection acknowledgement timeout")
    ]
    # A timeout is not a clean shutdown: no legacy `connection_terminate`.
    assert all(isinstance(f, CloseFrame) or "terminate" not in f for f in wire.to_server)
    assert server_events == [
        ConnectionClosed(code=4504, reason="Connection acknowledgement timeout")
    ]
    assert wire.to_server[-1] == CloseFrame(4504, "Connection acknowledgement timeout")


def test_modern_client_ping_answered_by_the_server_keeps_the_connection() -> None:
    client_config = ClientConfig(ack_timeout=None, ping_interval=10, pong_timeout=2)
    wire = _connected(MODERN, client_config=client_config)
    # The client got the ack at 1: pings at 11, 21, 31.
    assert wire.tick(10.9) == ([], [])
    for now in (11.0, 21.0, 31.0):
        assert wire.client.next_deadline() == now
        client_events, server_events = wire.tick(now)
        assert server_events == [Ping()]
        assert client_events == [Pong()]
    assert wire.client.state is READY


def test_modern_client_ping_timeout_over_the_wire() -> None:
    client_config = ClientConfig(ack_timeout=None, ping_interval=10, pong_timeout=2)
    wire = _connected(MODERN, client_config=client_config)
    wire.client.handle_timeout(11.0)
    # The ping is lost on the way.
    assert wire.client.data_to_send() == ['{"type":"ping"}']
    assert wire.tick(12.9) == ([], [])
    client_events, server_events = wire.tick(13.0)
    [closed] = client_events
    assert isinstance(closed, ConnectionClosed)
    assert closed.code == 4499
    assert server_events == [ConnectionClosed(code=4499, reason=closed.reason)]


def test_modern_server_ping_timeout_over_the_wire() -> None:
    server_config = ServerConfig(init_timeout=None, ping_interval=10, pong_timeout=2)
    wire = _connected(MODERN, server_config=server_config)
    # Acked at 1 (the init's time): pings at 11, 21.
    assert wire.tick(10.9) == ([], [])
    # Answered pings keep the connection.
    assert wire.tick(11.0) == ([Ping()], [Pong()])
    # A lost ping closes it with 1001.
    wire.server.handle_timeout(21.0)
    assert wire.server.data_to_send() == ['{"type":"ping"}']
    assert wire.tick(22.9) == ([], [])
    client_events, server_events = wire.tick(23.0)
    [closed] = server_events
    assert isinstance(closed, ConnectionClosed)
    assert closed.code == 1001
    assert client_events == [ConnectionClosed(code=1001, reason=closed.reason)]


def test_legacy_keepalive_feeds_the_client_watchdog() -> None:
    wire = _wire(
        LEGACY,
        server_config=ServerConfig(init_timeout=None, ping_interval=10),
        client_config=ClientConfig(ack_timeout=None, keepalive_timeout=15),
    )
    wire.client.send(ConnectionInit())
    wire.pump(1.0)
    wire.server.send(ConnectionAck())
    # The ack and the first `ka` arrive together.
    assert wire.pump(1.0) == ([ConnectionAck(), Pong()], [])
    assert wire.client.next_deadline() == 16.0
    # Acked at 1: the next `ka` goes out at 11, then every 10 s.
    assert wire.server.next_deadline() == 11.0
    assert wire.tick(10.9) == ([], [])
    for now in (11.0, 21.0, 31.0):
        assert wire.tick(now) == ([Pong()], [])
        assert wire.client.next_deadline() == now + 15
    # The server goes silent (its timer is never fired again).
    assert wire.client.handle_timeout(45.9) == []
    [closed] = wire.client.handle_timeout(46.0)
    assert isinstance(closed, ConnectionClosed)
    assert closed.code == 4499
    _, server_events = wire.pump(46.0)
    assert server_events == [ConnectionClosed(code=4499, reason=closed.reason)]
