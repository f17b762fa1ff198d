"""Protocol-neutral events.

One set of events describes both subprotocols and both directions: legacy
`start` / `data` / `stop` and modern `subscribe` / `next` / `complete` decode
to the same classes, so an adapter never sees a wire type name. Do not
subclass these; the machines dispatch on the exact type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Complete",
    "ConnectionAck",
    "ConnectionClosed",
    "ConnectionInit",
    "ConnectionRejected",
    "Error",
    "Event",
    "JsonObject",
    "Next",
    "Ping",
    "Pong",
    "Subscribe",
]

#: A decoded JSON object, as found in payloads.
JsonObject = Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionInit:
    """The client asks for a connection (`connection_init`).

    Attributes:
        payload: the client's connection parameters, or None when absent/null.
    """

    payload: JsonObject | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionAck:
    """The server accepted the connection (`connection_ack`).

    Attributes:
        payload: optional data for the client, or None.
    """

    payload: JsonObject | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionRejected:
    """The server refused the connection during initialisation.

    Modern protocol: close 4403 with `reason`. Legacy protocol: a
    `connection_error` message carrying `payload`, then close 4403.

    Attributes:
        payload: what the legacy `connection_error` message carries; None
            sends `{"message": reason}`.
        reason: the close reason (cut to 123 bytes of UTF-8 when sent).
    """

    payload: JsonObject | None = None
    reason: str = "Forbidden"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """A liveness probe (`ping`); the peer must answer with `Pong`.

    Attributes:
        payload: optional data, echoed in the answer.
    """

    payload: JsonObject | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    """The answer to `Ping`, or an unsolicited heartbeat.

    The legacy server heartbeat `ka` is a `Pong` without payload.

    Attributes:
        payload: optional data (an echoed ping payload).
    """

    payload: JsonObject | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    """The client starts an operation (`subscribe`, legacy `start`).

    Attributes:
        id: the operation id, unique among the operations active at once.
        query: the GraphQL document.
        variables: the variables, or None.
        operation_name: which operation of the document to run, or None.
        extensions: protocol extensions (persisted query hashes...), or None.
    """

    id: str
    query: str
    variables: JsonObject | None = None
    operation_name: str | None = None
    extensions: JsonObject | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Next:
    """One result of an operation (`next`, legacy `data`).

    Attributes:
        id: the operation id.
        payload: a GraphQL execution result (`data`, `errors`, `extensions`).
    """

    id: str
    payload: JsonObject


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """The operation failed before or instead of producing results.

    Terminal: nothing else follows for this id. The modern protocol carries
    the whole list; the legacy one carries one object (see the codec).

    Attributes:
        id: the operation id.
        errors: formatted GraphQL errors, each with a `message`; at least one.
    """

    id: str
    errors: Sequence[JsonObject]


@dataclass(frozen=True, slots=True, kw_only=True)
class Complete:
    """The operation ended (`complete`; legacy `stop` from the client).

    Attributes:
        id: the operation id.
    """

    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed:
    """The connection is over: the peer closed it, asked to terminate it
    (legacy `connection_terminate`), or the machine closed it on a timer.

    Attributes:
        code: the close code.
        reason: the close reason, possibly empty.
    """

    code: int
    reason: str = ""


#: Any event a machine takes or gives.
Event = (
    ConnectionInit
    | ConnectionAck
    | ConnectionRejected
    | Ping
    | Pong
    | Subscribe
    | Next
    | Error
    | Complete
    | ConnectionClosed
)
