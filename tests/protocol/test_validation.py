"""Invalid messages (reference/protocols.md A.8), one case per rule.

Modern server: close 4400. Legacy server: an `error` message, socket kept,
except a malformed `connection_init` (4400). Client, both dialects: 4004.
"""

from __future__ import annotations

import json
import sys

import pytest
from gqlws_protocol import (
    ClientConnection,
    CloseCode,
    CloseFrame,
    ConnectionState,
    Ping,
    RemoteProtocolError,
    ServerConnection,
    Subprotocol,
    Subscribe,
)

from .helpers import LEGACY, MAX_REASON_BYTES, MODERN, client_in, server_in, subscribe_text

READY = ConnectionState.READY
DEEP = "[" * 100_000

# Rules every message of both dialects obeys (A.8 rule 1, and rule 7).
ENVELOPE: list[tuple[str, str]] = [
    ("non-json", "this is not json"),
    ("truncated-json", '{"type":"ping"'),
    ("empty-text", ""),
    ("json-array", '[{"type":"ping"}]'),
    ("json-number", "1"),
    ("json-string", '"ping"'),
    ("json-null", "null"),
    ("object-without-type", '{"payload":{}}'),
    ("type-not-a-string", '{"type":1}'),
    ("type-null", '{"type":null}'),
    ("type-empty", '{"type":""}'),
    ("unknown-type", '{"type":"subscription_start"}'),
    ("deeply-nested-json", DEEP),
    ("deeply-nested-object", '{"type":"ping","payload":' + '{"a":' * 100_000),
]

# What a client may not send a server (A.8 rules 2, 3, 6, and the direction).
MODERN_FROM_CLIENT: list[tuple[str, str]] = [
    ("wrong-direction-next", '{"type":"next","id":"1","payload":{"data":null}}'),
    ("wrong-direction-error", '{"type":"error","id":"1","payload":[{"message":"x"}]}'),
    ("wrong-direction-connection-ack", '{"type":"connection_ack"}'),
    ("ping-payload-string", '{"type":"ping","payload":"x"}'),
    ("pong-payload-list", '{"type":"pong","payload":[]}'),
    ("subscribe-missing-id", '{"type":"subscribe","payload":{"query":"{ a }"}}'),
    ("subscribe-empty-id", '{"type":"subscribe","id":"","payload":{"query":"{ a }"}}'),
    ("subscribe-numeric-id", '{"type":"subscribe","id":1,"payload":{"query":"{ a }"}}'),
    ("subscribe-missing-payload", '{"type":"subscribe","id":"1"}'),
    ("subscribe-payload-list", '{"type":"subscribe","id":"1","payload":[]}'),
    ("subscribe-missing-query", '{"type":"subscribe","id":"1","payload":{}}'),
    ("subscribe-query-not-a-string", '{"type":"subscribe","id":"1","payload":{"query":1}}'),
    (
        "subscribe-variables-array",
        '{"type":"subscribe","id":"1","payload":{"query":"{ a }","variables":[]}}',
    ),
    (
        "subscribe-operation-name-not-a-string",
        '{"type":"subscribe","id":"1","payload":{"query":"{ a }","operationName":1}}',
    ),
    (
        "subscribe-extensions-not-an-object",
        '{"type":"subscribe","id":"1","payload":{"query":"{ a }","extensions":"x"}}',
    ),
    ("complete-missing-id", '{"type":"complete"}'),
    ("complete-numeric-id", '{"type":"complete","id":1}'),
]

