"""The client side of both subprotocols."""

from __future__ import annotations

from typing import ClassVar

from ._codec import Role, Subprotocol
from ._config import ClientConfig
from ._errors import CloseCode, LocalProtocolError
from ._events import (
    Complete,
    ConnectionAck,
    ConnectionClosed,
    ConnectionInit,
    ConnectionRejected,
    Error,
    Event,
    Next,
    Ping,
    Pong,
    Subscribe,
)
from ._machine import ConnectionState, Machine, _Handler, _Table

__all__ = ["ClientConnection"]

_IDLE = ConnectionState.IDLE
_INITIALIZING = ConnectionState.INITIALIZING
_READY = ConnectionState.READY
_CLOSED = ConnectionState.CLOSED
_OPEN = (_IDLE, _INITIALIZING, _READY)

# Per-operation bookkeeping in `_operations`.
_HELD = 0  # requested before the ack; goes out right after it
_SENT = 1


class ClientConnection(Machine):
    """The client's half of a GraphQL-over-WebSocket connection, without IO.

    Send `ConnectionInit` first, then `Subscribe` whenever you like: those
    sent before the server's ack are held and go out right after it. Feed
    what the socket receives (`receive_text`, `receive_close`), flush
    `data_to_send()`, and arm one timer from `next_deadline()`.

    Args:
        subprotocol: the subprotocol the server selected.
        config: timers; default `ClientConfig()`.
        now: the current time in seconds; the ack timeout counts from it,
            so create the machine when the socket opens. Pings count from
            the ack.
    """

    _role = Role.CLIENT
    _BAD_MESSAGE_CODE = CloseCode.BAD_RESPONSE

    def __init__(
        self,
        subprotocol: Subprotocol | str,
        config: ClientConfig | None = None,
        *,
        now: float,
    ) -> None:
        self.config = config or ClientConfig()
        super().__init__(subprotocol, self.config.json_loads, self.config.json_dumps)
        self._now = now
        cfg = self.config
        # Operations requested before the ack: (id, encoded frame).
        self._held: list[tuple[str, str]] = []
        self._ack_deadline = None if cfg.ack_timeout is None else now + cfg.ack_timeout
        # The legacy protocol has no client ping; its liveness is the server's `ka`.
        ping = None if self._legacy else cfg.ping_interval
        self._ping_deadline = None if ping is None else now + ping
        self._pong_deadline: float | None = None
        self._ka_deadline: float | None = None

    # Timers.

    def next_deadline(self) -> float | None:
        """When `handle_timeout` must next be called, or None for never."""
        if self._state is _CLOSED:
            return None
        # The earliest armed deadline, without building a list: adapters call
        # this after every flush.
        deadline = self._ack_deadline
        for candidate in (self._ping_deadline, self._pong_deadline, self._ka_deadline):
            if candidate is not None and (deadline is None or candidate < deadline):
                deadline = candidate
        return deadline

    def handle_timeout(self, now: float) -> list[Event]:
        """Act on every deadline that has passed by `now`.

        Returns:
            `[ConnectionClosed]` when a timeout closed the connection (4504
            without an ack, 4499 without pong or `ka`), else `[]`.
        """
        if self._state is _CLOSED:
            return []
        self._now = now
        cfg = self.config
        if self._ack_deadline is not None and now >= self._ack_deadline:
            return self._closing(
                CloseCode.CONNECTION_ACKNOWLEDGEMENT_TIMEOUT, "Connection acknowledgement timeout"
            )
        if self._pong_deadline is not None and now >= self._pong_deadline:
            return self._closing(
                CloseCode.TERMINATED, f"no pong within {cfg.pong_timeout:g} s of a ping"
            )
        if self._ka_deadline is not None and now >= self._ka_deadline:
            return self._closing(
                CloseCode.TERMINATED, f"no keep-alive within {cfg.keepalive_timeout:g} s"
            )
        if self._ping_deadline is not None and now >= self._ping_deadline:
            assert cfg.ping_interval is not None
            self._ping_deadline = now + cfg.ping_interval
            if self._state is _READY:
                self._queue(Ping())
                if cfg.pong_timeout is not None and self._pong_deadline is None:
                    self._pong_deadline = now + cfg.pong_timeout
        return []

    def _closed(self) -> None:
        self._held.clear()
        self._ack_deadline = self._ping_deadline = None
        self._pong_deadline = self._ka_deadline = None

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Queue the end of the connection; nothing else is sent afterwards.

        On graphql-ws a `connection_terminate` message goes first, as the
        legacy protocol asks. A no-op when already closed.
        """
        if self._state is _CLOSED:
            return
        if self._legacy:
            self._queue(ConnectionClosed(code=code, reason=reason))
        self._close(code, reason)

    # Receiving.

    def _on_ack(self, event: Event, now: float) -> list[Event]:
        self._state = _READY
        self._ack_deadline = None
        if self._ping_deadline is not None:
            # Client pings count from the ack.
            assert self.config.ping_interval is not None
            self._ping_deadline = now + self.config.ping_interval
        held, self._held = self._held, []
        for op_id, text in held:
            self._operations[op_id] = _SENT
            self._outbox.append(text)
        return [event]

    def _on_rejected(self, event: Event, now: float) -> list[Event]:
        assert isinstance(event, ConnectionRejected)
        # Legacy `connection_error`; the server closes right after it.
        self._close(CloseCode.NORMAL_CLOSURE, "")
        return [event, ConnectionClosed(code=CloseCode.FORBIDDEN, reason=event.reason)]

    def _on_ping(self, event: Event, now: float) -> list[Event]:
        assert isinstance(event, Ping)
        try:
            self._queue(Pong(payload=event.payload))
        except LocalProtocolError:
            # A payload the parser took but the serialiser refuses (nested
            # near the recursion limit, or past a custom serialiser's depth
            # limit): answer anyway, the echo is only a SHOULD (PROTOCOL.md).
            self._queue(Pong())
        return [event]

    def _on_pong(self, event: Event, now: float) -> list[Event]:
        self._pong_deadline = None
        if self._legacy and self.config.keepalive_timeout is not None:
            # Legacy `ka`: the watchdog starts with the first one.
            self._ka_deadline = now + self.config.keepalive_timeout
        return [event]

    def _on_result(self, event: Event, now: float) -> list[Event]:
        assert isinstance(event, Next)
        # Results for unknown or finished ids are dropped (both protocols).
        return [event] if self._operations.get(event.id) == _SENT else []

    def _on_end(self, event: Event, now: float) -> list[Event]:
        assert isinstance(event, (Error, Complete))
        if self._operations.get(event.id) != _SENT:
            return []
        del self._operations[event.id]
        return [event]

    # Sending.

    def _check_send(self, event: Event) -> _Handler | None:
        if self._state is _CLOSED and isinstance(event, Subscribe):
            raise LocalProtocolError(f"cannot subscribe {event.id!r}: the connection is closed")
        return super()._check_send(event)

    def _send_init(self, event: Event, now: float) -> list[Event]:
        self._state = _INITIALIZING
        self._queue(event)
        return []

    def _claim_id(self, event: Subscribe, status: int) -> None:
        if event.id in self._operations:
            raise LocalProtocolError(f"operation id {event.id!r} is already active")
        if not event.id:
            raise LocalProtocolError("operation id must be a non-empty string")
        self._operations[event.id] = status

    def _send_early_subscribe(self, event: Event, now: float) -> list[Event]:
        assert isinstance(event, Subscribe)
        # Encoded now, so a payload JSON refuses fails here, not at the ack.
        text = self._encode(event)
        self._claim_id(event, _HELD)
        self._held.append((event.id, text))
        return []

    def _send_subscribe(self, event: Event, now: float) -> list[Event]:
        assert isinstance(event, Subscribe)
        # Encode first: a refused event (LocalProtocolError) claims no id.
        text = self._encode(event)
        self._claim_id(event, _SENT)
        self._outbox.append(text)
        return []

    def _send_complete(self, event: Event, now: float) -> list[Event]:
        assert isinstance(event, Complete)
        status = self._operations.pop(event.id, None)
        if status == _SENT:
            self._queue(event)
        elif status == _HELD:
            self._held = [held for held in self._held if held[0] != event.id]
        # Already ended by the server: the client sends nothing for it.
        return []

    def _send_control(self, event: Event, now: float) -> list[Event]:
        self._queue(event)
        return []

    _RECEIVE: ClassVar[_Table] = {
        (_IDLE, ConnectionAck): _on_ack,
        (_INITIALIZING, ConnectionAck): _on_ack,
        (_READY, Next): _on_result,
        (_READY, Error): _on_end,
        (_READY, Complete): _on_end,
        **dict.fromkeys([(s, ConnectionRejected) for s in _OPEN], _on_rejected),
        **dict.fromkeys([(s, Ping) for s in _OPEN], _on_ping),
        **dict.fromkeys([(s, Pong) for s in _OPEN], _on_pong),
    }

    _SEND: ClassVar[_Table] = {
        (_IDLE, ConnectionInit): _send_init,
        (_IDLE, Subscribe): _send_early_subscribe,
        (_INITIALIZING, Subscribe): _send_early_subscribe,
        (_READY, Subscribe): _send_subscribe,
        **dict.fromkeys([(s, Complete) for s in _OPEN], _send_complete),
        **dict.fromkeys([(s, Ping) for s in _OPEN], _send_control),
        **dict.fromkeys([(s, Pong) for s in _OPEN], _send_control),
    }
