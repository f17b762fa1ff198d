"""Wire format of both subprotocols: JSON text to events and back.

One table per dialect and direction maps a wire `type` to a decoder, and an
event class to an encoder. Validation follows graphql-ws PROTOCOL.md and its
reference `validateMessage()` (reference/protocols.md A.8); the legacy
dialect follows subscriptions-transport-ws PROTOCOL.md.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import fields
from enum import Enum
from typing import Any, NoReturn

from ._errors import LocalProtocolError
from ._events import (
    Complete,
    ConnectionAck,
    ConnectionClosed,
    ConnectionInit,
    ConnectionRejected,
    Error,
    Event,
    JsonObject,
    Next,
    Ping,
    Pong,
    Subscribe,
)

__all__ = ["Codec", "JsonDumps", "JsonLoads", "Role", "Subprotocol"]

#: Parses one JSON text (for instance `json.loads` or `orjson.loads`).
JsonLoads = Callable[[str], object]
#: Serialises a JSON-compatible value into text.
JsonDumps = Callable[[object], str]

# A prebuilt encoder keeps `json.dumps` on its fast C path while writing
# compact separators. Non-ASCII is escaped: a peer's `"\ud800"` decodes to a
# lone surrogate, which raw output would carry into a text frame that cannot
# be encoded as UTF-8 (echoed in a pong, or in a result echoing a variable).
_compact_dumps: JsonDumps = json.JSONEncoder(
    separators=(",", ":"), check_circular=False, allow_nan=False
).encode


class Subprotocol(str, Enum):
    """The two subprotocols, by their `Sec-WebSocket-Protocol` token."""

    #: The current protocol (graphql-ws library, PROTOCOL.md).
    GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
    #: The legacy Apollo protocol (subscriptions-transport-ws).
    GRAPHQL_WS = "graphql-ws"

    def __str__(self) -> str:
        return self.value


class Role(Enum):
    """Which side of the connection a codec or machine plays."""

    SERVER = "server"
    CLIENT = "client"


class DecodeError(Exception):
    """A frame that is not a valid message of the dialect.

    Attributes:
        id: the operation id when the frame named a valid one, else None.
    """

    def __init__(self, message: str, *, id: str | None = None) -> None:
        super().__init__(message)
        self.id = id
        #: The message's `type` when its decoder rejected the message (a
        #: known type with bad fields), else None.
        self.wire_type: str | None = None


_reprs = reprlib.Repr()
_reprs.maxstring = _reprs.maxother = 40


def _short(value: object) -> str:
    """`repr(value)`, cut: error texts must not grow with the input."""
    return _reprs.repr(value)


def _fail(message: str, id: str | None = None) -> NoReturn:
    raise DecodeError(message, id=id)


# Decoded events are built by writing their slots, not through the dataclass
# `__init__`: a frozen dataclass sets every field with `object.__setattr__`,
# which costs about as much as parsing the frame. The objects are the same;
# the check below keeps these makers in step with the event classes.
_new = object.__new__


def _slot_setters(cls: type[Event], *names: str) -> tuple[Callable[[Event, object], None], ...]:
    if tuple(f.name for f in fields(cls)) != names or hasattr(cls, "__post_init__"):
        raise RuntimeError(f"the decoder's maker of {cls.__name__} is out of date")
    return tuple(getattr(cls, name).__set__ for name in names)


_SUBSCRIBE_SLOTS = _slot_setters(
    Subscribe, "id", "query", "variables", "operation_name", "extensions"
)
_NEXT_SLOTS = _slot_setters(Next, "id", "payload")
_COMPLETE_SLOTS = _slot_setters(Complete, "id")


def _make_subscribe(
    op_id: str,
    query: str,
    variables: JsonObject | None,
    name: str | None,
    extensions: JsonObject | None,
) -> Subscribe:
    event: Subscribe = _new(Subscribe)
    set_id, set_query, set_variables, set_name, set_extensions = _SUBSCRIBE_SLOTS
    set_id(event, op_id)
    set_query(event, query)
    set_variables(event, variables)
    set_name(event, name)
    set_extensions(event, extensions)
    return event


def _make_next(op_id: str, payload: JsonObject) -> Next:
    event: Next = _new(Next)
    set_id, set_payload = _NEXT_SLOTS
    set_id(event, op_id)
    set_payload(event, payload)
    return event


def _make_complete(op_id: str) -> Complete:
    event: Complete = _new(Complete)
    _COMPLETE_SLOTS[0](event, op_id)
    return event


def _optional_object(msg: Mapping[str, object], key: str, where: str) -> JsonObject | None:
    value = msg.get(key)
    if value is None or type(value) is dict:
        return value
    _fail(f"{where} '{key}' must be an object or null, got {type(value).__name__}")


def _id(msg: Mapping[str, object]) -> str:
    value = msg.get("id")
    if type(value) is str and value:
        return value
    _fail(f"{msg['type']!r} message needs an 'id' that is a non-empty string, got {_short(value)}")


def _subscribe(msg: Mapping[str, object]) -> Subscribe:
    op_id = _id(msg)
    payload = msg.get("payload")
    if type(payload) is not dict:
        _fail(f"{msg['type']!r} payload must be an object, got {type(payload).__name__}", op_id)
    query = payload.get("query")
    if type(query) is not str:
        _fail(f"operation 'query' must be a string, got {type(query).__name__}", op_id)
    name = payload.get("operationName")
    if name is not None and type(name) is not str:
        _fail(f"'operationName' must be a string or null, got {type(name).__name__}", op_id)
    # `_optional_object` inlined: this is the hottest decoder.
    variables = payload.get("variables")
    if variables is not None and type(variables) is not dict:
        _fail(
            f"operation 'variables' must be an object or null, got {type(variables).__name__}",
            op_id,
        )
    extensions = payload.get("extensions")
    if extensions is not None and type(extensions) is not dict:
        _fail(
            f"operation 'extensions' must be an object or null, got {type(extensions).__name__}",
            op_id,
        )
    return _make_subscribe(op_id, query, variables, name, extensions)


def _next(msg: Mapping[str, object]) -> Next:
    op_id = _id(msg)
    payload = msg.get("payload")
    if type(payload) is not dict:
        _fail(f"{msg['type']!r} payload must be an object, got {type(payload).__name__}", op_id)
    return _make_next(op_id, payload)


def _complete(msg: Mapping[str, object]) -> Complete:
    return _make_complete(_id(msg))


def _error(msg: Mapping[str, object]) -> Error:
    op_id = _id(msg)
    payload = msg.get("payload")
    if (
        type(payload) is not list
        or not payload
        or not all(type(e) is dict and "message" in e for e in payload)
    ):
        _fail("'error' payload must be a non-empty list of objects with a 'message'", op_id)
    return Error(id=op_id, errors=payload)


def _legacy_error(msg: Mapping[str, object]) -> Error:
    # Legacy servers send one object: Apollo `{message}`, the library we
    # replace `{errors: [...]}`; we surface a list either way. An `error`
    # without id answers a frame the server could not read (the Apollo
    # server, and ours, keep the socket): it names no operation, so it
    # decodes with the empty id, which is never active and is dropped.
    op_id = "" if msg.get("id") is None else _id(msg)
    payload = msg.get("payload")
    if type(payload) is not dict:
        _fail(f"'error' payload must be an object, got {type(payload).__name__}", op_id)
    errors = payload.get("errors")
    if type(errors) is list and errors and all(type(e) is dict for e in errors):
        return Error(id=op_id, errors=errors)
    if "message" not in payload:
        payload = {"message": "unknown error", **payload}
    return Error(id=op_id, errors=[payload])


def _payload_only(cls: type[ConnectionInit | ConnectionAck | Ping | Pong]) -> _Decoder:
    def decode(msg: Mapping[str, object]) -> Event:
        return cls(payload=_optional_object(msg, "payload", f"{msg['type']!r}"))

    return decode


def _connection_error(msg: Mapping[str, object]) -> ConnectionRejected:
    payload = msg.get("payload")
    if isinstance(payload, str):
        payload = {"message": payload}
    elif payload is not None and type(payload) is not dict:
        _fail(f"'connection_error' payload must be an object, got {type(payload).__name__}")
    message = payload.get("message") if payload else None
    return ConnectionRejected(payload=payload, reason=message if isinstance(message, str) else "")


_Decoder = Callable[[Mapping[str, object]], Event]
# An encoder takes the exact event class its table keys on, hence `Any`.
_Encoder = Callable[[Any, JsonDumps], str]


def _with_payload(wire_type: str) -> _Encoder:
    plain = f'{{"type":"{wire_type}"}}'

    def encode(event: Event, dumps: JsonDumps) -> str:
        payload = event.payload  # type: ignore[union-attr]
        if payload is None:
            return plain
        return dumps({"type": wire_type, "payload": payload})

    return encode


def _with_id(wire_type: str) -> _Encoder:
    def encode(event: Complete, dumps: JsonDumps) -> str:
        return dumps({"type": wire_type, "id": event.id})

    return encode


def _encode_next(wire_type: str) -> _Encoder:
    def encode(event: Next, dumps: JsonDumps) -> str:
        return dumps({"type": wire_type, "id": event.id, "payload": event.payload})

    return encode


def _no_errors(event: Error) -> NoReturn:
    # `Error.errors` holds at least one error (PROTOCOL.md: "non-empty array").
    raise LocalProtocolError(f"an Error for operation {event.id!r} needs at least one error")


def _encode_error(event: Event, dumps: JsonDumps) -> str:
    assert isinstance(event, Error)
    if not event.errors:
        _no_errors(event)
    return dumps({"type": "error", "id": event.id, "payload": list(event.errors)})


def _encode_legacy_error(event: Event, dumps: JsonDumps) -> str:
    # The legacy `error` payload is one object. With several errors, the first
    # one stays the object (Apollo clients read its `message`) and the whole
    # list rides along under `errors`, so nothing is lost.
    assert isinstance(event, Error)
    if not event.errors:
        _no_errors(event)
    first = dict(event.errors[0])
    if len(event.errors) > 1:
        first["errors"] = list(event.errors)
    return dumps({"type": "error", "id": event.id, "payload": first})


def _encode_subscribe(wire_type: str) -> _Encoder:
    def encode(event: Event, dumps: JsonDumps) -> str:
        assert isinstance(event, Subscribe)
        payload: dict[str, object] = {"query": event.query}
        if event.variables is not None:
            payload["variables"] = event.variables
        if event.operation_name is not None:
            payload["operationName"] = event.operation_name
        if event.extensions is not None:
            payload["extensions"] = event.extensions
        return dumps({"type": wire_type, "id": event.id, "payload": payload})

    return encode


def _encode_connection_error(event: Event, dumps: JsonDumps) -> str:
    assert isinstance(event, ConnectionRejected)
    payload = event.payload if event.payload is not None else {"message": event.reason}
    return dumps({"type": "connection_error", "payload": payload})


def _encode_terminate(event: Event, dumps: JsonDumps) -> str:
    return '{"type":"connection_terminate"}'


def _encode_ka(event: Event, dumps: JsonDumps) -> str:
    return '{"type":"ka"}'


def encode_error_reply(message: str, op_id: str | None, dumps: JsonDumps) -> str:
    """The legacy answer to a frame it cannot use: an `error` message."""
    frame: dict[str, object] = {"type": "error", "payload": {"message": message}}
    if op_id is not None:
        frame["id"] = op_id
    return dumps(frame)


# Messages each side may receive, per dialect; the other side's types are
# listed separately so the error can say "wrong direction" instead of "unknown".
_MODERN_FROM_CLIENT: dict[str, _Decoder] = {
    "connection_init": _payload_only(ConnectionInit),
    "ping": _payload_only(Ping),
    "pong": _payload_only(Pong),
    "subscribe": _subscribe,
    "complete": _complete,
}
_MODERN_FROM_SERVER: dict[str, _Decoder] = {
    "connection_ack": _payload_only(ConnectionAck),
    "ping": _payload_only(Ping),
    "pong": _payload_only(Pong),
    "next": _next,
    "error": _error,
    "complete": _complete,
}
_LEGACY_FROM_CLIENT: dict[str, _Decoder] = {
    "connection_init": _payload_only(ConnectionInit),
    "start": _subscribe,
    "stop": _complete,
    "connection_terminate": lambda msg: ConnectionClosed(code=1000, reason="connection_terminate"),
}
_LEGACY_FROM_SERVER: dict[str, _Decoder] = {
    "connection_ack": _payload_only(ConnectionAck),
    "connection_error": _connection_error,
    "ka": lambda msg: Pong(payload=None),
    "data": _next,
    "error": _legacy_error,
    "complete": _complete,
}

_MODERN_BY_CLIENT: dict[type[Event], _Encoder] = {
    ConnectionInit: _with_payload("connection_init"),
    Ping: _with_payload("ping"),
    Pong: _with_payload("pong"),
    Subscribe: _encode_subscribe("subscribe"),
    Complete: _with_id("complete"),
}
_MODERN_BY_SERVER: dict[type[Event], _Encoder] = {
    ConnectionAck: _with_payload("connection_ack"),
    Ping: _with_payload("ping"),
    Pong: _with_payload("pong"),
    Next: _encode_next("next"),
    Error: _encode_error,
    Complete: _with_id("complete"),
}
_LEGACY_BY_CLIENT: dict[type[Event], _Encoder] = {
    ConnectionInit: _with_payload("connection_init"),
    Subscribe: _encode_subscribe("start"),
    Complete: _with_id("stop"),
    ConnectionClosed: _encode_terminate,
}
_LEGACY_BY_SERVER: dict[type[Event], _Encoder] = {
    ConnectionAck: _with_payload("connection_ack"),
    ConnectionRejected: _encode_connection_error,
    Pong: _encode_ka,
    Next: _encode_next("data"),
    Error: _encode_legacy_error,
    Complete: _with_id("complete"),
}

_TABLES = {
    (Subprotocol.GRAPHQL_TRANSPORT_WS, Role.SERVER): (
        _MODERN_FROM_CLIENT,
        _MODERN_FROM_SERVER,
        _MODERN_BY_SERVER,
    ),
    (Subprotocol.GRAPHQL_TRANSPORT_WS, Role.CLIENT): (
        _MODERN_FROM_SERVER,
        _MODERN_FROM_CLIENT,
        _MODERN_BY_CLIENT,
    ),
    (Subprotocol.GRAPHQL_WS, Role.SERVER): (
        _LEGACY_FROM_CLIENT,
        _LEGACY_FROM_SERVER,
        _LEGACY_BY_SERVER,
    ),
    (Subprotocol.GRAPHQL_WS, Role.CLIENT): (
        _LEGACY_FROM_SERVER,
        _LEGACY_FROM_CLIENT,
        _LEGACY_BY_CLIENT,
    ),
}


class Codec:
    """Turns text frames into events and events into text frames.

    One codec speaks one dialect for one side: a server codec decodes what a
    client sends and encodes what a server sends.

    Args:
        subprotocol: the dialect.
        role: the side this codec works for.
        loads: the JSON parser (default `json.loads`).
        dumps: the JSON serialiser (default compact `json`, non-ASCII
            escaped); it must return `str` that encodes as UTF-8 (escape
            lone surrogates).
    """

    __slots__ = ("_decoders", "_dumps", "_encoders", "_loads", "_wrong_way", "role", "subprotocol")

    def __init__(
        self,
        subprotocol: Subprotocol | str,
        role: Role,
        *,
        loads: JsonLoads | None = None,
        dumps: JsonDumps | None = None,
    ) -> None:
        self.subprotocol = Subprotocol(subprotocol)
        self.role = role
        self._decoders, self._wrong_way, self._encoders = _TABLES[(self.subprotocol, role)]
        self._loads: JsonLoads = loads or json.loads
        self._dumps: JsonDumps = dumps or _compact_dumps

    def decode(self, text: str) -> Event:
        """Parse and validate one text frame.

        Raises:
            DecodeError: the text is not a valid message for this side; its
                `id` names the operation when the frame carried a valid id.
        """
        try:
            msg = self._loads(text)
        except (ValueError, RecursionError) as exc:
            # RecursionError: a deeply nested document exhausts the parser.
            raise DecodeError(f"message is not valid JSON: {exc}") from exc
        if type(msg) is not dict:
            _fail(f"message must be a JSON object, got {type(msg).__name__}")
        wire_type = msg.get("type")
        decoder = self._decoders.get(wire_type) if type(wire_type) is str else None
        if decoder is not None:
            try:
                return decoder(msg)
            except DecodeError as exc:
                exc.wire_type = wire_type
                raise
        else:
            op_id = msg.get("id")
            op_id = op_id if type(op_id) is str and op_id else None
            if type(wire_type) is not str or not wire_type:
                _fail(f"message 'type' must be a non-empty string, got {_short(wire_type)}", op_id)
            if wire_type in self._wrong_way:
                peer = "client" if self.role is Role.SERVER else "server"
                _fail(f"a {peer} may not send {_short(wire_type)} messages", op_id)
            _fail(f"unknown message type {_short(wire_type)} for {self.subprotocol.value}", op_id)

    def encode(self, event: Event) -> str:
        """Serialise one event this side may send.

        Raises:
            LocalProtocolError: this side never sends such an event in this
                dialect (for instance a legacy server `Ping`).
        """
        encoder = self._encoders.get(type(event))
        if encoder is None:
            raise LocalProtocolError(
                f"a {self.role.value} cannot send {type(event).__name__} "
                f"over {self.subprotocol.value}"
            )
        return encoder(event, self._dumps)
