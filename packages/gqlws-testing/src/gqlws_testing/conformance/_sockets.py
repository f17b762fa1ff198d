"""Raw WebSockets for the suite: an ASGI application in-process, or a URL.

Both give the same thing: the handshake's outcome (the selected
subprotocol, or the refusal), then frames as they arrive (text, bytes, the
close code and reason). A reader task moves what arrives into a queue, so a
wait that times out never disturbs the socket or the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ._options import ASGIApp, Message

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Handshake", "RawSocket", "Received", "open_asgi", "open_url"]

# The close code when the peer went away without a close frame (RFC 6455).
ABNORMAL_CLOSURE = 1006


@dataclasses.dataclass(frozen=True)
class Received:
    """One frame from the server: text, bytes, or the close."""

    kind: Literal["text", "bytes", "close"]
    text: str | None = None
    data: bytes | None = None
    code: int | None = None
    reason: str | None = None
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class Handshake:
    """How the opening handshake ended.

    `accepted` with the `subprotocol` selected (None when the response
    carried none), or refused with `code` (the HTTP status, or the close
    code an ASGI application answered the connect with) and `reason`.
    """

    accepted: bool
    subprotocol: str | None = None
    code: int | None = None
    reason: str | None = None


class RawSocket:
    """A connected socket: send frames, receive them with a bounded wait."""

    def __init__(self) -> None:
        self._events: asyncio.Queue[Received] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self.closed_by_server = False

    async def send_text(self, text: str) -> None:
        """Send a text frame."""
        raise NotImplementedError

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        raise NotImplementedError

    async def close(self, code: int) -> None:
        """Close from the client side with `code`."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release everything (the application, the HTTP session)."""
        raise NotImplementedError

    async def receive(self, timeout: float) -> Received | None:
        """The next frame, or None when none came within `timeout` seconds."""
        try:
            return await asyncio.wait_for(self._events.get(), timeout)
        except asyncio.TimeoutError:
            return None

    def _start(self) -> None:
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        raise NotImplementedError

    async def _stop_reader(self) -> None:
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


