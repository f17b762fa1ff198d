"""Golden tables: the exact text of every message of both dialects.

`Codec.encode` must write exactly these texts for the events a side sends, and
`Codec.decode` must give exactly these events for the texts a side receives.
Texts are compact JSON, keys in the order type, id, payload, payload omitted
when None, non-ASCII escaped (reference/protocols.md A.2, B.2).
"""

from __future__ import annotations

import pytest
from gqlws_protocol import (
    Codec,
    Complete,
    ConnectionAck,
    ConnectionClosed,
    ConnectionInit,
    ConnectionRejected,
    Error,
    Event,
    LocalProtocolError,
    Next,
    Ping,
    Pong,
    Role,
    Subprotocol,
    Subscribe,
)
from gqlws_protocol._codec import DecodeError

from .helpers import LEGACY, MODERN

SERVER = Role.SERVER
CLIENT = Role.CLIENT

FULL_SUBSCRIBE = Subscribe(
    id="op-1",
    query="query Q($x: Int) { a(x: $x) }",
    variables={"x": 1},
    operation_name="Q",
    extensions={"persistedQuery": {"version": 1}},
)
FULL_SUBSCRIBE_PAYLOAD = (
    '{"query":"query Q($x: Int) { a(x: $x) }","variables":{"x":1},'
    '"operationName":"Q","extensions":{"persistedQuery":{"version":1}}}'
)

