"""What the server and client machines share: state, outbox, closing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, NoReturn

from ._codec import Codec, DecodeError, JsonDumps, JsonLoads, Role, Subprotocol
from ._errors import LocalProtocolError, RemoteProtocolError, limit_close_reason
from ._events import ConnectionClosed, Event

__all__ = ["CloseFrame", "ConnectionState", "Frame"]


class ConnectionState(Enum):
    """Where a connection stands; the same four states serve both roles."""

    #: The socket is open; no `connection_init` was sent or received yet.
    IDLE = "idle"
    #: `connection_init` went out (client) or came in (server); no answer yet.
    INITIALIZING = "initializing"
    #: `connection_ack` was sent or received: operations may flow.
    READY = "ready"
    #: A close frame was queued or received; nothing more is sent.
    CLOSED = "closed"


# Reading an Enum member off its class goes through a descriptor (about 60 ns
# on CPython 3.11); the hot paths compare against module constants instead.
_CLOSED = ConnectionState.CLOSED


@dataclass(frozen=True, slots=True)
class CloseFrame:
    """The last frame of a connection: close the WebSocket with this.

    Attributes:
        code: the close code.
        reason: the close reason, at most 123 bytes of UTF-8.
    """

    code: int
    reason: str = ""


#: What `data_to_send()` returns: text frames, possibly ending with a close.
Frame = str | CloseFrame

# Handlers are plain functions of the subclass (unbound methods), hence `Any`
# for their first argument; the second is the exact event class the table
# keys on. They never leave this package.
_Handler = Callable[[Any, Any, float], list[Event]]
_Table = Mapping[tuple[ConnectionState, type[Event]], _Handler]


class Machine:
    """The common core of `ServerConnection` and `ClientConnection`."""

    _role: Role
    # (state, event type) -> handler; a missing pair is a protocol violation.
    _RECEIVE: ClassVar[_Table]
    # The close code for a peer's malformed or misplaced message.
    _BAD_MESSAGE_CODE: int

    def __init__(
        self,
        subprotocol: Subprotocol | str,
        loads: JsonLoads | None,
        dumps: JsonDumps | None,
    ) -> None:
        self._codec = Codec(subprotocol, self._role, loads=loads, dumps=dumps)
        self._legacy = self._codec.subprotocol is Subprotocol.GRAPHQL_WS
        self._outbox: list[Frame] = []
        self._state = ConnectionState.IDLE
        # Active operation ids; the value is machine-specific bookkeeping.
        self._operations: dict[str, int] = {}
        # The latest time the adapter gave (construction, receive_text,
        # handle_timeout): what `send()` schedules from, since it takes none.
        self._now = 0.0

    @property
    def subprotocol(self) -> Subprotocol:
        """The subprotocol this connection speaks."""
        return self._codec.subprotocol

    @property
    def state(self) -> ConnectionState:
        """The current state."""
        return self._state

    @property
    def active_operations(self) -> frozenset[str]:
        """Ids of the operations active right now."""
        return frozenset(self._operations)

    def receive_text(self, text: str, now: float) -> list[Event]:
        """Feed one text frame from the peer.

        Args:
            text: the frame's text.
            now: the current time in seconds, from the clock that the timers
                use (for instance `time.monotonic()`).

        Returns:
            The events for the adapter to act on, in order. Replies the
            machine makes by itself (pong, close, legacy errors) are queued
            in the outbox.

        Raises:
            RemoteProtocolError: the peer broke the protocol; the close frame
                is queued and the connection is closed.
        """
        if self._state is _CLOSED:
            # Frames that crossed our close on the wire.
            return []
        self._now = now
        try:
            event = self._codec.decode(text)
        except DecodeError as exc:
            return self._bad_message(exc)
        handler = self._RECEIVE.get((self._state, type(event)))
        if handler is None:
            self._fail(
                self._BAD_MESSAGE_CODE,
                f"unexpected {type(event).__name__} in state {self._state.name}",
            )
        return handler(self, event, now)

    def receive_bytes(self, data: bytes, now: float) -> list[Event]:
        """Feed one binary frame from the peer.

        Both subprotocols carry messages in text frames only, so a binary
        frame is handled like any invalid message (close 4400 on a modern
        server, an `error` message on a legacy one, 4004 on a client).

        Raises:
            RemoteProtocolError: as for `receive_text`.
        """
        if self._state is _CLOSED:
            return []
        self._now = now
        return self._bad_message(
            DecodeError(f"binary frames are not allowed ({len(data)} bytes); send JSON as text")
        )

    def receive_close(self, code: int | None, reason: str = "") -> list[Event]:
        """Tell the machine that the WebSocket closed (either side, or lost).

        Args:
            code: the close code received, or None when the socket was lost
                without a close frame (reported as 1006).
            reason: the close reason received.

        Returns:
            `[ConnectionClosed]`, or `[]` when already closed.
        """
        if self._state is _CLOSED:
            return []
        self._state = _CLOSED
        self._operations.clear()
        self._closed()
        return [ConnectionClosed(code=1006 if code is None else code, reason=reason)]

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Queue a close frame; nothing else is sent afterwards.

        A no-op when the connection is already closed.
        """
        if self._state is not _CLOSED:
            self._close(code, reason)

    def data_to_send(self) -> list[Frame]:
        """Drain the outbox: text frames in order, at most one final close."""
        out, self._outbox = self._outbox, []
        return out

    def _bad_message(self, exc: DecodeError) -> list[Event]:
        self._fail(self._BAD_MESSAGE_CODE, str(exc))

    def _queue(self, event: Event) -> None:
        self._outbox.append(self._encode(event))

    def _encode(self, event: Event) -> str:
        try:
            return self._codec.encode(event)
        except LocalProtocolError:
            raise
        except (TypeError, ValueError, RecursionError) as exc:
            # A payload the JSON serialiser refuses is the caller's mistake.
            raise LocalProtocolError(
                f"cannot encode {type(event).__name__} as JSON: {exc}"
            ) from exc

    def _close(self, code: int, reason: str) -> None:
        self._outbox.append(CloseFrame(code, limit_close_reason(reason)))
        self._state = _CLOSED
        self._operations.clear()
        self._closed()

    def _closed(self) -> None:
        """Hook: the connection just closed; drop the timers."""

    def _fail(self, code: int, message: str) -> NoReturn:
        self._close(code, message)
        raise RemoteProtocolError(message, code=code)

    def _closing(self, code: int, reason: str) -> list[Event]:
        self._close(code, reason)
        return [ConnectionClosed(code=code, reason=reason)]

    def _check_send(self, event: Event) -> _Handler | None:
        """The send handler for `event`; None means drop it silently."""
        if self._state is _CLOSED:
            # Operations may finish after the socket closed; that is a race
            # of the transport, not a misuse.
            return None
        handler = self._SEND.get((self._state, type(event)))
        if handler is None:
            raise LocalProtocolError(
                f"a {self._role.value} cannot send {type(event).__name__} "
                f"in state {self._state.name}"
            )
        return handler

    _SEND: ClassVar[_Table]

    def send(self, event: Event) -> None:
        """Queue an event for the peer, checking it against the state.

        Sends after the connection closed are dropped silently: operations
        often finish after their socket went away.

        Raises:
            LocalProtocolError: the event is not allowed in this state or on
                this subprotocol.
        """
        handler = self._check_send(event)
        if handler is not None:
            handler(self, event, self._now)