# The legacy names of the same violations.
LEGACY_FROM_CLIENT: list[tuple[str, str]] = [
    ("wrong-direction-data", '{"type":"data","id":"1","payload":{"data":null}}'),
    ("wrong-direction-error", '{"type":"error","id":"1","payload":{"message":"x"}}'),
    ("wrong-direction-complete", '{"type":"complete","id":"1"}'),
    ("wrong-direction-connection-ack", '{"type":"connection_ack"}'),
    ("wrong-direction-ka", '{"type":"ka"}'),
    ("modern-type-subscribe", '{"type":"subscribe","id":"1","payload":{"query":"{ a }"}}'),
    ("modern-type-ping", '{"type":"ping"}'),
    ("start-missing-id", '{"type":"start","payload":{"query":"{ a }"}}'),
    ("start-empty-id", '{"type":"start","id":"","payload":{"query":"{ a }"}}'),
    ("start-numeric-id", '{"type":"start","id":1,"payload":{"query":"{ a }"}}'),
    ("start-missing-payload", '{"type":"start","id":"1"}'),
    ("start-query-not-a-string", '{"type":"start","id":"1","payload":{"query":1}}'),
    (
        "start-variables-array",
        '{"type":"start","id":"1","payload":{"query":"{ a }","variables":[]}}',
    ),
    (
        "start-operation-name-not-a-string",
        '{"type":"start","id":"1","payload":{"query":"{ a }","operationName":1}}',
    ),
    (
        "start-extensions-not-an-object",
        '{"type":"start","id":"1","payload":{"query":"{ a }","extensions":"x"}}',
    ),
    ("stop-missing-id", '{"type":"stop"}'),
    ("stop-empty-id", '{"type":"stop","id":""}'),
]

# A.8 rule 2: connection_init payload must be an object, null or absent.
BAD_INIT: list[tuple[str, str]] = [
    ("init-payload-string", '{"type":"connection_init","payload":"x"}'),
    ("init-payload-array", '{"type":"connection_init","payload":[]}'),
    ("init-payload-number", '{"type":"connection_init","payload":1}'),
    ("init-payload-true", '{"type":"connection_init","payload":true}'),
]


def _assert_closed_with(
    machine: ServerConnection | ClientConnection, exc: RemoteProtocolError, code: int
) -> None:
    assert exc.code == code
    assert len(exc.reason.encode()) <= MAX_REASON_BYTES
    frames = machine.data_to_send()
    assert frames == [CloseFrame(code, exc.reason)]
    assert machine.state is ConnectionState.CLOSED
    assert machine.next_deadline() is None
    assert machine.active_operations == frozenset()
    # Nothing more comes out of a closed connection.
    assert machine.receive_text('{"type":"ping"}', 1.0) == []
    assert machine.data_to_send() == []


@pytest.mark.parametrize(
    "text",
    [t for _, t in ENVELOPE + MODERN_FROM_CLIENT + BAD_INIT],
    ids=[n for n, _ in ENVELOPE + MODERN_FROM_CLIENT + BAD_INIT],
)
def test_modern_server_closes_4400_on_an_invalid_message(text: str) -> None:
    server = server_in(MODERN, READY, operations=("1",))
    with pytest.raises(RemoteProtocolError) as info:
        server.receive_text(text, 1.0)
    _assert_closed_with(server, info.value, CloseCode.BAD_REQUEST)


@pytest.mark.parametrize("text", [t for _, t in BAD_INIT], ids=[n for n, _ in BAD_INIT])
@pytest.mark.parametrize("subprotocol", [MODERN, LEGACY])
def test_server_closes_4400_on_a_malformed_first_connection_init(
    subprotocol: Subprotocol, text: str
) -> None:
    server = server_in(subprotocol, ConnectionState.IDLE)
    with pytest.raises(RemoteProtocolError) as info:
        server.receive_text(text, 1.0)
    _assert_closed_with(server, info.value, CloseCode.BAD_REQUEST)


def _legacy_error_reply(frame: object) -> dict[str, object]:
    assert isinstance(frame, str)
    message = json.loads(frame)
    assert message["type"] == "error"
    assert set(message) <= {"type", "id", "payload"}
    assert isinstance(message["payload"], dict)
    assert isinstance(message["payload"]["message"], str)
    assert message["payload"]["message"]
    return message  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "text",
    [t for _, t in ENVELOPE + LEGACY_FROM_CLIENT],
    ids=[n for n, _ in ENVELOPE + LEGACY_FROM_CLIENT],
)
@pytest.mark.parametrize(
    "state", [ConnectionState.IDLE, ConnectionState.INITIALIZING, READY], ids=lambda s: s.name
)
def test_legacy_server_answers_an_invalid_message_with_error_and_keeps_the_socket(
    state: ConnectionState, text: str
) -> None:
    server = server_in(LEGACY, state, operations=("1",))
    assert server.receive_text(text, 1.0) == []
    [frame] = server.data_to_send()
    _legacy_error_reply(frame)
    assert server.state is state
    # The socket still works: the next valid message gets its normal treatment.
    if state is READY:
        assert server.active_operations == {"1"}
        assert server.receive_text(subscribe_text(LEGACY, "2"), 2.0) == [
            Subscribe(id="2", query="{ a }")
        ]
    else:
        assert server.receive_text('{"type":"stop","id":"9"}', 2.0) == []
    assert server.data_to_send() == []


