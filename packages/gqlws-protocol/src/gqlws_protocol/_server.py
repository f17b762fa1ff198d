"""The server side of both subprotocols."""

from __future__ import annotations

from typing import ClassVar

from ._codec import DecodeError, Role, Subprotocol, encode_error_reply
from ._config import ServerConfig
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
from ._machine import ConnectionState, Machine, _Table

__all__ = ["ServerConnection"]

_IDLE = ConnectionState.IDLE
_INITIALIZING = ConnectionState.INITIALIZING
_READY = ConnectionState.READY
_CLOSED = ConnectionState.CLOSED
_OPEN = (_IDLE, _INITIALIZING, _READY)

# Per-operation bookkeeping in `_operations`.
_PENDING = 0  # single result expected, none sent yet
_ANSWERED = 1  # the single result was sent; only `complete` may follow
_STREAMING = 2  # a subscription the adapter reported active


class ServerConnection(Machine):
    """The server's half of a GraphQL-over-WebSocket connection, without IO.

    Feed it what the socket receives (`receive_text`, `receive_close`), act
    on the events it returns, `send` results, flush `data_to_send()` to the
    socket, and arm one timer from `next_deadline()` that calls
    `handle_timeout`.

    Args:
        subprotocol: the negotiated subprotocol (see `negotiate`).
        config: timers and limits; default `ServerConfig()`.
        now: the current time in seconds; the init timeout counts from it,
            so create the machine when the socket opens. Pings count from
            the ack (from the time of the last frame received before it).
    """

    _role = Role.SERVER
    _BAD_MESSAGE_CODE = CloseCode.BAD_REQUEST

    def __init__(
        self,
        subprotocol: Subprotocol | str,
        config: ServerConfig | None = None,
        *,
        now: float,
    ) -> None:
        self.config = config or ServerConfig()
        super().__init__(subprotocol, self.config.json_loads, self.config.json_dumps)
        self._now = now
        cfg = self.config
        self._init_deadline = None if cfg.init_timeout is None else now + cfg.init_timeout
        self._ping_deadline = None if cfg.ping_interval is None else now + cfg.ping_interval
        self._pong_deadline: float | None = None
        if self._legacy:
            # Legacy clients never answer `ka`.
            self._pong_timeout = None
        else:
            self._pong_timeout = cfg.pong_timeout

    # Timers.

    def next_deadline(self) -> float | None:
        """When `handle_timeout` must next be called, or None for never."""
        if self._state is _CLOSED:
            return None
        # The earliest armed deadline, without building a list: adapters call
        # this after every flush.
        deadline = self._init_deadline
        for candidate in (self._ping_deadline, self._pong_deadline):
            if candidate is not None and (deadline is None or candidate < deadline):
                deadline = candidate
        return deadline

    def handle_timeout(self, now: float) -> list[Event]:
        """Act on every deadline that has passed by `now`.

        Returns:
            `[ConnectionClosed]` when a timeout closed the connection (4408
            without `connection_init`, 1001 without a pong), else `[]`.
        """
        if self._state is _CLOSED:
            return []
        self._now = now
        if self._init_deadline is not None and now >= self._init_deadline:
            self._init_deadline = None
            if self._state is _IDLE:
                return self._closing(
                    CloseCode.CONNECTION_INITIALISATION_TIMEOUT,
                    "Connection initialisation timeout",
                )
        if self._pong_deadline is not None and now >= self._pong_deadline:
            return self._closing(
                CloseCode.GOING_AWAY, f"no pong within {self._pong_timeout:g} s of a ping"
            )
        if self._ping_deadline is not None and now >= self._ping_deadline:
            assert self.config.ping_interval is not None
            self._ping_deadline = now + self.config.ping_interval
            if self._state is _READY:
                # Legacy `ka` is a heartbeat, the modern `ping` asks for a pong.
                self._queue(Pong() if self._legacy else Ping())
                if self._pong_timeout is not None and self._pong_deadline is None:
                    self._pong_deadline = now + self._pong_timeout
        return []

    def _closed(self) -> None:
        self._init_deadline = self._ping_deadline = self._pong_deadline = None

    # Adapter verbs beyond `send`.

    def subscription_active(self, op_id: str) -> None:
        """Report that a subscription now receives its events.

        Call it once the subscription is set up (its groups joined), before
        sending its first result. It marks the operation as a stream (many
        `Next`), and with `confirm_subscriptions` queues the confirmation,
        so a client that saw the confirmation can rely on the next event
        reaching it. A no-op when the operation already ended.
        """
        if self._operations.get(op_id) != _PENDING:
            return
        self._operations[op_id] = _STREAMING
        if self.config.confirm_subscriptions:
            self._queue(Next(id=op_id, payload=self.config.confirmation_payload))

    # Receiving: (state, event type) -> handler.

    def _bad_message(self, exc: DecodeError) -> list[Event]:
        if self._legacy and exc.wire_type != "connection_init":
            # The legacy protocol answers bad frames with an `error` message
            # and keeps the socket (subscriptions-transport-ws server).
            self._outbox.append(encode_error_reply(str(exc), exc.id, self._codec._dumps))
            return []
        return super()._bad_message(exc)

    def _on_init(self, event: Event, now: float) -> list[Event]:
        # The init timer only checks that `connection_init` arrived: a slow
        # `on_connect` hook does not cause 4408 (graphql-ws reference).
        self._state = _INITIALIZING
        self._init_deadline = None
        return [event]

    def _on_second_init(self, event: Event, now: float) -> list[Event]:
        self._fail(CloseCode.TOO_MANY_INITIALISATION_REQUESTS, "Too many initialisation requests")

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
        return [event]

    def _on_early_subscribe(self, event: Event, now: float) -> list[Event]:
        # Legacy included: the Apollo reference executes `start` before
        # `connection_init`, which bypasses authentication (CVE-2026-35526).
        self._fail(CloseCode.UNAUTHORIZED, "Unauthorized")

    def _on_subscribe(self, event: Subscribe, now: float) -> list[Event]:
        op_id = event.id
        events: list[Event] = [event]
        if op_id in self._operations:
            if not self._legacy:
                self._fail(
                    CloseCode.SUBSCRIBER_ALREADY_EXISTS, f"Subscriber for {op_id} already exists"
                )
            # Legacy: the new operation replaces the active one (Apollo
            # reference); the adapter stops the old one first.
            events.insert(0, Complete(id=op_id))
            del self._operations[op_id]
        limit = self.config.max_operations
        if limit is not None and len(self._operations) >= limit:
            self._queue(
                Error(
                    id=op_id,
                    errors=[
                        {
                            "message": f"too many operations: at most {limit} may be "
                            "active at once on one connection",
                            "extensions": {"code": "TOO_MANY_OPERATIONS"},
                        }
                    ],
                )
            )
            return events[:-1]
        self._operations[op_id] = _PENDING
        return events

    def _on_complete(self, event: Complete, now: float) -> list[Event]:
        if self._operations.pop(event.id, None) is None:
            # Unknown or finished id: both peers drop such frames.
            return []
        if self._legacy:
            # Legacy servers confirm a `stop` with `complete` (Apollo
            # reference; gql waits for it).
            self._queue(event)
        return [event]

    def _on_ignored(self, event: Event, now: float) -> list[Event]:
        return []

    def _on_terminate(self, event: Event, now: float) -> list[Event]:
        # Legacy `connection_terminate`: close normally.
        return self._closing(CloseCode.NORMAL_CLOSURE, "connection_terminate")

    # Sending: (state, event type) -> handler.

    def _send_ack(self, event: Event, now: float) -> list[Event]:
        self._queue(event)
        self._state = _READY
        interval = self.config.ping_interval
        if interval is not None:
            # Pings count from the ack (`now` is the time of the last frame
            # received, the `connection_init`).
            self._ping_deadline = now + interval
            if self._legacy:
                # Legacy servers send the first `ka` right after the ack.
                self._queue(Pong())
        return []

    def _send_reject(self, event: Event, now: float) -> list[Event]:
        assert isinstance(event, ConnectionRejected)
        if self._legacy:
            self._queue(event)
        self._close(CloseCode.FORBIDDEN, event.reason)
        return []

    def _send_control(self, event: Event, now: float) -> list[Event]:
        self._queue(event)
        return []

    def _send_next(self, event: Next, now: float) -> list[Event]:
        status = self._operations.get(event.id)
        if status is None:
            return []
        if status == _ANSWERED:
            raise LocalProtocolError(
                f"operation {event.id!r} is not a subscription and already sent its "
                "result; call subscription_active() first for streams"
            )
        # Encode first: a refused event (LocalProtocolError) changes nothing.
        self._queue(event)
        if status == _PENDING:
            self._operations[event.id] = _ANSWERED
        return []

    def _send_end(self, event: Error | Complete, now: float) -> list[Event]:
        if event.id in self._operations:
            # Encode first: a refused event (LocalProtocolError) changes nothing.
            self._queue(event)
            del self._operations[event.id]
        return []

    _RECEIVE: ClassVar[_Table] = {
        (_IDLE, ConnectionInit): _on_init,
        (_INITIALIZING, ConnectionInit): _on_second_init,
        (_READY, ConnectionInit): _on_second_init,
        (_IDLE, Subscribe): _on_early_subscribe,
        (_INITIALIZING, Subscribe): _on_early_subscribe,
        (_READY, Subscribe): _on_subscribe,
        (_IDLE, Complete): _on_ignored,
        (_INITIALIZING, Complete): _on_ignored,
        (_READY, Complete): _on_complete,
        **dict.fromkeys([(s, Ping) for s in _OPEN], _on_ping),
        **dict.fromkeys([(s, Pong) for s in _OPEN], _on_pong),
        **dict.fromkeys([(s, ConnectionClosed) for s in _OPEN], _on_terminate),
    }

    _SEND: ClassVar[_Table] = {
        (_INITIALIZING, ConnectionAck): _send_ack,
        (_INITIALIZING, ConnectionRejected): _send_reject,
        (_READY, Next): _send_next,
        (_READY, Error): _send_end,
        (_READY, Complete): _send_end,
        **dict.fromkeys([(s, Ping) for s in _OPEN], _send_control),
        **dict.fromkeys([(s, Pong) for s in _OPEN], _send_control),
    }
