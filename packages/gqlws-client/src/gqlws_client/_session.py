"""One WebSocket connection, driven through the protocol machine.

A session opens the socket, creates a `ClientConnection`, and runs two
tasks until the connection ends: a reader feeding every frame to the machine
and handing the events to the client, and a writer flushing the machine's
outbox and driving its timer (`next_deadline()` / `handle_timeout()`). Every
protocol decision is the machine's; the session only moves frames and turns
the way the connection ended into one of the client's exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import anyio
from gqlws_protocol import (
    ClientConfig,
    ClientConnection,
    CloseCode,
    CloseFrame,
    Complete,
    ConnectionAck,
    ConnectionClosed,
    ConnectionInit,
    ConnectionRejected,
    ConnectionState,
    Error,
    Event,
    JsonObject,
    Next,
    RemoteProtocolError,
    Subprotocol,
)

from ._errors import (
    ClientClosedError,
    ConnectionClosedError,
    ConnectionLostError,
    ConnectionRejectedError,
    ConnectionTimeoutError,
    GraphqlWsConnectionError,
    GraphqlWsResponseError,
)
from ._operation import Operation
from ._transport import GraphqlWsTransport

__all__ = ["Session", "SessionHost"]

logger = logging.getLogger(__name__)

# How long closing the socket may take before we give up on the handshake.
_CLOSE_TIMEOUT = 5.0


class SessionHost(Protocol):
    """What a session needs from the client that runs it."""

    async def connection_params(self) -> JsonObject | None:
        """The `connection_init` payload for a new connection."""

    def session_opened(self, session: Session) -> list[Operation]:
        """The socket is open: the operations to send (after the ack)."""

    def on_ack(self, session: Session) -> None:
        """The server acknowledged the connection."""

    def on_next(self, op_id: str, result: JsonObject) -> None:
        """A result for an active operation."""

    def on_end(self, op_id: str, error: GraphqlWsResponseError | None) -> None:
        """The server completed (`error` None) or failed an operation."""


class Session:
    """One socket's life: connect, initialise, serve, close.

    Args:
        host: the client, which owns the operations.
        transport: the WebSocket transport.
        offered: the subprotocols to offer, in order.
        config: the machine's timers.
        connect_timeout: seconds for the WebSocket handshake, or None.
    """

    def __init__(
        self,
        host: SessionHost,
        transport: GraphqlWsTransport,
        *,
        offered: Sequence[str],
        config: ClientConfig,
        connect_timeout: float | None,
    ) -> None:
        self._host = host
        self._transport = transport
        self._offered = tuple(offered)
        self._config = config
        self._connect_timeout = connect_timeout
        #: The machine, once the socket is open.
        self.machine: ClientConnection | None = None
        #: Whether the server acknowledged the connection.
        self.acked = False
        #: The `connection_ack` payload.
        self.ack_payload: JsonObject | None = None
        #: How the connection ended (the first cause seen wins).
        self.error: GraphqlWsConnectionError | None = None
        self._ended = anyio.Event()
        self._wake = anyio.Event()

    @property
    def subprotocol(self) -> Subprotocol | None:
        """The subprotocol spoken, once the socket is open."""
        return None if self.machine is None else self.machine.subprotocol

    # Called by the client (synchronous: they only queue frames).

    def send_subscribe(self, operation: Operation) -> bool:
        """Send an operation's request; False when this connection is over."""
        machine = self.machine
        if machine is None or machine.state is ConnectionState.CLOSED:
            return False
        machine.send(operation.subscribe)
        operation.sent_on = self
        self._wake.set()
        return True

    def send_complete(self, op_id: str) -> None:
        """Tell the server we stopped listening to `op_id` (if it may care)."""
        machine = self.machine
        if machine is not None:
            # The machine sends nothing for an id the server already ended,
            # or that is still held before the ack.
            machine.send(Complete(id=op_id))
            self._wake.set()

    def request_close(self, error: GraphqlWsConnectionError, code: int = 1000) -> None:
        """Close the connection on our side; `error` says why."""
        self._record(error)
        if self.machine is not None:
            self.machine.close(code)
            self._wake.set()

    async def wait_ended(self) -> None:
        """Wait until the connection is over."""
        await self._ended.wait()

    # The session itself.

    async def run(self) -> GraphqlWsConnectionError:
        """Connect, serve until the connection ends, and say how it ended.

        Returns:
            The error describing the end (for our own close as well: a
            `ClientClosedError`). Never raises but for cancellation.
        """
        try:
            try:
                await self._open()
            except GraphqlWsConnectionError as exc:
                self._record(exc)
            else:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._read)
                    tg.start_soon(self._write)
                    await self._ended.wait()
                    tg.cancel_scope.cancel()
        finally:
            self._ended.set()
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
                await self._transport.close(CloseCode.NORMAL_CLOSURE)
        if self.error is None:  # pragma: no cover (every path records one)
            self.error = ClientClosedError("the connection was closed")
        return self.error

    async def _open(self) -> None:
        timeout = self._connect_timeout
        try:
            with anyio.fail_after(timeout):
                selected = await self._transport.connect(self._offered)
        except GraphqlWsConnectionError:
            raise
        except TimeoutError as exc:
            raise ConnectionTimeoutError(f"no websocket handshake within {timeout:g} s") from exc
        except Exception as exc:
            raise ConnectionLostError(f"cannot connect: {exc!r}") from exc
        if selected not in self._offered:
            # reference/protocols.md C.3 item 1: no retry, like a 4406 close.
            reason = f"server selected subprotocol {selected!r}, not one of {list(self._offered)}"
            with anyio.move_on_after(_CLOSE_TIMEOUT):
                await self._transport.close(CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, reason[:120])
            raise ConnectionRejectedError(
                f"the {reason}", code=CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, reason=reason
            )
        # The ack timeout counts from here, connection_params included.
        machine = ClientConnection(selected, self._config, now=anyio.current_time())
        self.machine = machine
        logger.debug("websocket open, subprotocol %s", selected)
        try:
            params = await self._host.connection_params()
        except Exception as exc:
            error = GraphqlWsConnectionError(
                f"connection_params raised {exc!r}",
                code=CloseCode.INTERNAL_CLIENT_ERROR,
                reason="Internal client error",
            )
            error.__cause__ = exc
            self.request_close(error, CloseCode.INTERNAL_CLIENT_ERROR)
            return
        machine.send(ConnectionInit(payload=params))
        # The machine holds these until the ack (reference/protocols.md C.3 item 3).
        for operation in self._host.session_opened(self):
            machine.send(operation.subscribe)
            operation.sent_on = self

    async def _read(self) -> None:
        machine = self.machine
        assert machine is not None
        while True:
            try:
                text = await self._transport.receive()
            except ConnectionClosedError as exc:
                machine.receive_close(exc.code, exc.reason)
                code = 1006 if exc.code is None else exc.code
                self._record(_closed_by_peer(code, exc.reason, exc))
                self._ended.set()
                return
            except Exception as exc:
                machine.receive_close(None)
                self._record(_closed_by_peer(1006, "", exc))
                self._ended.set()
                return
            try:
                events = machine.receive_text(text, anyio.current_time())
            except RemoteProtocolError as exc:
                # The close (4004) is queued; the writer sends it.
                error = ConnectionLostError(
                    f"the server broke the protocol: {exc}", code=exc.code, reason=exc.reason
                )
                error.__cause__ = exc
                self._record(error)
                self._wake.set()
                return
            self._dispatch(events)
            self._wake.set()

    async def _write(self) -> None:
        machine = self.machine
        assert machine is not None
        while True:
            # Created before draining, so a wake-up during the sends is kept.
            self._wake = anyio.Event()
            for event in machine.handle_timeout(anyio.current_time()):
                if isinstance(event, ConnectionClosed):
                    self._record(
                        ConnectionTimeoutError(
                            f"the client closed the connection: {event.reason}",
                            code=event.code,
                            reason=event.reason,
                        )
                    )
            for frame in machine.data_to_send():
                if isinstance(frame, CloseFrame):
                    self._record(ClientClosedError("the connection was closed", code=frame.code))
                    # A server that sent no ack, pong or `ka` in time will
                    # not answer the close either: do not wait for it (the
                    # reference client's `terminate()`).
                    unresponsive = isinstance(self.error, ConnectionTimeoutError)
                    close = self._transport.abort if unresponsive else self._transport.close
                    with anyio.move_on_after(_CLOSE_TIMEOUT):
                        await close(frame.code, frame.reason)
                    self._ended.set()
                    return
                try:
                    await self._transport.send(frame)
                except Exception as exc:
                    code = exc.code if isinstance(exc, ConnectionClosedError) else None
                    machine.receive_close(code)
                    self._record(_closed_by_peer(1006 if code is None else code, "", exc))
                    self._ended.set()
                    return
            if self._wake.is_set():
                continue
            deadline = machine.next_deadline()
            if deadline is None:
                await self._wake.wait()
            else:
                with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                    await self._wake.wait()

    def _dispatch(self, events: list[Event]) -> None:
        host = self._host
        for event in events:
            if isinstance(event, Next):
                host.on_next(event.id, event.payload)
            elif isinstance(event, Complete):
                host.on_end(event.id, None)
            elif isinstance(event, Error):
                host.on_end(
                    event.id, GraphqlWsResponseError(list(event.errors), operation_id=event.id)
                )
            elif isinstance(event, ConnectionAck):
                self.acked = True
                self.ack_payload = event.payload
                host.on_ack(self)
            elif isinstance(event, ConnectionRejected):
                # Legacy `connection_error`; a ConnectionClosed follows.
                self._record(
                    ConnectionRejectedError(
                        f"the server refused the connection: {event.reason or event.payload}",
                        code=CloseCode.FORBIDDEN,
                        reason=event.reason,
                        payload=event.payload,
                    )
                )
            elif isinstance(event, ConnectionClosed):
                self._record(_closed_by_peer(event.code, event.reason, None))
            # Ping, Pong: the machine answered and updated its timers.

    def _record(self, error: GraphqlWsConnectionError) -> None:
        if self.error is None:
            self.error = error
            logger.debug("connection ending: %s", error)


def _closed_by_peer(
    code: int, reason: str, cause: BaseException | None
) -> GraphqlWsConnectionError:
    """The error for a connection the server (or the network) ended."""
    error: GraphqlWsConnectionError
    if code in (CloseCode.FORBIDDEN, CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE):
        error = ConnectionRejectedError(
            f"the server refused the connection: {code} {reason!r}", code=code, reason=reason
        )
    elif code == 1006:
        error = ConnectionLostError(
            f"the connection was lost: {cause!r}" if cause else "the connection was lost",
            code=code,
            reason=reason,
        )
    else:
        error = ConnectionLostError(
            f"the server closed the connection: {code} {reason!r}", code=code, reason=reason
        )
    error.__cause__ = cause
    return error
