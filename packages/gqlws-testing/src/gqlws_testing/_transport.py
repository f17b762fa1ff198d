"""A client transport over Channels' `WebsocketCommunicator`: no network."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from channels.testing import WebsocketCommunicator
from gqlws_client import (
    ConnectionClosedError,
    ConnectionLostError,
    ConnectionRejectedError,
)
from gqlws_client import (
    GraphqlWsTransport as _BaseTransport,
)

__all__ = ["GraphqlWsTransport", "ReceivedFrame"]

logger = logging.getLogger(__name__)

# Seconds a test waits for the application by default (the old testing
# transport's `TIMEOUT`).
TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedFrame:
    """One thing the application sent: a text frame, or the close.

    Attributes:
        text: the frame's text, or None for the close.
        code: the close code (None for a text frame, or a close without
            code).
        reason: the close reason ("" for a text frame).
    """

    text: str | None = None
    code: int | None = None
    reason: str = ""

    @property
    def is_close(self) -> bool:
        """Whether this is the close rather than a text frame."""
        return self.text is None


class GraphqlWsTransport(_BaseTransport):
    """A `gqlws_client.GraphqlWsTransport` talking to an ASGI app in-process.

    Each `connect()` makes a new `channels.testing.WebsocketCommunicator`
    for `application` at `path`, so the real `GraphqlWsClient` runs
    against a consumer with no network. Every frame the application sends
    is also kept in `frames`, the wiretap the testing client's assertions
    read. asyncio only (Channels' communicator is).

    Args:
        application: the ASGI application, e.g. a `URLRouter` or
            `MyConsumer.as_asgi()`.
        path: the request path, e.g. `"/graphql/"`.
        subprotocol: the subprotocol to offer; None offers what the client
            asks for.
        communicator_kwds: more keyword arguments for the communicator
            (`headers`, `spec_version`).
        timeout: seconds `connect()` waits for the application to accept.
    """

    TIMEOUT = TIMEOUT

    def __init__(
        self,
        application: Any,
        path: str,
        *,
        subprotocol: str | None = None,
        communicator_kwds: Mapping[str, object] | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.application = application
        self.path = path
        self.subprotocol = subprotocol
        self.communicator_kwds = dict(communicator_kwds or {})
        self.timeout = timeout
        #: Every frame the application sent on the current connection, in
        #: order, the close last.
        self.frames: list[ReceivedFrame] = []
        self._communicator: WebsocketCommunicator | None = None
        self._inbox: asyncio.Queue[ReceivedFrame] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._closed: ReceivedFrame | None = None

    @property
    def communicator(self) -> WebsocketCommunicator | None:
        """The communicator of the current connection, or None."""
        return self._communicator

    @property
    def close_frame(self) -> ReceivedFrame | None:
        """How the current connection closed, once it did."""
        return self._closed

    async def connect(self, subprotocols: Sequence[str]) -> str | None:
        """Start the application and perform its WebSocket handshake.

        Args:
            subprotocols: the tokens to offer (replaced by `subprotocol`
                when the transport was given one).

        Returns:
            The subprotocol the application accepted with, or None.

        Raises:
            ConnectionRejectedError: the application closed instead of
                accepting (`code` is its close code, `status` 403 as an
                ASGI server would answer).
            ConnectionLostError: the application raised or did not answer.
        """
        await self.close()
        offered = [self.subprotocol] if self.subprotocol else list(subprotocols)
        communicator = WebsocketCommunicator(
            self.application, self.path, subprotocols=offered, **self.communicator_kwds
        )
        try:
            accepted, detail = await communicator.connect(timeout=self.timeout)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await communicator.wait(0.1)
            raise ConnectionLostError(f"the application failed to connect: {exc!r}") from exc
        if not accepted:
            with contextlib.suppress(Exception):
                await communicator.wait(0.1)
            raise ConnectionRejectedError(
                f"the application refused the connection with close code {detail}",
                code=detail,
                status=403,
            )
        self.frames = []
        self._inbox = asyncio.Queue()
        self._arrived = asyncio.Event()
        self._closed = None
        self._communicator = communicator
        self._pump = asyncio.get_running_loop().create_task(
            self._read(communicator), name=f"gqlws-testing reader {self.path}"
        )
        return detail if isinstance(detail, str) else None

    async def send(self, text: str) -> None:
        """Send one text frame to the application.

        Raises:
            ConnectionClosedError: the connection is closed.
        """
        await self._send({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary frame (the protocols use none: for error tests).

        Raises:
            ConnectionClosedError: the connection is closed.
        """
        await self._send({"type": "websocket.receive", "bytes": data})

    async def _send(self, message: dict[str, object]) -> None:
        communicator = self._communicator
        if communicator is None or self._closed is not None:
            closed = self._closed
            raise ConnectionClosedError(
                "the connection is closed",
                code=None if closed is None else closed.code,
                reason="" if closed is None else closed.reason,
            )
        await communicator.send_input(message)

    async def receive(self) -> str:
        """Wait for the next text frame the application sends.

        Raises:
            ConnectionClosedError: the application closed (its code and
                reason), or its task ended without a close (1006).
        """
        frame = await self._inbox.get()
        if frame.text is None:
            # Keep the close for later calls.
            self._inbox.put_nowait(frame)
            raise ConnectionClosedError(
                f"the application closed the connection: {frame.code} {frame.reason!r}",
                code=frame.code,
                reason=frame.reason,
            )
        return frame.text

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Disconnect from the application with `code` and let it finish.

        Args:
            code: the close code the application's `websocket.disconnect`
                carries.
            reason: unused (ASGI's disconnect event has no reason).
        """
        communicator, self._communicator = self._communicator, None
        if communicator is None:
            return
        if self._closed is None:
            self._record(ReceivedFrame(code=code, reason=reason))
        try:
            await communicator.send_input({"type": "websocket.disconnect", "code": code})
            await communicator.wait(self.timeout)
        except Exception:
            # The application raising at disconnect is the test's business:
            # it shows in the logs; closing must not fail for it.
            logger.exception("the application raised while disconnecting")
        finally:
            pump, self._pump = self._pump, None
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

    async def wait_frame(self, index: int, timeout: float | None) -> ReceivedFrame | None:
        """Wait until `frames` holds more than `index` frames.

        Args:
            index: the index of the frame to wait for.
            timeout: seconds to wait, or None for `TIMEOUT`.

        Returns:
            `frames[index]`, or None when it did not arrive in time or the
            connection closed before it.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        while len(self.frames) <= index:
            if self._closed is not None and self._closed in self.frames:
                return None
            left = deadline - loop.time()
            if left <= 0:
                return None
            self._arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
        return self.frames[index]

    def _record(self, frame: ReceivedFrame) -> None:
        if frame.is_close:
            self._closed = frame
        self.frames.append(frame)
        self._inbox.put_nowait(frame)
        self._arrived.set()

    async def _read(self, communicator: WebsocketCommunicator) -> None:
        # Reads the output queue directly: a timed-out `receive_output()`
        # would cancel the application.
        future: asyncio.Future[Any] = communicator.future
        while True:
            get = asyncio.ensure_future(communicator.output_queue.get())
            try:
                await asyncio.wait({get, future}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                get.cancel()
                raise
            if not get.done():
                get.cancel()
                error = None if future.cancelled() else future.exception()
                if error is not None:
                    logger.error("the application raised", exc_info=error)
                self._record(ReceivedFrame(code=1006, reason="the application ended"))
                return
            message: dict[str, Any] = get.result()
            kind = message.get("type")
            if kind == "websocket.send":
                text = message.get("text")
                if text is None:
                    data = message.get("bytes") or b""
                    text = data.decode("utf-8", "replace")
                self._record(ReceivedFrame(text=text))
            elif kind == "websocket.close":
                self._record(
                    ReceivedFrame(code=message.get("code", 1000), reason=message.get("reason", ""))
                )
                return