@pytest.mark.parametrize(
    ("text", "op_id"),
    [
        ('{"type":"start","id":"7","payload":{"query":1}}', "7"),
        ('{"type":"start","id":"7","payload":{"query":"{ a }","variables":[]}}', "7"),
        ('{"type":"start","id":"7"}', "7"),
        ('{"type":"bogus","id":"7"}', "7"),
        ('{"type":"data","id":"7","payload":{}}', "7"),
        ('{"type":"start","id":7,"payload":{"query":"{ a }"}}', None),
        ('{"type":"bogus","id":""}', None),
        ('{"type":"bogus"}', None),
        ("not json", None),
    ],
)
def test_legacy_error_reply_carries_the_id_only_when_the_frame_had_a_valid_one(
    text: str, op_id: str | None
) -> None:
    server = server_in(LEGACY, READY)
    server.receive_text(text, 1.0)
    [frame] = server.data_to_send()
    reply = _legacy_error_reply(frame)
    assert reply.get("id") == op_id


@pytest.mark.parametrize("text", [t for _, t in BAD_INIT], ids=[n for n, _ in BAD_INIT])
@pytest.mark.parametrize("state", [ConnectionState.INITIALIZING, READY], ids=lambda s: s.name)
def test_legacy_server_closes_4400_on_a_malformed_connection_init_in_any_state(
    state: ConnectionState, text: str
) -> None:
    server = server_in(LEGACY, state)
    with pytest.raises(RemoteProtocolError) as info:
        server.receive_text(text, 1.0)
    _assert_closed_with(server, info.value, CloseCode.BAD_REQUEST)


# What a server may not send a client.
MODERN_FROM_SERVER: list[tuple[str, str]] = [
    ("wrong-direction-subscribe", '{"type":"subscribe","id":"1","payload":{"query":"{ a }"}}'),
    ("wrong-direction-connection-init", '{"type":"connection_init"}'),
    ("legacy-type-data", '{"type":"data","id":"1","payload":{"data":null}}'),
    ("legacy-type-ka", '{"type":"ka"}'),
    ("ping-payload-string", '{"type":"ping","payload":"x"}'),
    ("next-missing-id", '{"type":"next","payload":{"data":null}}'),
    ("next-empty-id", '{"type":"next","id":"","payload":{"data":null}}'),
    ("next-numeric-id", '{"type":"next","id":1,"payload":{"data":null}}'),
    ("next-missing-payload", '{"type":"next","id":"1"}'),
    ("next-payload-list", '{"type":"next","id":"1","payload":[]}'),
    ("error-missing-payload", '{"type":"error","id":"1"}'),
    ("error-payload-object", '{"type":"error","id":"1","payload":{"message":"x"}}'),
    ("error-payload-empty-list", '{"type":"error","id":"1","payload":[]}'),
    ("error-payload-list-of-strings", '{"type":"error","id":"1","payload":["x"]}'),
    ("error-payload-without-message", '{"type":"error","id":"1","payload":[{"msg":"x"}]}'),
    (
        "error-payload-one-without-message",
        '{"type":"error","id":"1","payload":[{"message":"x"},{}]}',
    ),
    ("error-missing-id", '{"type":"error","payload":[{"message":"x"}]}'),
    ("complete-missing-id", '{"type":"complete"}'),
    ("complete-empty-id", '{"type":"complete","id":""}'),
]
LEGACY_FROM_SERVER: list[tuple[str, str]] = [
    ("wrong-direction-start", '{"type":"start","id":"1","payload":{"query":"{ a }"}}'),
    ("wrong-direction-stop", '{"type":"stop","id":"1"}'),
    ("wrong-direction-connection-init", '{"type":"connection_init"}'),
    ("wrong-direction-connection-terminate", '{"type":"connection_terminate"}'),
    ("modern-type-next", '{"type":"next","id":"1","payload":{"data":null}}'),
    ("modern-type-ping", '{"type":"ping"}'),
    ("data-missing-id", '{"type":"data","payload":{"data":null}}'),
    ("data-payload-list", '{"type":"data","id":"1","payload":[]}'),
    ("error-payload-list", '{"type":"error","id":"1","payload":[{"message":"x"}]}'),
    ("error-payload-string", '{"type":"error","id":"1","payload":"x"}'),
    ("error-numeric-id", '{"type":"error","id":1,"payload":{"message":"x"}}'),
    ("connection-error-payload-number", '{"type":"connection_error","payload":5}'),
    ("connection-ack-payload-string", '{"type":"connection_ack","payload":"x"}'),
    ("complete-missing-id", '{"type":"complete"}'),
]


