"""`GraphqlWsClient`: operations over one reconnecting WebSocket connection.

Written once on anyio, so it runs under asyncio and trio; the event loop
only shows in the transport. The protocol rules are `ClientConnection`'s
(gqlws-protocol); the connections, the operations and the reconnect policy
are the `Supervisor`'s; this module is the API in front of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import TracebackType

from gqlws_protocol import ClientConfig, JsonDumps, JsonLoads, JsonObject, Subprotocol

from ._errors import GraphqlWsError, GraphqlWsResponseError
from ._operation import GraphqlWsSubscription, Operation, has_errors
from ._supervisor import ConnectionParams, Overflow, Policy, Supervisor
from ._transport import GraphqlWsTransport

__all__ = ["GraphqlWsClient"]


class GraphqlWsClient:
    """A GraphQL over WebSocket client, for asyncio and trio.

    Speaks `graphql-transport-ws` and the legacy `graphql-ws` through a
    `GraphqlWsTransport`. Use it as an async context manager, opened and
    closed by the same task::

        async with GraphqlWsClient(transport) as client:
            result = await client.execute("{ hello }")
            async for result in client.subscribe("subscription { count }"):
                ...

    Args:
        transport: moves the frames; the client enters it when it opens
            and leaves it when it closes.
        subprotocol: the subprotocol to speak, or several to offer in order
            of preference (the server picks; the client follows its answer).
        connection_params: the `connection_init` payload: a mapping, or a
            function (sync or async) run on every connect, e.g. to fetch a
            fresh token. None sends no payload. If the function raises, the
            client closes with 4005 and raises `GraphqlWsConnectionError`.
        connect_timeout: seconds for the WebSocket handshake; None waits
            forever. Default 10.
        ack_timeout: seconds from the socket's opening to `connection_ack`;
            then the client closes with 4504 and raises
            `ConnectionTimeoutError`. None waits forever. Default 10.
        ping_interval: seconds between client `ping` messages
            (graphql-transport-ws only). None (default) sends none.
        pong_timeout: seconds to wait for the `pong`; then the client closes
            with 4499 (`ConnectionTimeoutError`). Needs `ping_interval`.
        keepalive_timeout: legacy graphql-ws: once a `ka` arrived, the
            longest gap allowed before the next one; then close 4499.
        reconnect: reconnect after a connection failure that is worth it
            (see `should_reconnect`), and send every active subscription
            again after the new ack. Default False.
        max_reconnect_attempts: consecutive reconnect attempts before
            giving up; the count restarts at each ack. None: forever.
        reconnect_delay: (smallest, largest) backoff ceiling in seconds;
            each attempt waits a random delay in the upper half of a ceiling
            that doubles per attempt.
        lazy: connect on the first operation and close (1000) once the last
            one ended; the next operation connects again. Default False:
            `async with` connects and stays connected.
        lazy_close_timeout: seconds an idle lazy connection lingers before
            it closes. Default 0.
        buffer_size: results kept per operation for a slow consumer.
        overflow: what a full buffer does with one more result:
            `"drop_oldest"` (default; logged, counted in
            `GraphqlWsSubscription.dropped`) or `"fail"` (the operation is
            cancelled and raises `BufferOverflowError` after the buffered
            results).
        json_loads: JSON parser for incoming frames (default `json.loads`).
        json_dumps: JSON serialiser returning `str` for outgoing frames.

    Raises:
        TypeError: `transport` is not a `GraphqlWsTransport`.
        ValueError: an option is out of range.
    """

    def __init__(
        self,
        transport: GraphqlWsTransport,
        *,
        subprotocol: str | Sequence[str] = Subprotocol.GRAPHQL_TRANSPORT_WS.value,
        connection_params: ConnectionParams | None = None,
        connect_timeout: float | None = 10.0,
        ack_timeout: float | None = 10.0,
        ping_interval: float | None = None,
        pong_timeout: float | None = None,
        keepalive_timeout: float | None = None,
        reconnect: bool = False,
        max_reconnect_attempts: int | None = 5,
        reconnect_delay: tuple[float, float] = (1.0, 30.0),
        lazy: bool = False,
        lazy_close_timeout: float = 0.0,
        buffer_size: int = 1000,
        overflow: Overflow = "drop_oldest",
        json_loads: JsonLoads | None = None,
        json_dumps: JsonDumps | None = None,
    ) -> None:
        if not isinstance(transport, GraphqlWsTransport):
            raise TypeError(
                f"transport must be a GraphqlWsTransport, got {type(transport).__name__}"
            )
        offered = _check_subprotocols(subprotocol)
        config = ClientConfig(
            ack_timeout=ack_timeout,
            ping_interval=ping_interval,
            pong_timeout=pong_timeout,
            keepalive_timeout=keepalive_timeout,
            json_loads=json_loads,
            json_dumps=json_dumps,
        )
        if connect_timeout is not None and not connect_timeout > 0:
            raise ValueError(f"connect_timeout must be positive or None, got {connect_timeout!r}")
        if max_reconnect_attempts is not None and max_reconnect_attempts < 0:
            raise ValueError(
                f"max_reconnect_attempts must be >= 0 or None, got {max_reconnect_attempts!r}"
            )
        low, high = reconnect_delay
        if not (0 < low <= high and math.isfinite(high)):
            raise ValueError(
                f"reconnect_delay must be (min, max) with 0 < min <= max, got {reconnect_delay!r}"
            )
        if not lazy_close_timeout >= 0:
            raise ValueError(f"lazy_close_timeout must be >= 0, got {lazy_close_timeout!r}")
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be at least 1, got {buffer_size!r}")
        if overflow not in ("drop_oldest", "fail"):
            raise ValueError(f"overflow must be 'drop_oldest' or 'fail', got {overflow!r}")
        self._supervisor = Supervisor(
            transport,
            Policy(
                offered=offered,
                config=config,
                connection_params=connection_params,
                connect_timeout=connect_timeout,
                reconnect=reconnect,
                max_reconnect_attempts=max_reconnect_attempts,
                reconnect_delay=(float(low), float(high)),
                lazy=lazy,
                lazy_close_timeout=lazy_close_timeout,
                buffer_size=buffer_size,
                overflow=overflow,
            ),
        )
        self._lazy = lazy
        # Operations of the step-by-step API, kept until their end is read.
        self._started: dict[str, Operation] = {}

    # Properties.

    @property
    def transport(self) -> GraphqlWsTransport:
        """The transport given to the constructor."""
        return self._supervisor.transport

    @property
    def connected(self) -> bool:
        """Whether a connection is open and acknowledged right now."""
        return self._supervisor.connected

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol of the current connection, or None."""
        session = self._supervisor.session
        if session is None or session.subprotocol is None:
            return None
        return session.subprotocol.value

    @property
    def closed(self) -> bool:
        """Whether `aclose()` was called."""
        return self._supervisor.closing

    @property
    def ack_payload(self) -> JsonObject | None:
        """The payload of the current connection's `connection_ack`."""
        session = self._supervisor.session
        return None if session is None else session.ack_payload

    # Opening and closing.

    async def __aenter__(self) -> GraphqlWsClient:
        await self._supervisor.open()
        if not self._lazy:
            try:
                await self.connect_and_init()
            except BaseException:
                await self.aclose()
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def connect_and_init(self) -> None:
        """Open the client, connect and wait for `connection_ack`.

        `async with client` does this (unless `lazy`). Called on a client
        whose connection failed for good, it tries again. Call `aclose()`
        (or `finalize()`) from the same task afterwards.

        Raises:
            ConnectionRejectedError: the server refused the connection.
            ConnectionLostError: the connection failed (after the reconnect
                attempts, if `reconnect`); `ConnectionTimeoutError` when it
                was a timeout.
            GraphqlWsConnectionError: `connection_params` raised.
            ClientClosedError: the client is closed.
        """
        await self._supervisor.connect()

    async def aclose(self) -> None:
        """Close the connection (code 1000) and release the transport.

        Operations still waiting raise `ClientClosedError`. On graphql-ws a
        `connection_terminate` goes first. Idempotent; call it from the task
        that opened the client.
        """
        await self._supervisor.aclose()

    async def finalize(self) -> None:
        """Close the client; the old name of `aclose()`."""
        await self.aclose()

    # The idiomatic calls.

    async def execute(
        self,
        query: str,
        variables: Mapping[str, object] | None = None,
        *,
        operation_name: str | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> JsonObject:
        """Run a query or a mutation and return its result.

        Waits for the server to complete the operation. If the connection
        is lost meanwhile the operation is not sent again (a mutation may
        have run): it raises, and you may retry.

        Args:
            query: the GraphQL document.
            variables: the variables, or None.
            operation_name: which operation of the document to run.
            extensions: protocol extensions (persisted query hashes...).

        Returns:
            The execution result (`{"data": ...}`, maybe `extensions`).

        Raises:
            GraphqlWsResponseError: the server answered with an `error`
                message, or with a result carrying `errors` (the partial
                result is `exc.response`).
            GraphqlWsConnectionError: the connection failed (a subclass
                says how).
            ClientClosedError: the client is, or got, closed.
        """
        operation = self._start_operation(
            query,
            variables=variables,
            operation_name=operation_name,
            extensions=extensions,
            msg_id=None,
            resend=False,
        )
        result: JsonObject | None = None
        try:
            while True:
                item = await operation.get()
                if item is None:
                    break
                if result is None:
                    result = item
        finally:
            if not operation.done:
                # Cancelled while waiting: tell the server.
                self._cancel_operation(operation.id)
        if result is None:
            raise GraphqlWsError(f"operation {operation.id!r} completed without a result")
        if has_errors(result):
            raise GraphqlWsResponseError(result, operation_id=operation.id)
        return result

    def subscribe(
        self,
        query: str,
        variables: Mapping[str, object] | None = None,
        *,
        operation_name: str | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> GraphqlWsSubscription:
        """Start a subscription (or any operation) and iterate its results.

        `async for result in client.subscribe(query): ...` starts the
        operation, yields each result and ends when the server completes
        it; leaving the loop early sends one `complete` (`stop`). With
        `reconnect`, the subscription is sent again after a reconnect and
        the loop goes on.

        Args:
            query: the GraphQL document.
            variables: the variables, or None.
            operation_name: which operation of the document to run.
            extensions: protocol extensions.

        Returns:
            The async iterator (also an async context manager).
        """
        return GraphqlWsSubscription(
            self,
            query,
            variables=variables,
            operation_name=operation_name,
            extensions=extensions,
        )

    # The step-by-step calls of the client we replace.

    async def start(
        self,
        query: str,
        *,
        variables: Mapping[str, object] | None = None,
        operation_name: str | None = None,
        extensions: Mapping[str, object] | None = None,
        msg_id: str | None = None,
    ) -> str:
        """Start an operation; read it with `receive_next` / `receive_complete`.

        Args:
            query: the GraphQL document.
            variables: the variables, or None.
            operation_name: which operation of the document to run.
            extensions: protocol extensions.
            msg_id: the operation id; None picks the next free one.

        Returns:
            The operation id.

        Raises:
            LocalProtocolError: `msg_id` belongs to an active operation.
            ClientClosedError: the client is closed.
        """
        operation = self._start_operation(
            query,
            variables=variables,
            operation_name=operation_name,
            extensions=extensions,
            msg_id=msg_id,
            resend=True,
        )
        self._started[operation.id] = operation
        return operation.id

    async def receive_next(self, op_id: str) -> JsonObject:
        """Wait for the next result of an operation started with `start`.

        Args:
            op_id: the operation id.

        Returns:
            The execution result.

        Raises:
            GraphqlWsResponseError: an `error` message, or a result with
                `errors`.
            GraphqlWsError: the operation completed instead.
            ValueError: no operation `op_id` was started with `start`.
        """
        operation = self._started_operation(op_id)
        try:
            result = await operation.get()
        except GraphqlWsError:
            self._started.pop(op_id, None)
            raise
        if result is None:
            self._started.pop(op_id, None)
            raise GraphqlWsError(f"operation {op_id!r} completed; expected a result")
        if has_errors(result):
            raise GraphqlWsResponseError(result, operation_id=op_id)
        return result

    async def receive_complete(self, op_id: str) -> None:
        """Wait for the server to complete an operation started with `start`.

        Args:
            op_id: the operation id.

        Raises:
            GraphqlWsResponseError: an `error` message came instead.
            GraphqlWsError: a result came instead (it is consumed).
            ValueError: no operation `op_id` was started with `start`.
        """
        operation = self._started_operation(op_id)
        try:
            result = await operation.get()
        except GraphqlWsError:
            self._started.pop(op_id, None)
            raise
        if result is not None:
            raise GraphqlWsError(f"operation {op_id!r} sent a result, expected its completion")
        self._started.pop(op_id, None)

    async def complete(self, op_id: str) -> None:
        """Stop an operation: send `complete` (legacy `stop`) if it is active.

        Args:
            op_id: the operation id; an unknown or finished one is ignored.
        """
        self._started.pop(op_id, None)
        self._cancel_operation(op_id)

    def _started_operation(self, op_id: str) -> Operation:
        try:
            return self._started[op_id]
        except KeyError:
            raise ValueError(f"no operation {op_id!r} was started with start()") from None

    # Used by GraphqlWsSubscription.

    def _start_operation(
        self,
        query: str,
        *,
        variables: Mapping[str, object] | None,
        operation_name: str | None,
        extensions: Mapping[str, object] | None,
        msg_id: str | None,
        resend: bool,
    ) -> Operation:
        return self._supervisor.start_operation(
            query,
            variables=variables,
            operation_name=operation_name,
            extensions=extensions,
            msg_id=msg_id,
            resend=resend,
            taken=self._started,
        )

    def _cancel_operation(self, op_id: str) -> None:
        self._supervisor.cancel_operation(op_id)


def _check_subprotocols(subprotocol: str | Sequence[str]) -> tuple[str, ...]:
    tokens = (subprotocol,) if isinstance(subprotocol, str) else tuple(subprotocol)
    if not tokens:
        raise ValueError("subprotocol must name at least one subprotocol, got none")
    for token in tokens:
        if token not in {s.value for s in Subprotocol}:
            raise ValueError(
                f"subprotocol must be 'graphql-transport-ws' or 'graphql-ws', got {token!r}"
            )
    if len(set(tokens)) != len(tokens):
        raise ValueError(f"subprotocol lists a token twice: {list(tokens)!r}")
    return tuple(str(Subprotocol(token).value) for token in tokens)