class _AsgiSocket(RawSocket):
    def __init__(self, communicator: Any, timeout: float) -> None:
        super().__init__()
        self._comm = communicator
        self._timeout = timeout
        self._disconnected = False

    async def _output(self, timeout: float | None) -> Message | None:
        """The application's next message without cancelling it on a
        timeout (`receive_output` would); None on timeout or its end."""
        comm = self._comm
        get = asyncio.ensure_future(comm.output_queue.get())
        future = comm.future
        done, _ = await asyncio.wait(
            {get, future}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if get in done:
            message: Message = get.result()
            return message
        get.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            return await get  # type: ignore[no-any-return]
        return None

    def _ended_note(self) -> str:
        future = self._comm.future
        if not future.done():
            return "no answer"
        if future.cancelled():
            return "the application was cancelled"
        exc = future.exception()
        if exc is not None:
            return f"the application raised {type(exc).__name__}: {exc}"
        return "the application returned"

    async def handshake(self) -> Handshake:
        comm = self._comm
        await comm.send_input({"type": "websocket.connect"})
        message = await self._output(self._timeout)
        if message is None:
            return Handshake(False, reason=self._ended_note())
        if message.get("type") == "websocket.accept":
            subprotocol = message.get("subprotocol")
            self._start()
            return Handshake(
                True, subprotocol=subprotocol if isinstance(subprotocol, str) else None
            )
        if message.get("type") == "websocket.close":
            code = message.get("code", 1000)
            reason = message.get("reason")
            await self._disconnect(code if isinstance(code, int) else 1000)
            return Handshake(
                False,
                code=code if isinstance(code, int) else None,
                reason=reason if isinstance(reason, str) and reason else "closed before accepting",
            )
        return Handshake(False, reason=f"unexpected ASGI message {message.get('type')!r}")

    async def _read(self) -> None:
        while True:
            message = await self._output(None)
            if message is None:
                await self._events.put(
                    Received("close", code=ABNORMAL_CLOSURE, note=self._ended_note())
                )
                return
            kind = message.get("type")
            if kind == "websocket.send":
                text = message.get("text")
                if isinstance(text, str):
                    await self._events.put(Received("text", text=text))
                else:
                    data = message.get("bytes")
                    await self._events.put(
                        Received("bytes", data=data if isinstance(data, bytes) else b"")
                    )
            elif kind == "websocket.close":
                code = message.get("code", 1000)
                reason = message.get("reason")
                self.closed_by_server = True
                await self._events.put(
                    Received(
                        "close",
                        code=code if isinstance(code, int) else 1000,
                        reason=reason if isinstance(reason, str) else "",
                    )
                )
                # What an ASGI server does once the closing handshake is over.
                await self._disconnect(code if isinstance(code, int) else 1000)
                return

    async def _disconnect(self, code: int) -> None:
        if self._disconnected:
            return
        self._disconnected = True
        comm = self._comm
        if not comm.future.done():
            await comm.input_queue.put({"type": "websocket.disconnect", "code": code})

    async def send_text(self, text: str) -> None:
        if not self._disconnected:
            await self._comm.input_queue.put({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        if not self._disconnected:
            await self._comm.input_queue.put({"type": "websocket.receive", "bytes": data})

    async def close(self, code: int) -> None:
        await self._disconnect(code)

    async def aclose(self) -> None:
        await self._disconnect(1000)
        future = self._comm.future
        if not future.done():
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(future), self._timeout)
        if not future.done():
            future.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await future
        await self._stop_reader()


async def open_asgi(
    app: ASGIApp,
    path: str,
    offer: Sequence[str],
    *,
    headers: Mapping[str, str],
    timeout: float,
) -> tuple[Handshake, RawSocket | None]:
    """Open a socket to an ASGI application in-process.

    Args:
        app: the application.
        path: the request path (with an optional query string).
        offer: the subprotocols to offer, in order.
        headers: extra request headers.
        timeout: seconds to wait for the application to accept or refuse.

    Returns:
        The handshake, and the socket when it was accepted.
    """
    from channels.testing import WebsocketCommunicator

    communicator = WebsocketCommunicator(
        app,
        path,
        headers=[(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        subprotocols=list(offer),
    )
    socket = _AsgiSocket(communicator, timeout)
    handshake = await socket.handshake()
    if not handshake.accepted:
        await socket.aclose()
        return handshake, None
    return handshake, socket


class _UrlSocket(RawSocket):
    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse[bool],
        timeout: float,
    ) -> None:
        super().__init__()
        self._session = session
        self._ws = ws
        self._timeout = timeout

    async def _read(self) -> None:
        from aiohttp import WSMsgType

        ws = self._ws
        while True:
            message = await ws.receive()
            if message.type is WSMsgType.TEXT:
                await self._events.put(Received("text", text=message.data))
            elif message.type is WSMsgType.BINARY:
                await self._events.put(Received("bytes", data=message.data))
            elif message.type is WSMsgType.CLOSE:
                self.closed_by_server = True
                await self._events.put(
                    Received("close", code=message.data, reason=message.extra or "")
                )
                return
            else:
                # CLOSING, CLOSED, ERROR: gone without a close frame we saw.
                code = ws.close_code
                note = None if message.type is not WSMsgType.ERROR else repr(message.data)
                await self._events.put(
                    Received("close", code=code or ABNORMAL_CLOSURE, reason="", note=note)
                )
                return

    async def send_text(self, text: str) -> None:
        with contextlib.suppress(Exception):
            await self._ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        with contextlib.suppress(Exception):
            await self._ws.send_bytes(data)

    async def close(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(code=code), self._timeout)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), self._timeout)
        await self._stop_reader()
        await self._session.close()


async def open_url(
    url: str,
    offer: Sequence[str],
    *,
    headers: Mapping[str, str],
    timeout: float,
) -> tuple[Handshake, RawSocket | None]:
    """Open a socket to a ws:// or wss:// URL with aiohttp.

    Args:
        url: the endpoint.
        offer: the subprotocols to offer, in order.
        headers: extra request headers.
        timeout: seconds for the TCP connection and the handshake.

    Returns:
        The handshake, and the socket when it was accepted.

    Raises:
        OSError: the server could not be reached.
    """
    import aiohttp

    session = aiohttp.ClientSession()
    try:
        ws = await asyncio.wait_for(
            session.ws_connect(
                url,
                protocols=tuple(offer),
                headers=dict(headers),
                autoclose=False,
                autoping=True,
                heartbeat=None,
                max_msg_size=0,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout),
            ),
            timeout,
        )
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        return Handshake(False, code=exc.status, reason=f"HTTP {exc.status}"), None
    except asyncio.TimeoutError:
        await session.close()
        return Handshake(False, reason=f"no handshake answer within {timeout:g} s"), None
    except aiohttp.ClientError as exc:
        await session.close()
        raise OSError(f"cannot connect to {url}: {exc}") from exc
    except BaseException:
        await session.close()
        raise
    socket = _UrlSocket(session, ws, timeout)
    socket._start()
    return Handshake(True, subprotocol=ws.protocol), socket