@pytest.mark.parametrize(
    ("subprotocol", "text"),
    [(MODERN, t) for _, t in ENVELOPE + MODERN_FROM_SERVER]
    + [(LEGACY, t) for _, t in ENVELOPE + LEGACY_FROM_SERVER],
    ids=[f"modern-{n}" for n, _ in ENVELOPE + MODERN_FROM_SERVER]
    + [f"legacy-{n}" for n, _ in ENVELOPE + LEGACY_FROM_SERVER],
)
def test_client_closes_4004_on_an_invalid_message(subprotocol: Subprotocol, text: str) -> None:
    client = client_in(subprotocol, READY, operations=("1",))
    with pytest.raises(RemoteProtocolError) as info:
        client.receive_text(text, 1.0)
    _assert_closed_with(client, info.value, CloseCode.BAD_RESPONSE)


def test_legacy_client_drops_an_error_without_id() -> None:
    """The answer to a frame the server could not read names no operation:
    the operations go on and the socket stays (reference/protocols.md C.2.12)."""
    client = client_in(LEGACY, READY, operations=("1",))
    events = client.receive_text('{"type":"error","payload":{"message":"unknown type"}}', 1.0)
    assert events == []
    assert client.state is READY
    assert client.data_to_send() == []
    assert client.receive_text('{"type":"data","id":"1","payload":{"data":null}}', 1.0) != []


@pytest.mark.parametrize(
    ("subprotocol", "text"),
    [
        (MODERN, '{"type":"connection_ack","payload":"x"}'),
        (MODERN, '{"type":"connection_ack","payload":[]}'),
        (MODERN, '{"type":"connection_ack","payload":1}'),
        (LEGACY, '{"type":"connection_ack","payload":"x"}'),
    ],
)
def test_client_closes_4004_on_a_malformed_connection_ack(
    subprotocol: Subprotocol, text: str
) -> None:
    client = client_in(subprotocol, ConnectionState.INITIALIZING)
    with pytest.raises(RemoteProtocolError) as info:
        client.receive_text(text, 1.0)
    _assert_closed_with(client, info.value, CloseCode.BAD_RESPONSE)


@pytest.mark.parametrize("role", ["server", "client"])
def test_nested_ping_payload_near_the_parser_limit_never_escapes_as_another_error(
    role: str,
) -> None:
    # Around the recursion limit a payload may parse and yet be too deep to
    # write back into the pong; the answer must still be a protocol answer.
    # Every depth up to past the limit, whatever the stack depth of the runner.
    answered = closed = 0
    for depth in range(sys.getrecursionlimit() + 10):
        text = '{"type":"ping","payload":{"a":' + "[" * depth + "]" * depth + "}}"
        machine: ServerConnection | ClientConnection = (
            server_in(MODERN, READY) if role == "server" else client_in(MODERN, READY)
        )
        try:
            events = machine.receive_text(text, 1.0)
        except RemoteProtocolError as exc:
            _assert_closed_with(machine, exc, machine._BAD_MESSAGE_CODE)
            closed += 1
        else:
            assert len(events) == 1
            assert isinstance(events[0], Ping)
            [pong] = machine.data_to_send()
            assert isinstance(pong, str)
            assert json.loads(pong)["type"] == "pong"
            answered += 1
    assert answered > 0
    assert closed > 0


