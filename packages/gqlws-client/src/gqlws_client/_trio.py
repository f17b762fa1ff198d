"""A transport on trio-websocket (trio only; extra `gqlws-client[trio]`)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType

import trio
import trio_websocket

from ._errors import ConnectionClosedError, ConnectionLostError, ConnectionRejectedError
from ._transport import GraphqlWsTransport, cookie_header

__all__ = ["GraphqlWsTransportTrio"]

logger = logging.getLogger(__name__)

# How long `close()` waits for the server's closing frame.
_CLOSE_TIMEOUT = 5.0


class GraphqlWsTransportTrio(GraphqlWsTransport):
    """A `GraphqlWsTransport` on trio-websocket (trio only).

    trio-websocket runs a reader task per socket, so this transport holds a
    nursery: the client enters the transport when it opens, which opens the
    nursery, and leaves it when it closes. Used without the client, enter it
    yourself (`async with GraphqlWsTransportTrio(url) as transport:`).

    Args:
        url: the `ws://` or `wss://` URL of the GraphQL endpoint.
        cookies: cookies sent with every handshake (one `Cookie` header).
        headers: extra HTTP headers sent with every handshake.
        ssl_context: the TLS context for `wss://` URLs; None uses the
            default context.
        max_message_size: the largest message accepted, in characters or
            bytes.
    """

    def __init__(
        self,
        url: str,
        *,
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_message_size: int = 4 * 1024 * 1024,
    ) -> None:
        self.url = url
        extra = dict(headers or {})
        if cookies:
            extra["Cookie"] = cookie_header(cookies)
        self._headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
        self._ssl_context = ssl_context
        self._max_message_size = max_message_size
        self._nursery_manager: AbstractAsyncContextManager[trio.Nursery] | None = None
        self._nursery: trio.Nursery | None = None
        self._ws: trio_websocket.WebSocketConnection | None = None
        # Set to ask the task holding the socket to close it.
        self._close_requested: trio.Event | None = None
        self._close_code = (1000, "")
        self._socket_done: trio.Event | None = None

    async def __aenter__(self) -> GraphqlWsTransportTrio:
        if self._nursery is not None:
            raise RuntimeError("the trio transport is already entered")
        manager = trio.open_nursery()
        self._nursery = await manager.__aenter__()
        self._nursery_manager = manager
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the socket and the nursery."""
        await self.close(1000)
        manager, self._nursery_manager = self._nursery_manager, None
        self._nursery = None
        if manager is not None:
            await manager.__aexit__(None, None, None)

    async def connect(self, subprotocols: Sequence[str]) -> str | None:
        """Open the WebSocket; see `GraphqlWsTransport.connect`."""
        if self._nursery is None:
            raise RuntimeError(
                "enter the trio transport first (`async with transport:`); "
                "GraphqlWsClient does it when it opens"
            )
        if self._ws is not None:
            await self.close(1000)
        ws: trio_websocket.WebSocketConnection = await self._nursery.start(
            self._hold_socket, tuple(subprotocols)
        )
        self._ws = ws
        return ws.subprotocol

    async def _hold_socket(
        self,
        subprotocols: tuple[str, ...],
        *,
        task_status: trio.TaskStatus[trio_websocket.WebSocketConnection],
    ) -> None:
        # The socket lives in its own task: trio-websocket's reader task needs
        # a nursery that outlives `connect()`, and `open_websocket_url` is the
        # entry point that reports handshake failures instead of crashing it.
        close_requested = trio.Event()
        done = trio.Event()
        started = False
        try:
            async with trio_websocket.open_websocket_url(
                self.url,
                self._ssl_context,
                subprotocols=subprotocols,
                extra_headers=self._headers,
                max_message_size=self._max_message_size,
                disconnect_timeout=_CLOSE_TIMEOUT,
            ) as ws:
                self._close_requested, self._socket_done = close_requested, done
                task_status.started(ws)
                started = True
                await close_requested.wait()
                code, reason = self._close_code
                with trio.move_on_after(_CLOSE_TIMEOUT):
                    await ws.aclose(code, reason or None)
        except trio_websocket.ConnectionRejected as exc:
            if started:
                logger.debug("the websocket failed: %r", exc)
                return
            raise ConnectionRejectedError(
                f"the server refused the websocket handshake with http status {exc.status_code}",
                status=exc.status_code,
            ) from exc
        except Exception as exc:
            # After `started()` nothing may escape: it would cancel the nursery
            # and with it the task that opened the client.
            if started:
                logger.debug("the websocket failed: %r", exc)
                return
            raise ConnectionLostError(f"cannot connect to {self.url}: {exc!r}") from exc
        finally:
            done.set()

    async def send(self, text: str) -> None:
        """Send one text frame; see `GraphqlWsTransport.send`."""
        ws = self._ws
        if ws is None:
            raise ConnectionClosedError("the websocket is not open")
        try:
            await ws.send_message(text)
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc) from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            raise ConnectionClosedError(f"cannot send on the websocket: {exc!r}") from exc

    async def receive(self) -> str:
        """Wait for the next text frame; see `GraphqlWsTransport.receive`."""
        ws = self._ws
        if ws is None:
            raise ConnectionClosedError("the websocket is not open")
        try:
            message = await ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc) from exc
        if isinstance(message, bytes):
            # Not valid for the protocol; the machine rejects what is not JSON.
            return message.decode("utf-8", errors="replace")
        return message

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket; see `GraphqlWsTransport.close`."""
        self._ws = None
        close_requested, done = self._close_requested, self._socket_done
        self._close_requested = self._socket_done = None
        if close_requested is None or done is None:
            return
        self._close_code = (code, reason)
        close_requested.set()
        # Shielded: a cancelled task still closes its socket; the holding task
        # bounds the closing handshake.
        with trio.CancelScope(shield=True):
            await done.wait()


def _closed(exc: trio_websocket.ConnectionClosed) -> ConnectionClosedError:
    reason = exc.reason
    if reason is None:
        return ConnectionClosedError("the websocket is closed", code=1006)
    return ConnectionClosedError(
        "the websocket is closed", code=reason.code, reason=reason.reason or ""
    )