# (subprotocol, role that sends, event, exact text on the wire)
ENCODE_TABLE: list[tuple[Subprotocol, Role, Event, str]] = [
    # graphql-transport-ws, server -> client
    (MODERN, SERVER, ConnectionAck(), '{"type":"connection_ack"}'),
    (
        MODERN,
        SERVER,
        ConnectionAck(payload={"session": "s1"}),
        '{"type":"connection_ack","payload":{"session":"s1"}}',
    ),
    (MODERN, SERVER, Ping(), '{"type":"ping"}'),
    (MODERN, SERVER, Ping(payload={"t": 1}), '{"type":"ping","payload":{"t":1}}'),
    (MODERN, SERVER, Pong(), '{"type":"pong"}'),
    (MODERN, SERVER, Pong(payload={"t": 1}), '{"type":"pong","payload":{"t":1}}'),
    (
        MODERN,
        SERVER,
        Next(id="1", payload={"data": {"tick": 1}}),
        '{"type":"next","id":"1","payload":{"data":{"tick":1}}}',
    ),
    (
        MODERN,
        SERVER,
        Next(id="1", payload={"data": {"name": "é✓"}}),
        '{"type":"next","id":"1","payload":{"data":{"name":"\\u00e9\\u2713"}}}',
    ),
    # A lone surrogate (a peer may send `"\\ud800"`) stays escaped: raw, the
    # frame could not be encoded as UTF-8.
    (
        MODERN,
        SERVER,
        Pong(payload={"a": "\ud800"}),
        '{"type":"pong","payload":{"a":"\\ud800"}}',
    ),
    (
        MODERN,
        SERVER,
        Next(id="1", payload={"data": None, "errors": [{"message": "boom", "path": ["a"]}]}),
        '{"type":"next","id":"1","payload":{"data":null,"errors":[{"message":"boom","path":["a"]}]}}',
    ),
    (
        MODERN,
        SERVER,
        Error(id="1", errors=[{"message": "boom"}]),
        '{"type":"error","id":"1","payload":[{"message":"boom"}]}',
    ),
    (
        MODERN,
        SERVER,
        Error(id="1", errors=({"message": "a"}, {"message": "b", "locations": []})),
        '{"type":"error","id":"1","payload":[{"message":"a"},{"message":"b","locations":[]}]}',
    ),
    (MODERN, SERVER, Complete(id="1"), '{"type":"complete","id":"1"}'),
    # graphql-transport-ws, client -> server
    (MODERN, CLIENT, ConnectionInit(), '{"type":"connection_init"}'),
    (
        MODERN,
        CLIENT,
        ConnectionInit(payload={"authToken": "t"}),
        '{"type":"connection_init","payload":{"authToken":"t"}}',
    ),
    (MODERN, CLIENT, Ping(), '{"type":"ping"}'),
    (MODERN, CLIENT, Ping(payload={"n": 1}), '{"type":"ping","payload":{"n":1}}'),
    (MODERN, CLIENT, Pong(), '{"type":"pong"}'),
    (MODERN, CLIENT, Pong(payload={"n": 1}), '{"type":"pong","payload":{"n":1}}'),
    (
        MODERN,
        CLIENT,
        Subscribe(id="1", query="{ a }"),
        '{"type":"subscribe","id":"1","payload":{"query":"{ a }"}}',
    ),
    (
        MODERN,
        CLIENT,
        FULL_SUBSCRIBE,
        '{"type":"subscribe","id":"op-1","payload":' + FULL_SUBSCRIBE_PAYLOAD + "}",
    ),
    (MODERN, CLIENT, Complete(id="1"), '{"type":"complete","id":"1"}'),
    # graphql-ws (legacy), server -> client
    (LEGACY, SERVER, ConnectionAck(), '{"type":"connection_ack"}'),
    (
        LEGACY,
        SERVER,
        ConnectionAck(payload={"session": "s1"}),
        '{"type":"connection_ack","payload":{"session":"s1"}}',
    ),
    (
        LEGACY,
        SERVER,
        ConnectionRejected(payload={"message": "Prohibited connection!"}),
        '{"type":"connection_error","payload":{"message":"Prohibited connection!"}}',
    ),
    (
        LEGACY,
        SERVER,
        ConnectionRejected(reason="bad token"),
        '{"type":"connection_error","payload":{"message":"bad token"}}',
    ),
    # The legacy keep-alive is a Pong without payload; a payload has no place in `ka`.
    (LEGACY, SERVER, Pong(), '{"type":"ka"}'),
    (LEGACY, SERVER, Pong(payload={"t": 1}), '{"type":"ka"}'),
    (
        LEGACY,
        SERVER,
        Next(id="1", payload={"data": {"tick": 1}}),
        '{"type":"data","id":"1","payload":{"data":{"tick":1}}}',
    ),
    (
        LEGACY,
        SERVER,
        Error(id="1", errors=[{"message": "boom"}]),
        '{"type":"error","id":"1","payload":{"message":"boom"}}',
    ),
    # Several errors: the first one is the object, the whole list rides along.
    (
        LEGACY,
        SERVER,
        Error(id="1", errors=[{"message": "a"}, {"message": "b"}]),
        '{"type":"error","id":"1","payload":{"message":"a","errors":[{"message":"a"},{"message":"b"}]}}',
    ),
    (LEGACY, SERVER, Complete(id="1"), '{"type":"complete","id":"1"}'),
    # graphql-ws (legacy), client -> server
    (LEGACY, CLIENT, ConnectionInit(), '{"type":"connection_init"}'),
    (
        LEGACY,
        CLIENT,
        ConnectionInit(payload={"authToken": "t"}),
        '{"type":"connection_init","payload":{"authToken":"t"}}',
    ),
    (
        LEGACY,
        CLIENT,
        Subscribe(id="1", query="{ a }"),
        '{"type":"start","id":"1","payload":{"query":"{ a }"}}',
    ),
    (
        LEGACY,
        CLIENT,
        FULL_SUBSCRIBE,
        '{"type":"start","id":"op-1","payload":' + FULL_SUBSCRIBE_PAYLOAD + "}",
    ),
    (LEGACY, CLIENT, Complete(id="1"), '{"type":"stop","id":"1"}'),
    (LEGACY, CLIENT, ConnectionClosed(code=1000), '{"type":"connection_terminate"}'),
]


def _case_id(subprotocol: Subprotocol, role: Role, item: object) -> str:
    return f"{subprotocol.value}-{role.value}-{item!r}"


@pytest.mark.parametrize(
    ("subprotocol", "role", "event", "text"),
    ENCODE_TABLE,
    ids=[_case_id(s, r, t) for s, r, _, t in ENCODE_TABLE],
)
def test_encode_writes_the_exact_wire_text(
    subprotocol: Subprotocol, role: Role, event: Event, text: str
) -> None:
    assert Codec(subprotocol, role).encode(event) == text


