"""Close codes and the exception tree of the protocol core."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CloseCode", "LocalProtocolError", "ProtocolError", "RemoteProtocolError"]

# A close frame carries at most 125 bytes of payload, two of which hold the code
# (RFC 6455 section 5.5), so the reason may use 123 bytes of UTF-8.
MAX_CLOSE_REASON_BYTES = 123


class CloseCode(IntEnum):
    """WebSocket close codes used by both subprotocols.

    The 1xxx codes come from RFC 6455 section 7.4.1; the 4xxx codes from the
    `graphql-transport-ws` specification (graphql-ws PROTOCOL.md).
    """

    #: "indicates a normal closure, meaning that the purpose for which the
    #: connection was established has been fulfilled" (RFC 6455).
    NORMAL_CLOSURE = 1000
    #: "an endpoint is going away, such as a server going down" (RFC 6455);
    #: also used here when a peer stops answering pings.
    GOING_AWAY = 1001
    #: "an endpoint is terminating the connection due to a protocol error".
    PROTOCOL_ERROR = 1002
    #: "a server is terminating the connection because it encountered an
    #: unexpected condition that prevented it from fulfilling the request".
    INTERNAL_ERROR = 1011
    #: The server restarts; the client should reconnect (RFC 6455 registry).
    SERVICE_RESTART = 1012
    #: Temporary overload; the client should reconnect later.
    TRY_AGAIN_LATER = 1013
    #: A gateway received an invalid response from upstream.
    BAD_GATEWAY = 1014
    #: "Invalid message received": unparsable or invalid message, unknown type.
    BAD_REQUEST = 4400
    #: "Unauthorized": `subscribe` before the connection was acknowledged.
    UNAUTHORIZED = 4401
    #: "Forbidden": the server refused the connection during initialisation.
    FORBIDDEN = 4403
    #: "Subprotocol not acceptable": no subprotocol both peers speak.
    SUBPROTOCOL_NOT_ACCEPTABLE = 4406
    #: "Connection initialisation timeout": no `connection_init` in time.
    CONNECTION_INITIALISATION_TIMEOUT = 4408
    #: "Subscriber for <id> already exists": an operation id still active.
    SUBSCRIBER_ALREADY_EXISTS = 4409
    #: "Too many initialisation requests": a second `connection_init`.
    TOO_MANY_INITIALISATION_REQUESTS = 4429
    #: "Internal server error": an exception escaped the server's handling.
    INTERNAL_SERVER_ERROR = 4500
    #: "Bad response": the client received an invalid message, or something
    #: other than ping/pong before `connection_ack`.
    BAD_RESPONSE = 4004
    #: "Internal client error": the client failed on its own side.
    INTERNAL_CLIENT_ERROR = 4005
    #: "Terminated": the client gave up on a socket that stopped responding.
    TERMINATED = 4499
    #: "Connection acknowledgement timeout": no `connection_ack` in time.
    CONNECTION_ACKNOWLEDGEMENT_TIMEOUT = 4504


def limit_close_reason(reason: str) -> str:
    """Cut `reason` so that it fits a close frame (at most 123 UTF-8 bytes)."""
    encoded = reason.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return reason
    # Cut on a character boundary, marking the cut with an ellipsis (3 bytes).
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "…"


class ProtocolError(Exception):
    """Base class of the errors raised by the protocol machines.

    Not raised directly: one of its two subclasses says whose fault it was.
    """

    def __init__(self, message: str, *, code: int = CloseCode.BAD_REQUEST) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError, not ProtocolError")
        super().__init__(message)
        #: The close code that reports this error to the peer.
        self.code = code
        #: The close reason, already cut to fit a close frame.
        self.reason = limit_close_reason(message)


class LocalProtocolError(ProtocolError):
    """The caller asked the machine to do something the protocol forbids.

    Raised by `send()` and the other verbs; nothing was queued.
    """


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol.

    Raised by `receive_text()`; the close frame carrying `code` and `reason`
    is already queued in the outbox and the connection is closed.
    """
