"""A transport on aiohttp (asyncio only; extra `gqlws-client[aiohttp]`)."""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from collections.abc import Mapping, Sequence

import aiohttp
import anyio

from ._errors import ConnectionClosedError, ConnectionLostError, ConnectionRejectedError
from ._transport import GraphqlWsTransport, cookie_header

__all__ = ["GraphqlWsTransportAiohttp"]

logger = logging.getLogger(__name__)

# How long `close()` waits for the server's closing frame, and `abort()`
# (the server stopped answering: its closing frame is not expected).
_CLOSE_TIMEOUT = 5.0
_ABORT_TIMEOUT = 0.1


class GraphqlWsTransportAiohttp(GraphqlWsTransport):
    """A `GraphqlWsTransport` on an `aiohttp.ClientSession` (asyncio only).

    Args:
        url: the `ws://` or `wss://` URL of the GraphQL endpoint.
        cookies: cookies sent with every handshake (one `Cookie` header,
            whatever the host, unlike aiohttp's cookie jar).
        headers: extra HTTP headers sent with every handshake.
        session: an aiohttp session to use; it is left open. None (default)
            makes one when the client opens and closes it when it closes.
        ssl: aiohttp's `ssl` argument: an `ssl.SSLContext`, or False to
            skip certificate checks. None uses aiohttp's default.
        heartbeat: seconds between WebSocket control pings sent by aiohttp
            (which closes the socket when no control pong comes back), or
            None (default). Protocol-level pings are the client's
            `ping_interval`.
        max_msg_size: the largest message accepted, in bytes.
    """

    def __init__(
        self,
        url: str,
        *,
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        ssl: _ssl.SSLContext | bool | None = None,
        heartbeat: float | None = None,
        max_msg_size: int = 4 * 1024 * 1024,
    ) -> None:
        self.url = url
        self._headers = dict(headers or {})
        if cookies:
            self._headers["Cookie"] = cookie_header(cookies)
        self._session = session
        self._own_session = session is None
        self._ssl = ssl
        self._heartbeat = heartbeat
        self._max_msg_size = max_msg_size
        self._ws: aiohttp.ClientWebSocketResponse[bool] | None = None

    async def __aenter__(self) -> GraphqlWsTransportAiohttp:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "GraphqlWsTransportAiohttp runs on asyncio, not trio; "
                "use GraphqlWsTransportTrio under trio"
            ) from None
        return self

    async def connect(self, subprotocols: Sequence[str]) -> str | None:
        """Open the WebSocket; see `GraphqlWsTransport.connect`."""
        if self._ws is not None:
            await self.close(1000)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            ws = await self._session.ws_connect(
                self.url,
                decode_text=True,
                protocols=tuple(subprotocols),
                headers=self._headers,
                ssl=True if self._ssl is None else self._ssl,
                heartbeat=self._heartbeat,
                max_msg_size=self._max_msg_size,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_TIMEOUT),
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise ConnectionRejectedError(
                f"the server refused the websocket handshake with http status {exc.status}: "
                f"{exc.message}",
                status=exc.status,
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionLostError(f"cannot connect to {self.url}: {exc!r}") from exc
        self._ws = ws
        return ws.protocol

    async def send(self, text: str) -> None:
        """Send one text frame; see `GraphqlWsTransport.send`."""
        ws = self._ws
        if ws is None or ws.closed:
            code = None if ws is None else ws.close_code
            raise ConnectionClosedError("the websocket is closed", code=code)
        try:
            await ws.send_str(text)
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:
            # aiohttp raises ClientConnectionResetError (an OSError too) or,
            # in older versions, RuntimeError on a closing socket.
            raise ConnectionClosedError(
                f"cannot send on the websocket: {exc!r}", code=ws.close_code
            ) from exc

    async def receive(self) -> str:
        """Wait for the next text frame; see `GraphqlWsTransport.receive`."""
        ws = self._ws
        if ws is None:
            raise ConnectionClosedError("the websocket is not open")
        msg = await ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT or msg.type is aiohttp.WSMsgType.BINARY:
            data = msg.data
            # Binary frames are not valid for the protocol; the machine
            # rejects what is not JSON.
            return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
        if msg.type is aiohttp.WSMsgType.CLOSE:
            raise ConnectionClosedError(
                "the server closed the websocket", code=int(msg.data), reason=msg.extra or ""
            )
        if msg.type is aiohttp.WSMsgType.ERROR:
            error = msg.data
            cause = error if isinstance(error, BaseException) else None
            raise ConnectionClosedError(f"the websocket failed: {error!r}", code=1006) from cause
        # CLOSING (we are closing) or CLOSED: aiohttp reports a socket lost
        # without a close frame as CLOSED, sometimes with code 1000; say 1006.
        code = ws.close_code if msg.type is aiohttp.WSMsgType.CLOSING else 1006
        raise ConnectionClosedError("the websocket is closed", code=code)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket; see `GraphqlWsTransport.close`."""
        await self._close(code, reason, _CLOSE_TIMEOUT)

    async def abort(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket at once; see `GraphqlWsTransport.abort`."""
        await self._close(code, reason, _ABORT_TIMEOUT)

    async def _close(self, code: int, reason: str, wait: float) -> None:
        ws, self._ws = self._ws, None
        if ws is None or ws.closed:
            return
        # Shielded: a cancelled task still closes its socket. aiohttp drops
        # the connection when its wait for the server's close frame is
        # cancelled (and bounds that wait by `ws_close` itself).
        with anyio.CancelScope(shield=True), anyio.move_on_after(wait):
            try:
                await ws.close(code=code, message=reason.encode())
            except (aiohttp.ClientError, OSError) as exc:
                logger.debug("closing the websocket failed: %r", exc)

    async def aclose(self) -> None:
        """Close the socket and the session this transport made."""
        await self.close(1000)
        session, self._session = self._session, None
        if session is not None and self._own_session:
            with anyio.CancelScope(shield=True):
                await session.close()
