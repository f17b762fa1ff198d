"""The connection side of the client: operations, sessions, reconnects.

`Supervisor` owns the active operations and runs one `Session` after the
other: it connects when a connection is wanted (always, or on demand in lazy
mode), decides after each ending whether to reconnect (`should_reconnect`,
bounded attempts, backoff), sends the active subscriptions again, and fails
the operations when it gives up. `GraphqlWsClient` is the API in front of it.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Literal

import anyio
import anyio.abc
from gqlws_protocol import ClientConfig, JsonObject, LocalProtocolError, Subscribe

from ._errors import (
    BufferOverflowError,
    ClientClosedError,
    GraphqlWsConnectionError,
    GraphqlWsError,
    GraphqlWsResponseError,
    clone_error,
)
from ._operation import Operation
from ._retry import backoff_delay, should_reconnect
from ._session import Session
from ._transport import GraphqlWsTransport

__all__ = ["ConnectionParams", "Overflow", "Policy", "Supervisor"]

logger = logging.getLogger(__name__)

_ParamsValue = Mapping[str, object] | None
#: The `connection_init` payload: a mapping, or a function (sync or async)
#: called on every connect and returning one (or None for no payload).
ConnectionParams = Mapping[str, object] | Callable[[], _ParamsValue | Awaitable[_ParamsValue]]
#: What a full subscription buffer does with one more result.
Overflow = Literal["drop_oldest", "fail"]

# How long `aclose()` waits for the closing handshake.
_CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True, kw_only=True)
class Policy:
    """The client's options, checked by `GraphqlWsClient`."""

    offered: tuple[str, ...]
    config: ClientConfig
    connection_params: ConnectionParams | None
    connect_timeout: float | None
    reconnect: bool
    max_reconnect_attempts: int | None
    reconnect_delay: tuple[float, float]
    lazy: bool
    lazy_close_timeout: float
    buffer_size: int
    overflow: Overflow