# (subprotocol, role that receives, exact text on the wire, event)
DECODE_TABLE: list[tuple[Subprotocol, Role, str, Event]] = [
    # graphql-transport-ws, received by the server
    (MODERN, SERVER, '{"type":"connection_init"}', ConnectionInit()),
    (MODERN, SERVER, '{"type":"connection_init","payload":null}', ConnectionInit()),
    (
        MODERN,
        SERVER,
        '{"type":"connection_init","payload":{"authToken":"t"}}',
        ConnectionInit(payload={"authToken": "t"}),
    ),
    (MODERN, SERVER, '{"type":"ping"}', Ping()),
    (MODERN, SERVER, '{"type":"ping","payload":null}', Ping()),
    (MODERN, SERVER, '{"type":"ping","payload":{"n":1}}', Ping(payload={"n": 1})),
    (MODERN, SERVER, '{"type":"pong"}', Pong()),
    (MODERN, SERVER, '{"type":"pong","payload":{"n":1}}', Pong(payload={"n": 1})),
    (
        MODERN,
        SERVER,
        '{"id":"1","type":"subscribe","payload":{"query":"{ a }"}}',
        Subscribe(id="1", query="{ a }"),
    ),
    (
        MODERN,
        SERVER,
        '{"type":"subscribe","id":"1","payload":{"query":"{ a }","variables":null,'
        '"operationName":null,"extensions":null}}',
        Subscribe(id="1", query="{ a }"),
    ),
    (
        MODERN,
        SERVER,
        '{"type":"subscribe","id":"op-1","payload":' + FULL_SUBSCRIBE_PAYLOAD + "}",
        FULL_SUBSCRIBE,
    ),
    (MODERN, SERVER, '{"type":"complete","id":"1"}', Complete(id="1")),
    # Unknown keys are not the receiver's business.
    (MODERN, SERVER, '{"type":"ping","extra":[1]}', Ping()),
    # graphql-transport-ws, received by the client
    (MODERN, CLIENT, '{"type":"connection_ack"}', ConnectionAck()),
    (MODERN, CLIENT, '{"type":"connection_ack","payload":null}', ConnectionAck()),
    (
        MODERN,
        CLIENT,
        '{"type":"connection_ack","payload":{"session":"s1"}}',
        ConnectionAck(payload={"session": "s1"}),
    ),
    (MODERN, CLIENT, '{"type":"ping"}', Ping()),
    (MODERN, CLIENT, '{"type":"ping","payload":{"t":1}}', Ping(payload={"t": 1})),
    (MODERN, CLIENT, '{"type":"pong"}', Pong()),
    (MODERN, CLIENT, '{"type":"pong","payload":{"t":1}}', Pong(payload={"t": 1})),
    (
        MODERN,
        CLIENT,
        '{"id":"1","type":"next","payload":{"data":{"tick":1}}}',
        Next(id="1", payload={"data": {"tick": 1}}),
    ),
    (
        MODERN,
        CLIENT,
        '{"id":"1","type":"error","payload":[{"message":"a","locations":[{"line":1,"column":2}]}]}',
        Error(id="1", errors=[{"message": "a", "locations": [{"line": 1, "column": 2}]}]),
    ),
    (MODERN, CLIENT, '{"id":"1","type":"complete"}', Complete(id="1")),
    # graphql-ws (legacy), received by the server
    (LEGACY, SERVER, '{"type":"connection_init"}', ConnectionInit()),
    (LEGACY, SERVER, '{"type":"connection_init","payload":null}', ConnectionInit()),
    (
        LEGACY,
        SERVER,
        '{"type":"connection_init","payload":{"authToken":"t"}}',
        ConnectionInit(payload={"authToken": "t"}),
    ),
    (
        LEGACY,
        SERVER,
        '{"id":"1","type":"start","payload":{"query":"subscription { tick }","variables":{}}}',
        Subscribe(id="1", query="subscription { tick }", variables={}),
    ),
    (
        LEGACY,
        SERVER,
        '{"type":"start","id":"op-1","payload":' + FULL_SUBSCRIBE_PAYLOAD + "}",
        FULL_SUBSCRIBE,
    ),
    (LEGACY, SERVER, '{"id":"1","type":"stop"}', Complete(id="1")),
    (
        LEGACY,
        SERVER,
        '{"type":"connection_terminate"}',
        ConnectionClosed(code=1000, reason="connection_terminate"),
    ),
    # The Apollo client writes a null payload.
    (
        LEGACY,
        SERVER,
        '{"type":"connection_terminate","payload":null}',
        ConnectionClosed(code=1000, reason="connection_terminate"),
    ),
    # graphql-ws (legacy), received by the client
    (LEGACY, CLIENT, '{"type":"connection_ack"}', ConnectionAck()),
    (
        LEGACY,
        CLIENT,
        '{"type":"connection_ack","payload":{"session":"s1"}}',
        ConnectionAck(payload={"session": "s1"}),
    ),
    (
        LEGACY,
        CLIENT,
        '{"type":"connection_error","payload":{"message":"Prohibited connection!"}}',
        ConnectionRejected(
            payload={"message": "Prohibited connection!"}, reason="Prohibited connection!"
        ),
    ),
    # Some servers write the message as a bare string.
    (
        LEGACY,
        CLIENT,
        '{"type":"connection_error","payload":"nope"}',
        ConnectionRejected(payload={"message": "nope"}, reason="nope"),
    ),
    (LEGACY, CLIENT, '{"type":"connection_error"}', ConnectionRejected(payload=None, reason="")),
    (
        LEGACY,
        CLIENT,
        '{"type":"connection_error","payload":{"message":5}}',
        ConnectionRejected(payload={"message": 5}, reason=""),
    ),
    (LEGACY, CLIENT, '{"type":"ka"}', Pong()),
    (
        LEGACY,
        CLIENT,
        '{"id":"1","type":"data","payload":{"data":{"tick":1}}}',
        Next(id="1", payload={"data": {"tick": 1}}),
    ),
    # Apollo: one error object, surfaced as a one-element list.
    (
        LEGACY,
        CLIENT,
        '{"id":"1","type":"error","payload":{"message":"boom"}}',
        Error(id="1", errors=[{"message": "boom"}]),
    ),
    # The library we replace: `{errors: [...]}`; ours: the first error plus the list.
    (
        LEGACY,
        CLIENT,
        '{"id":"1","type":"error","payload":{"errors":[{"message":"a"},{"message":"b"}]}}',
        Error(id="1", errors=[{"message": "a"}, {"message": "b"}]),
    ),
    (
        LEGACY,
        CLIENT,
        '{"id":"1","type":"error","payload":{"message":"a","errors":[{"message":"a"},{"message":"b"}]}}',
        Error(id="1", errors=[{"message": "a"}, {"message": "b"}]),
    ),
    # An object without `message` still surfaces as an error carrying one.
    (
        LEGACY,
        CLIENT,
        '{"id":"1","type":"error","payload":{"code":7}}',
        Error(id="1", errors=[{"message": "unknown error", "code": 7}]),
    ),
    # Without id: the answer to a frame the server could not read.
    (
        LEGACY,
        CLIENT,
        '{"type":"error","payload":{"message":"unknown message type"}}',
        Error(id="", errors=[{"message": "unknown message type"}]),
    ),
    (LEGACY, CLIENT, '{"id":"1","type":"complete"}', Complete(id="1")),
    (LEGACY, CLIENT, '{"id":"1","type":"complete","payload":null}', Complete(id="1")),
]


