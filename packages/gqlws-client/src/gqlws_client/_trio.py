"""A transport on trio-websocket (trio only; extra `gqlws-client[trio]`)."""

from __future__ import annotations

import contextlib
import logging
import ssl
import urllib.parse
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TypeVar

import trio
import trio_websocket

from ._errors import ConnectionClosedError, ConnectionLostError, ConnectionRejectedError
from ._transport import GraphqlWsTransport, cookie_header

__all__ = ["GraphqlWsTransportTrio"]

logger = logging.getLogger(__name__)

_X = TypeVar("_X", bound=BaseException)

# How long `close()` waits for the server's closing frame, and `abort()`
# (the server stopped answering: its closing frame is not expected).
_CLOSE_TIMEOUT = 5.0
_ABORT_TIMEOUT = 0.1


class GraphqlWsTransportTrio(GraphqlWsTransport):
    """A `GraphqlWsTransport` on trio-websocket (trio only).

    trio-websocket runs a reader task per socket, so this transport holds a
    nursery: the client enters the transport when it opens, which opens the
    nursery, and leaves it when it closes. Used without the client, enter it
    yourself (`async with GraphqlWsTransportTrio(url) as transport:`). When
    the task that entered it is cancelled, the cancellation reaches that
    reader too and the socket is dropped (the server sees 1006) instead of
    closed with a close frame.

    Args:
        url: the `ws://` or `wss://` URL of the GraphQL endpoint.
        cookies: cookies sent with every handshake (one `Cookie` header).
        headers: extra HTTP headers sent with every handshake.
        ssl_context: the TLS context for `wss://` URLs; None uses the
            default context.

    Raises:
        ValueError: `url` is not a `ws://` or `wss://` URL with a host.
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
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"url must be a ws:// or wss:// url with a host, got {url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "wss" else 80)
        # RFC 7230 section 5.3.1: an empty path is sent as "/".
        self._resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._host_header = self._host if self._port in (80, 443) else f"{self._host}:{self._port}"
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "wss":
            self._ssl = ssl_context or ssl.create_default_context()
        extra = dict(headers or {})
        if cookies:
            extra["Cookie"] = cookie_header(cookies)
        self._headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
        self._max_message_size = max_message_size
        self._nursery_manager: AbstractAsyncContextManager[trio.Nursery] | None = None
        self._nursery: trio.Nursery | None = None
        self._ws: trio_websocket.WebSocketConnection | None = None
        # Set to ask the task holding the socket to close it.
        self._close_requested: trio.Event | None = None
        self._close_code = (1000, "", _CLOSE_TIMEOUT)
        self._socket_done: trio.Event | None = None

    async def __aenter__(self) -> GraphqlWsTransportTrio:
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            raise RuntimeError(
                "GraphqlWsTransportTrio runs on trio, not asyncio; "
                "use GraphqlWsTransportAiohttp under asyncio"
            ) from None
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
        # The socket lives in its own task, with its own nursery for
        # trio-websocket's reader task. We open (and always close) the TCP
        # stream ourselves: trio-websocket 0.12 leaves it open after a refused
        # handshake and after a close started by the server (`aclose()`
        # returns early once a close reason is set).
        close_requested = trio.Event()
        done = trio.Event()
        started = False
        stream: trio.SocketStream | trio.SSLStream[trio.SocketStream] | None = None
        try:
            stream = await self._open_stream()
            async with trio.open_nursery() as nursery:
                ws = await trio_websocket.wrap_client_stream(
                    nursery,
                    stream,
                    self._host_header,
                    self._resource,
                    subprotocols=subprotocols,
                    extra_headers=self._headers,
                    max_message_size=self._max_message_size,
                )
                self._close_requested, self._socket_done = close_requested, done
                task_status.started(ws)
                started = True
                await close_requested.wait()
                code, reason, wait = self._close_code
                with trio.move_on_after(wait):
                    await ws.aclose(code, reason or None)
                nursery.cancel_scope.cancel()
        except Exception as exc:
            # After `started()` nothing may escape: it would cancel the
            # transport's nursery and with it the task that opened the client.
            if started:
                logger.debug("the websocket failed: %r", exc)
                return
            rejected = _find(exc, trio_websocket.ConnectionRejected)
            if rejected is not None:
                raise ConnectionRejectedError(
                    "the server refused the websocket handshake with http status "
                    f"{rejected.status_code}",
                    status=rejected.status_code,
                ) from rejected
            raise ConnectionLostError(f"cannot connect to {self.url}: {exc!r}") from exc
        finally:
            if stream is not None:
                with trio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await stream.aclose()
            done.set()

    async def _open_stream(self) -> trio.SocketStream | trio.SSLStream[trio.SocketStream]:
        if self._ssl is None:
            return await trio.open_tcp_stream(self._host, self._port)
        return await trio.open_ssl_over_tcp_stream(
            self._host, self._port, ssl_context=self._ssl, https_compatible=True
        )

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
        await self._close(code, reason, _CLOSE_TIMEOUT)

    async def abort(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket at once; see `GraphqlWsTransport.abort`."""
        await self._close(code, reason, _ABORT_TIMEOUT)

    async def _close(self, code: int, reason: str, wait: float) -> None:
        self._ws = None
        close_requested, done = self._close_requested, self._socket_done
        self._close_requested = self._socket_done = None
        if close_requested is None or done is None:
            return
        self._close_code = (code, reason, wait)
        close_requested.set()
        # Shielded: a cancelled task still closes its socket; the holding task
        # bounds the closing handshake.
        with trio.CancelScope(shield=True):
            await done.wait()


def _find(exc: BaseException, kind: type[_X]) -> _X | None:
    """`exc` itself or the first `kind` inside (nested) exception groups."""
    if isinstance(exc, kind):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _find(inner, kind)
        if found is not None:
            return found
    return None


def _closed(exc: trio_websocket.ConnectionClosed) -> ConnectionClosedError:
    reason = exc.reason
    if reason is None:
        return ConnectionClosedError("the websocket is closed", code=1006)
    return ConnectionClosedError(
        "the websocket is closed", code=reason.code, reason=reason.reason or ""
    )
