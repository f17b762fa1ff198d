"""The exception tree of the client.

Everything the client raises on its own derives from `GraphqlWsError`;
exceptions of aiohttp, trio, trio-websocket and the socket layer are caught
at the transport boundary and raised again as one of these, with the
original kept as `__cause__`::

    GraphqlWsError
    ├── GraphqlWsConnectionError          code, reason
    │   ├── ConnectionRejectedError       the server refused: status, payload
    │   └── ConnectionClosedError         the connection ended
    │       ├── ClientClosedError         ... because we closed it
    │       └── ConnectionLostError       ... broken by the peer or the network
    │           └── ConnectionTimeoutError  ... which stopped answering in time
    ├── GraphqlWsResponseError            response, errors, operation_id
    ├── GraphqlWsTimeoutError             (also a builtin TimeoutError)
    │   └── ConnectionTimeoutError
    └── BufferOverflowError               a subscription's buffer overflowed
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from gqlws_protocol import JsonObject

__all__ = [
    "BufferOverflowError",
    "ClientClosedError",
    "ConnectionClosedError",
    "ConnectionLostError",
    "ConnectionRejectedError",
    "ConnectionTimeoutError",
    "GraphqlWsConnectionError",
    "GraphqlWsError",
    "GraphqlWsResponseError",
    "GraphqlWsTimeoutError",
]


class GraphqlWsError(Exception):
    """Base class of every exception the client raises on its own."""


class GraphqlWsConnectionError(GraphqlWsError):
    """The connection could not be opened, or could not be kept.

    Raised as such for a failure on our side that ended the connection (for
    instance `connection_params` raised: close code 4005); otherwise one of
    the subclasses says what happened.

    Args:
        message: what happened.
        code: the WebSocket close code involved, or None when the socket
            never opened or was lost without a close frame.
        reason: the close reason, possibly empty.

    Attributes:
        code: the close code, or None.
        reason: the close reason.
    """

    def __init__(self, message: str, *, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class ConnectionRejectedError(GraphqlWsConnectionError):
    """The server refused the connection.

    Refusals are: an HTTP error instead of the WebSocket upgrade (`status`),
    no acceptable subprotocol (code 4406), close 4403 (`Forbidden`), or a
    legacy `connection_error` message (`payload`). Never retried, except an
    HTTP 5xx answer, which usually comes from a proxy in front of a server
    that restarts.

    Args:
        message: what happened.
        code: the close code, or None for an HTTP refusal.
        reason: the close reason.
        status: the HTTP status of a refused handshake, or None.
        payload: the payload of a legacy `connection_error`, or None.

    Attributes:
        status: the HTTP status of a refused handshake, or None.
        payload: the payload of a legacy `connection_error`, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str = "",
        status: int | None = None,
        payload: JsonObject | None = None,
    ) -> None:
        super().__init__(message, code=code, reason=reason)
        self.status = status
        self.payload = payload


class ConnectionClosedError(GraphqlWsConnectionError):
    """The connection ended while it was needed.

    Transports raise it (from `receive()` and `send()`) when the socket
    closed; the client then raises one of the subclasses.
    """


class ClientClosedError(ConnectionClosedError):
    """We closed the connection: `aclose()` ran, or the client is closed."""


class ConnectionLostError(ConnectionClosedError):
    """The peer or the network broke the connection.

    The server closed the socket (`code` and `reason` say how), the network
    failed (`code` None or 1006), or the server broke the protocol and the
    client closed with 4004.
    """


class GraphqlWsTimeoutError(GraphqlWsError, TimeoutError):
    """Something did not happen in time; also a builtin `TimeoutError`."""


class ConnectionTimeoutError(ConnectionLostError, GraphqlWsTimeoutError):
    """The peer stopped answering in time.

    No WebSocket handshake within `connect_timeout` (`code` None), no
    `connection_ack` within `ack_timeout` (4504), or no `pong` / legacy `ka`
    in time (4499). The client closed the connection; it may reconnect.
    """


class BufferOverflowError(GraphqlWsError):
    """A subscription received more results than its buffer holds.

    Raised by the subscription with `overflow="fail"`; the client already
    sent `complete` (`stop`) for it.

    Args:
        message: what happened.
        operation_id: the operation whose buffer overflowed.

    Attributes:
        operation_id: the operation whose buffer overflowed.
    """

    def __init__(self, message: str, *, operation_id: str | None = None) -> None:
        super().__init__(message)
        self.operation_id = operation_id


class GraphqlWsResponseError(GraphqlWsError):
    """The server answered an operation with GraphQL errors.

    Either an `error` message (the operation failed before or instead of
    running; legacy servers send one error object, given here as a list of
    one), or a result whose `errors` list is not empty (then
    `response["data"]` holds the partial data, if any).

    Args:
        response: the execution result (a mapping), or the error list of an
            `error` message.
        message: the exception text; by default it names the operation and
            the first error.
        operation_id: the id of the operation, if known.

    Attributes:
        response: as given.
        errors: the GraphQL errors, always a list (possibly empty when
            `response` carries none).
        message: the text given, or None.
        operation_id: the id of the operation, or None.
    """

    def __init__(
        self,
        response: JsonObject | Sequence[JsonObject],
        message: str | None = None,
        *,
        operation_id: str | None = None,
    ) -> None:
        self.response = response
        self.message = message
        self.operation_id = operation_id
        self.errors: list[JsonObject] = _errors_of(response)
        if message is None:
            where = "operation" if operation_id is None else f"operation {operation_id!r}"
            count = len(self.errors)
            first = str(self.errors[0].get("message")) if self.errors else "no error message"
            message = f"{where} failed with {count} graphql error(s): {first}"
        super().__init__(message)


def _errors_of(response: object) -> list[JsonObject]:
    if isinstance(response, Mapping):
        errors = response.get("errors")
        if isinstance(errors, list):
            return [e for e in errors if isinstance(e, Mapping)]
        return []
    if isinstance(response, Sequence) and not isinstance(response, (str, bytes)):
        return [e for e in response if isinstance(e, Mapping)]
    return []


_E = TypeVar("_E", bound=BaseException)


def clone_error(exc: _E) -> _E:
    """A fresh copy of `exc` (same class, attributes and cause), unraised.

    One failure often ends many operations; each waiting task raises its own
    copy so their tracebacks do not pile up on one object.
    """
    new = type(exc).__new__(type(exc))
    new.args = exc.args
    new.__dict__.update(exc.__dict__)
    new.__cause__ = exc.__cause__
    new.__context__ = exc.__context__
    new.__suppress_context__ = exc.__suppress_context__
    return new