@pytest.mark.parametrize(
    ("subprotocol", "role", "text", "event"),
    DECODE_TABLE,
    ids=[_case_id(s, r, t) for s, r, t, _ in DECODE_TABLE],
)
def test_decode_yields_the_exact_event(
    subprotocol: Subprotocol, role: Role, text: str, event: Event
) -> None:
    decoded = Codec(subprotocol, role).decode(text)
    assert type(decoded) is type(event)
    assert decoded == event


@pytest.mark.parametrize(
    ("subprotocol", "sender", "event", "text"),
    # A legacy `ka` has no payload, so Pong(payload=...) cannot come back whole.
    [
        case
        for case in ENCODE_TABLE
        if not (case[0] is LEGACY and case[2] == Pong(payload={"t": 1}))
    ],
)
def test_what_one_side_encodes_the_other_decodes_back(
    subprotocol: Subprotocol, sender: Role, event: Event, text: str
) -> None:
    receiver = CLIENT if sender is SERVER else SERVER
    decoded = Codec(subprotocol, receiver).decode(text)
    if isinstance(event, ConnectionRejected):
        # The reason travels inside the payload's message.
        assert isinstance(decoded, ConnectionRejected)
        assert decoded.reason == (event.payload or {}).get("message", event.reason)
    elif isinstance(event, ConnectionClosed):
        assert decoded == ConnectionClosed(code=1000, reason="connection_terminate")
    elif isinstance(event, Error):
        assert decoded == Error(id=event.id, errors=list(event.errors))
    else:
        assert decoded == event


