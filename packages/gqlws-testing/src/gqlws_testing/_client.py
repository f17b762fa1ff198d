"""The testing client: the real client plus the assertions tests need."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from gqlws_client import (
    GraphqlWsClient as _BaseClient,
)
from gqlws_client import (
    GraphqlWsError,
    GraphqlWsResponseError,
)
from gqlws_protocol import JsonObject, Subprotocol

from ._transport import GraphqlWsTransport, ReceivedFrame

__all__ = ["GraphqlWsClient"]

# Frames that keep a connection alive and carry no operation.
_KEEPALIVE_TYPES = frozenset({"ping", "pong", "ka"})


class GraphqlWsClient(_BaseClient):
    """`gqlws_client.GraphqlWsClient` with the helpers of a test suite.

    It speaks through a `gqlws_testing.GraphqlWsTransport`, whose wiretap
    (`transport.frames`) lets a test assert on the exact frames the server
    sent, send frames the protocol forbids, and check how the server
    closed. The names are those of the testing client of
    django-channels-graphql-ws, so its test suites run after an import
    change.

    Args:
        transport: the in-process transport.
        subprotocol: the subprotocol to speak; None takes the transport's,
            or `graphql-transport-ws`.
        **options: the options of `gqlws_client.GraphqlWsClient`.

    Raises:
        TypeError: `transport` is not a `gqlws_testing.GraphqlWsTransport`.
    """

    #: `assert_no_messages` polls this many times...
    RECEIVE_NOTHING_ATTEMPTS = 10
    #: ... this many seconds apart.
    RECEIVE_NOTHING_INTERVAL = 0.1

    def __init__(
        self,
        transport: GraphqlWsTransport,
        *,
        subprotocol: str | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(transport, GraphqlWsTransport):
            raise TypeError(
                "transport must be a gqlws_testing.GraphqlWsTransport, "
                f"got {type(transport).__name__}"
            )
        if subprotocol is None:
            subprotocol = transport.subprotocol or Subprotocol.GRAPHQL_TRANSPORT_WS.value
        super().__init__(transport, subprotocol=subprotocol, **options)
        self._testing_transport = transport
        self._offered = subprotocol
        self._raw = False
        self._cursor = 0
        self._host: asyncio.Task[None] | None = None
        # Operations the test stopped with `complete()`: the server's
        # `complete` answering a legacy `stop` is no news for the test.
        self._stopped: set[str] = set()
        self._release = asyncio.Event()

    @property
    def transport(self) -> GraphqlWsTransport:
        """The in-process transport."""
        return self._testing_transport

    @property
    def connected(self) -> bool:
        """Whether a connection is open (acknowledged, or raw after `connect_only`)."""
        if self._raw:
            transport = self._testing_transport
            return transport.communicator is not None and transport.close_frame is None
        return super().connected

    async def connect_and_init(self, connect_only: bool = False) -> None:
        """Connect and wait for `connection_ack`; or only open the socket.

        Args:
            connect_only: open the WebSocket and send nothing: the test
                drives the connection with `send_raw_message`.

        Raises:
            ConnectionRejectedError: the server refused the connection.
            GraphqlWsConnectionError: the connection failed.
        """
        if not connect_only:
            if self._host is not None and not self._host.done():
                await super().connect_and_init()
                return
            # The client's task group must be entered and left by one task;
            # pytest-asyncio sets fixtures up, runs the test and tears down
            # in different tasks, so a task of our own holds it open.
            loop = asyncio.get_running_loop()
            ready: asyncio.Future[None] = loop.create_future()
            self._release = asyncio.Event()
            self._host = loop.create_task(self._hold(ready), name="gqlws-testing client")
            await ready
            return
        self._raw = True
        await self._testing_transport.connect([self._offered])
        self._cursor = 0

    async def aclose(self) -> None:
        """Close the connection (code 1000) and the client; from any task."""
        if self._raw:
            await self._testing_transport.close()
        host = self._host
        if host is None:
            await super().aclose()
            return
        self._release.set()
        await asyncio.shield(host)

    async def finalize(self) -> None:
        """Close the connection (code 1000) and the client; from any task."""
        await self.aclose()

    async def _hold(self, ready: asyncio.Future[None]) -> None:
        try:
            try:
                await _BaseClient.connect_and_init(self)
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            await self._release.wait()
        finally:
            await _BaseClient.aclose(self)

    async def send_raw_message(self, message: Mapping[str, object] | str) -> None:
        """Send one frame as is, past the protocol machine.

        Args:
            message: a message to encode as JSON, or the frame's text.

        Raises:
            ConnectionClosedError: no connection is open.
        """
        text = message if isinstance(message, str) else json.dumps(message)
        await self._testing_transport.send(text)

    async def receive_raw_message(
        self, timeout: float | None = None, *, skip_keepalive: bool = True
    ) -> JsonObject:
        """The next frame the server sent, decoded, whoever else read it.

        The wiretap has its own position: it returns every frame once, in
        order, including those an operation already consumed.

        Args:
            timeout: seconds to wait; None for the transport's `TIMEOUT`.
            skip_keepalive: skip `ping`, `pong` and `ka` frames.

        Returns:
            The decoded message.

        Raises:
            AssertionError: nothing arrived in time, the connection closed
                first, or the frame is not a JSON object.
        """
        transport = self._testing_transport
        while True:
            frame = await transport.wait_frame(self._cursor, timeout)
            if frame is None or frame.is_close:
                closed = transport.close_frame
                if closed is None:
                    raise AssertionError("no message arrived in time")
                raise AssertionError(
                    f"the connection closed ({closed.code} {closed.reason!r}) "
                    "before another message"
                )
            self._cursor += 1
            message = _decode(frame)
            if skip_keepalive and message.get("type") in _KEEPALIVE_TYPES:
                continue
            return message

    async def assert_no_messages(
        self,
        error_message: str | None = None,
        attempts: int | None = None,
        interval: float | None = None,
    ) -> None:
        """Check that the server sends nothing but keep-alives for a while.

        Fails on any frame other than `ping`, `pong` and `ka` that arrives
        within `attempts * interval` seconds (about 1 s by default), and on
        results waiting unread in an operation started with `start()`.

        Args:
            error_message: the failure's text.
            attempts: how many times to look (`RECEIVE_NOTHING_ATTEMPTS`).
            interval: seconds between looks (`RECEIVE_NOTHING_INTERVAL`).

        Raises:
            AssertionError: something arrived.
        """
        attempts = self.RECEIVE_NOTHING_ATTEMPTS if attempts is None else attempts
        interval = self.RECEIVE_NOTHING_INTERVAL if interval is None else interval
        transport = self._testing_transport
        start = len(transport.frames)
        for _ in range(max(1, attempts)):
            unread = {op_id: op.buffered for op_id, op in self._started.items() if op.buffered}
            arrived = [frame for frame in transport.frames[start:] if not self._expected(frame)]
            if unread or arrived:
                described = [
                    f"close {f.code} {f.reason!r}" if f.is_close else str(f.text) for f in arrived
                ]
                detail = f"unread results {unread}" if unread else f"received {described}"
                raise AssertionError(f"{error_message or 'expected no messages'}: {detail}")
            await asyncio.sleep(interval)

    async def start(
        self,
        query: str,
        *,
        variables: Mapping[str, object] | None = None,
        operation_name: str | None = None,
        extensions: Mapping[str, object] | None = None,
        msg_id: str | None = None,
    ) -> str:
        """`gqlws_client.GraphqlWsClient.start`, which may reuse an id the
        test stopped with `complete()`."""
        op_id = await super().start(
            query,
            variables=variables,
            operation_name=operation_name,
            extensions=extensions,
            msg_id=msg_id,
        )
        self._stopped.discard(op_id)
        return op_id

    def _expected(self, frame: ReceivedFrame) -> bool:
        if frame.is_close:
            return False
        message = _decode(frame)
        kind = message.get("type")
        return kind in _KEEPALIVE_TYPES or (
            kind == "complete" and message.get("id") in self._stopped
        )

    async def complete(self, op_id: str) -> None:
        """Stop an operation: send `complete` (legacy `stop`) if it is active.

        Args:
            op_id: the operation id; an unknown or finished one is ignored.
        """
        self._stopped.add(op_id)
        await super().complete(op_id)

    async def receive_complete(self, op_id: str, timeout: float | None = None) -> None:
        """Wait for the server to complete an operation.

        For an operation the test stopped with `complete()`, waits for the
        server's `complete` frame (legacy servers answer `stop` with one;
        on `graphql-transport-ws` the server sends none, so this fails).

        Args:
            op_id: the operation id.
            timeout: seconds to wait for the frame of a stopped operation;
                None for the transport's `TIMEOUT`.

        Raises:
            GraphqlWsResponseError: an `error` message came instead.
            GraphqlWsError: a result came instead (it is consumed).
            AssertionError: a stopped operation got no `complete` in time.
        """
        if op_id not in self._stopped:
            await super().receive_complete(op_id)
            return
        transport = self._testing_transport
        index = 0
        while True:
            frame = await transport.wait_frame(index, timeout)
            if frame is None:
                raise AssertionError(
                    f"the server sent no complete for stopped operation {op_id!r}"
                )
            index += 1
            if not frame.is_close:
                message = _decode(frame)
                if message.get("type") == "complete" and message.get("id") == op_id:
                    return

    async def wait_disconnect(
        self, timeout: float | None = None, assert_code: int | None = None
    ) -> dict[str, object]:
        """Wait for the server to close the connection, then close the client.

        Args:
            timeout: seconds to wait; None for the transport's `TIMEOUT`.
            assert_code: the close code the server must have used.

        Returns:
            The close as an ASGI message: `type`, `code`, `reason`.

        Raises:
            AssertionError: the server did not close in time, or closed
                with another code.
        """
        transport = self._testing_transport
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (transport.timeout if timeout is None else timeout)
        closed = transport.close_frame
        while closed is None:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError("the server did not close the connection in time")
            await transport.wait_frame(len(transport.frames), left)
            closed = transport.close_frame
        await self.finalize()
        if assert_code is not None and closed.code != assert_code:
            raise AssertionError(
                f"the server closed with code {closed.code} ({closed.reason!r}), "
                f"expected {assert_code}"
            )
        return {"type": "websocket.close", "code": closed.code, "reason": closed.reason}

    async def receive_error(self, op_id: str) -> tuple[list[JsonObject], object]:
        """Wait for an operation to fail and return its errors.

        Accepts both shapes: an `error` message (errors before execution)
        and a result carrying `errors`.

        Args:
            op_id: an operation started with `start()`.

        Returns:
            `(errors, data)`: data is None for an `error` message.

        Raises:
            AssertionError: a result without errors came, or the operation
                completed.
        """
        try:
            result = await self.receive_next(op_id)
        except GraphqlWsResponseError as exc:
            response = exc.response
            data = response.get("data") if isinstance(response, Mapping) else None
            return exc.errors, data
        except GraphqlWsError as exc:
            raise AssertionError(f"expected errors for operation {op_id!r}: {exc}") from exc
        raise AssertionError(f"expected errors for operation {op_id!r}, got {result!r}")

    async def subscribe(  # type: ignore[override]
        self,
        query: str,
        *,
        variables: Mapping[str, object] | None = None,
        operation_name: str | None = None,
        msg_id: str | None = None,
        wait_confirmation: bool = True,
    ) -> str:
        """Start a subscription; the old testing client's call.

        Read its results with `receive_next`; stop it with `complete`.
        (`gqlws_client.GraphqlWsClient.subscribe` returns an async iterator
        instead.)

        Args:
            query: the GraphQL document.
            variables: the variables, or None.
            operation_name: which operation of the document to run.
            msg_id: the operation id; None picks one.
            wait_confirmation: wait for the server's confirmation (its
                `confirm_subscriptions` setting) and consume it.

        Returns:
            The operation id.

        Raises:
            GraphqlWsResponseError: the subscription failed, or the
                confirmation carries errors.
        """
        op_id = await self.start(
            query, variables=variables, operation_name=operation_name, msg_id=msg_id
        )
        if wait_confirmation:
            await self.receive_next(op_id)
        return op_id


def _decode(frame: ReceivedFrame) -> JsonObject:
    try:
        message = json.loads(frame.text or "")
    except ValueError as exc:
        raise AssertionError(f"the server sent a frame that is not JSON: {frame.text!r}") from exc
    if not isinstance(message, dict):
        raise AssertionError(f"the server sent a frame that is not a JSON object: {frame.text!r}")
    return message