# Binary frames: both subprotocols carry messages in text frames only (C.1 item 12).


@pytest.mark.parametrize("state", [ConnectionState.IDLE, READY], ids=lambda s: s.name)
def test_modern_server_closes_4400_on_a_binary_frame(state: ConnectionState) -> None:
    server = server_in(MODERN, state)
    with pytest.raises(RemoteProtocolError) as info:
        server.receive_bytes(b'{"type":"ping"}', 1.0)
    _assert_closed_with(server, info.value, CloseCode.BAD_REQUEST)


def test_legacy_server_answers_a_binary_frame_with_error_and_keeps_the_socket() -> None:
    server = server_in(LEGACY, READY, operations=("1",))
    assert server.receive_bytes(b"\x00\x01", 1.0) == []
    [frame] = server.data_to_send()
    assert "id" not in _legacy_error_reply(frame)
    assert server.state is READY
    assert server.active_operations == {"1"}


@pytest.mark.parametrize("subprotocol", [MODERN, LEGACY])
def test_client_closes_4004_on_a_binary_frame(subprotocol: Subprotocol) -> None:
    client = client_in(subprotocol, READY, operations=("1",))
    with pytest.raises(RemoteProtocolError) as info:
        client.receive_bytes(b'{"type":"connection_ack"}', 1.0)
    _assert_closed_with(client, info.value, CloseCode.BAD_RESPONSE)


@pytest.mark.parametrize("subprotocol", [MODERN, LEGACY])
def test_binary_frame_after_close_is_ignored(subprotocol: Subprotocol) -> None:
    server = server_in(subprotocol, ConnectionState.CLOSED)
    assert server.receive_bytes(b"x", 1.0) == []
    client = client_in(subprotocol, ConnectionState.CLOSED)
    assert client.receive_bytes(b"x", 1.0) == []
    assert server.data_to_send() == client.data_to_send() == []


@pytest.mark.parametrize("role", ["server", "client"])
def test_pong_echoing_a_lone_surrogate_is_still_a_utf8_text_frame(role: str) -> None:
    # Valid JSON on the wire (ASCII only), yet it decodes to a lone surrogate.
    text = '{"type":"ping","payload":{"a":"\\ud800","b":"é"}}'
    machine: ServerConnection | ClientConnection = (
        server_in(MODERN, READY) if role == "server" else client_in(MODERN, READY)
    )
    [ping] = machine.receive_text(text, 1.0)
    assert ping == Ping(payload={"a": "\ud800", "b": "é"})
    [pong] = machine.data_to_send()
    assert isinstance(pong, str)
    pong.encode()  # a WebSocket text frame must be valid UTF-8
    # The echo is exact: the peer reads back the same payload.
    assert json.loads(pong) == {"type": "pong", "payload": {"a": "\ud800", "b": "é"}}


@pytest.mark.parametrize(
    "template",
    ['{"type":%s}', '{"type":"complete","id":%s}', '{"type":"bogus","id":"1","payload":%s}'],
)
@pytest.mark.parametrize(
    ("role", "subprotocol"),
    [("server", MODERN), ("server", LEGACY), ("client", MODERN), ("client", LEGACY)],
)
def test_deep_nesting_anywhere_gives_a_protocol_answer(
    role: str, subprotocol: Subprotocol, template: str
) -> None:
    # Error messages quote bad values; quoting a value nested right up to
    # the parser's limit must not blow the stack either.
    for depth in range(0, sys.getrecursionlimit() + 10, 7):
        text = template % ("[" * depth + "]" * depth)
        machine: ServerConnection | ClientConnection = (
            server_in(subprotocol, READY) if role == "server" else client_in(subprotocol, READY)
        )
        try:
            assert machine.receive_text(text, 1.0) == []
        except RemoteProtocolError as exc:
            _assert_closed_with(machine, exc, machine._BAD_MESSAGE_CODE)
        else:
            # Only the legacy server keeps the socket, answering `error`.
            assert (role, subprotocol) == ("server", LEGACY)
            [frame] = machine.data_to_send()
            _legacy_error_reply(frame)