# Events a side never sends in a dialect: encode refuses them.
REFUSED: list[tuple[Subprotocol, Role, Event]] = [
    (MODERN, SERVER, ConnectionInit()),
    (MODERN, SERVER, Subscribe(id="1", query="{ a }")),
    (MODERN, SERVER, ConnectionRejected()),
    (MODERN, SERVER, ConnectionClosed(code=1000)),
    (MODERN, CLIENT, ConnectionAck()),
    (MODERN, CLIENT, Next(id="1", payload={})),
    (MODERN, CLIENT, Error(id="1", errors=[{"message": "x"}])),
    (MODERN, CLIENT, ConnectionRejected()),
    (MODERN, CLIENT, ConnectionClosed(code=1000)),
    (LEGACY, SERVER, Ping()),
    (LEGACY, SERVER, ConnectionInit()),
    (LEGACY, SERVER, Subscribe(id="1", query="{ a }")),
    (LEGACY, SERVER, ConnectionClosed(code=1000)),
    (LEGACY, CLIENT, Ping()),
    (LEGACY, CLIENT, Pong()),
    (LEGACY, CLIENT, ConnectionAck()),
    (LEGACY, CLIENT, Next(id="1", payload={})),
    (LEGACY, CLIENT, Error(id="1", errors=[{"message": "x"}])),
    (LEGACY, CLIENT, ConnectionRejected()),
]


@pytest.mark.parametrize(("subprotocol", "role", "event"), REFUSED)
def test_encode_refuses_events_the_side_never_sends(
    subprotocol: Subprotocol, role: Role, event: Event
) -> None:
    with pytest.raises(LocalProtocolError, match=type(event).__name__):
        Codec(subprotocol, role).encode(event)


@pytest.mark.parametrize("subprotocol", [MODERN, LEGACY])
def test_encode_refuses_an_error_without_errors(subprotocol: Subprotocol) -> None:
    # Error.errors holds "at least one" error; the legacy payload is the first.
    with pytest.raises(LocalProtocolError):
        Codec(subprotocol, SERVER).encode(Error(id="1", errors=[]))


def test_codec_accepts_the_subprotocol_token_as_a_string() -> None:
    codec = Codec("graphql-ws", CLIENT)
    assert codec.subprotocol is LEGACY
    assert codec.role is CLIENT
    assert codec.encode(Complete(id="1")) == '{"type":"stop","id":"1"}'


def test_codec_rejects_an_unknown_subprotocol() -> None:
    with pytest.raises(ValueError, match="graphql-subscriptions"):
        Codec("graphql-subscriptions", SERVER)


def test_subprotocol_str_is_the_token() -> None:
    assert str(MODERN) == "graphql-transport-ws"
    assert str(LEGACY) == "graphql-ws"
    assert f"{LEGACY}" == "graphql-ws"


def test_codec_uses_the_json_functions_it_is_given() -> None:
    seen: list[object] = []

    def loads(text: str) -> object:
        seen.append(text)
        return {"type": "ping", "payload": {"via": "custom"}}

    def dumps(value: object) -> str:
        seen.append(value)
        return "custom"

    codec = Codec(MODERN, SERVER, loads=loads, dumps=dumps)
    assert codec.decode("anything") == Ping(payload={"via": "custom"})
    assert codec.encode(Next(id="1", payload={"data": None})) == "custom"
    assert seen == [
        "anything",
        {"type": "next", "id": "1", "payload": {"data": None}},
    ]


def test_decode_error_names_the_operation_and_the_wire_type() -> None:
    codec = Codec(MODERN, SERVER)
    with pytest.raises(DecodeError) as info:
        codec.decode('{"type":"subscribe","id":"7","payload":{"query":1}}')
    assert info.value.id == "7"
    assert info.value.wire_type == "subscribe"
    with pytest.raises(DecodeError) as info:
        codec.decode('{"type":"subscribe","id":"7","payload":{"query":"q","variables":[]}}')
    assert info.value.id == "7"
    with pytest.raises(DecodeError) as info:
        codec.decode('{"type":"next","id":"8"}')
    assert info.value.id == "8"
    assert info.value.wire_type is None
    with pytest.raises(DecodeError) as info:
        codec.decode("nope")
    assert info.value.id is None
    assert isinstance(info.value.__cause__, ValueError)