class Supervisor:
    """Operations and the connections that carry them.

    Args:
        transport: the transport, entered by `open()`.
        policy: the options.
    """

    def __init__(self, transport: GraphqlWsTransport, policy: Policy) -> None:
        self.transport = transport
        self.policy = policy
        self.ops: dict[str, Operation] = {}
        self.session: Session | None = None
        #: Whether the connection loop runs.
        self.running = False
        #: Whether `aclose()` was called.
        self.closing = False
        self._ids = itertools.count(1)
        self._stack: AsyncExitStack | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        # Non-lazy: the failure that ended the connection for good.
        self._failure: GraphqlWsError | None = None
        self._last_error: GraphqlWsError | None = None
        # Lazy: keep the connection of `connect()` until an operation ran on it.
        self._keep_open = False
        self._changed: anyio.Event | None = None

    @property
    def connected(self) -> bool:
        """Whether a connection is open and acknowledged right now."""
        session = self.session
        return session is not None and session.acked and not self.closing

    # Opening and closing.

    async def open(self) -> None:
        """Enter the transport and start the task group (once)."""
        if self.closing:
            raise ClientClosedError("the client is closed", code=1000)
        if self._stack is not None:
            return
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(self.transport)
            self._tg = await stack.enter_async_context(anyio.create_task_group())
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def connect(self) -> None:
        """Connect (if not connected) and wait for the ack, or raise."""
        await self.open()
        if self.connected:
            return
        self._failure = self._last_error = None
        self._keep_open = True
        self._ensure_running()
        while True:
            session = self.session
            if session is not None and session.acked:
                return
            if not self.running:
                raise clone_error(self._last_error or ClientClosedError("the client is closed"))
            await self._wait_changed()

    async def aclose(self) -> None:
        """Fail the waiting operations, close the connection, leave the transport."""
        if self.closing:
            return
        self.closing = True
        error = ClientClosedError("the client was closed", code=1000)
        ops = list(self.ops.values())
        self.ops.clear()
        for operation in ops:
            operation.fail(clone_error(error))
        session = self.session
        try:
            if session is not None:
                session.request_close(clone_error(error))
                with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
                    await session.wait_ended()
        finally:
            if self._tg is not None:
                self._tg.cancel_scope.cancel()
            stack, self._stack, self._tg = self._stack, None, None
            try:
                if stack is not None:
                    await stack.aclose()
            finally:
                self.session = None
                self._notify()

    # Operations.

    def start_operation(
        self,
        query: str,
        *,
        variables: Mapping[str, object] | None,
        operation_name: str | None,
        extensions: Mapping[str, object] | None,
        msg_id: str | None,
        resend: bool,
        taken: Mapping[str, object] | None = None,
    ) -> Operation:
        """Register an operation and send it (now, or on the next connection)."""
        if self.closing:
            raise ClientClosedError("the client is closed", code=1000)
        if self._tg is None:
            raise RuntimeError(
                "the client is not open: use `async with client:` or "
                "`await client.connect_and_init()` first"
            )
        if self._failure is not None:
            raise clone_error(self._failure)
        taken = taken or {}
        if msg_id is None:
            msg_id = str(next(self._ids))
            while msg_id in self.ops or msg_id in taken:
                msg_id = str(next(self._ids))
        elif msg_id in self.ops:
            raise LocalProtocolError(f"operation id {msg_id!r} is already active")
        operation = Operation(
            Subscribe(
                id=msg_id,
                query=query,
                # Plain dicts: any JSON serialiser takes them.
                variables=None if variables is None else dict(variables),
                operation_name=operation_name,
                extensions=None if extensions is None else dict(extensions),
            ),
            resend=resend,
            limit=self.policy.buffer_size,
        )
        self.ops[msg_id] = operation
        self._keep_open = False
        session = self.session
        if session is None or not session.send_subscribe(operation):
            # The next connection sends it.
            self._ensure_running()
        self._notify()
        return operation

    def cancel_operation(self, op_id: str) -> None:
        """Drop an operation on our side and tell the server (if it may care)."""
        operation = self.ops.pop(op_id, None)
        if operation is None:
            return
        operation.cancel()
        if self.session is not None:
            self.session.send_complete(op_id)
        self._notify()

    # SessionHost: what the session calls.

    async def connection_params(self) -> JsonObject | None:
        """The `connection_init` payload (calls `connection_params`)."""
        params = self.policy.connection_params
        if params is None or isinstance(params, Mapping):
            return params
        value = params()
        if inspect.isawaitable(value):
            value = await value
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(
                f"connection_params must return a mapping or None, got {type(value).__name__}"
            )
        return value

    def session_opened(self, session: Session) -> list[Operation]:
        """A new socket is open: it carries every active operation."""
        self.session = session
        self._notify()
        return list(self.ops.values())

    def on_ack(self, session: Session) -> None:
        """The connection is acknowledged."""
        logger.info("connected over %s", session.subprotocol)
        self._notify()

    def on_next(self, op_id: str, result: JsonObject) -> None:
        """Buffer a result, applying the overflow rule."""
        operation = self.ops.get(op_id)
        if operation is None or operation.push(result):
            return
        if self.policy.overflow == "drop_oldest":
            operation.drop_oldest()
            operation.push(result)
            log = logger.warning if operation.dropped == 1 else logger.debug
            log(
                "operation %r: buffer full (%d results), dropped the oldest (%d so far)",
                op_id,
                self.policy.buffer_size,
                operation.dropped,
            )
            return
        del self.ops[op_id]
        operation.fail(
            BufferOverflowError(
                f"operation {op_id!r}: more than {self.policy.buffer_size} results waiting",
                operation_id=op_id,
            )
        )
        if self.session is not None:
            self.session.send_complete(op_id)
        self._notify()

    def on_end(self, op_id: str, error: GraphqlWsResponseError | None) -> None:
        """The server completed or failed an operation."""
        operation = self.ops.pop(op_id, None)
        if operation is None:
            return
        if error is None:
            operation.finish()
        else:
            operation.fail(error)
        self._notify()

    # The connection loop.

    def _ensure_running(self) -> None:
        if self.running or self.closing or self._tg is None:
            return
        self.running = True
        self._tg.start_soon(self._supervise)

    async def _supervise(self) -> None:
        attempt = 0
        try:
            while not self._is_closing():
                if self.policy.lazy and not self.ops and not self._keep_open:
                    return
                session = Session(
                    self,
                    self.transport,
                    offered=self.policy.offered,
                    config=self.policy.config,
                    connect_timeout=self.policy.connect_timeout,
                )
                error = await self._run_session(session)
                if self.session is session:
                    self.session = None
                if session.acked:
                    attempt = 0
                self._notify()
                if self._is_closing():
                    return
                if isinstance(error, ClientClosedError):
                    # A lazy connection closed when idle; go on if needed.
                    continue
                if self.policy.lazy and not self.ops and not self._keep_open:
                    logger.info("connection ended while idle: %s", error)
                    return
                limit = self.policy.max_reconnect_attempts
                if not (
                    self.policy.reconnect
                    and should_reconnect(error)
                    and (limit is None or attempt < limit)
                ):
                    self._give_up(error)
                    return
                self._fail_unsendable(session, error)
                attempt += 1
                delay = backoff_delay(attempt, self.policy.reconnect_delay)
                logger.warning(
                    "connection failed (%s); reconnect attempt %d in %.2f s", error, attempt, delay
                )
                await anyio.sleep(delay)
        except Exception as exc:
            # A bug of ours: report it on the operations, never on the task
            # that opened the client (our task group lives in it).
            logger.exception("gqlws client failure")
            error = GraphqlWsConnectionError(f"internal client error: {exc!r}")
            error.__cause__ = exc
            self._give_up(error)
        finally:
            self.running = False
            self._notify()

    async def _run_session(self, session: Session) -> GraphqlWsConnectionError:
        if not self.policy.lazy:
            return await session.run()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._close_when_idle, session)
            error = await session.run()
            tg.cancel_scope.cancel()
        return error

    async def _close_when_idle(self, session: Session) -> None:
        while True:
            while not (session.acked and not self.ops and not self._keep_open):
                await self._wait_changed()
            with anyio.move_on_after(self.policy.lazy_close_timeout) as linger:
                while not self.ops and not self._keep_open:
                    await self._wait_changed()
            if linger.cancelled_caught:
                logger.debug("closing the idle connection (lazy mode)")
                session.request_close(ClientClosedError("the idle connection was closed"))
                return

    def _give_up(self, error: GraphqlWsError) -> None:
        logger.warning("connection failed: %s", error)
        self._last_error = error
        self._keep_open = False
        if not self.policy.lazy:
            self._failure = error
        ops = list(self.ops.values())
        self.ops.clear()
        for operation in ops:
            operation.fail(clone_error(error))
        self._notify()

    def _fail_unsendable(self, session: Session, error: GraphqlWsError) -> None:
        # Operations that reached the server and may not be sent twice.
        if not session.acked:
            return
        for op_id, operation in list(self.ops.items()):
            if not operation.resend and operation.sent_on is session:
                del self.ops[op_id]
                operation.fail(clone_error(error))

    def _is_closing(self) -> bool:
        # A call, not an attribute: mypy would keep it narrowed across awaits.
        return self.closing

    # Change notification for the waiting loops.

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def _wait_changed(self) -> None:
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()
