"""The interface between the client and a WebSocket library."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TypeVar

__all__ = ["GraphqlWsTransport", "cookie_header"]

_T = TypeVar("_T", bound="GraphqlWsTransport")


class GraphqlWsTransport(abc.ABC):
    """One WebSocket endpoint, opened and closed as often as the client needs.

    A transport moves text frames and nothing else: it knows no GraphQL and
    no subprotocol rules. The client holds one transport for its whole life,
    enters it as an async context manager when it opens (a transport may
    start background tasks or a session there) and leaves it when it
    closes. In between it calls `connect()`, then `send()` / `receive()`
    until the socket closes, then `connect()` again when it reconnects. At
    most one socket is open at a time; `receive()` is called by one task,
    `send()` by one other task, concurrently.

    Errors: raise the client's exceptions, keeping the library's as the
    cause (`raise ConnectionLostError(...) from exc`):

    - `ConnectionRejectedError` (with `status`) when the server answers the
      upgrade request with an HTTP error;
    - `ConnectionLostError` (`code=None`) for network failures;
    - `ConnectionClosedError` with the close `code` and `reason` from
      `receive()` and `send()` once the socket is closed (`code=1006` or None
      when it was lost without a close frame).

    Anything else that escapes is treated as a network failure.
    """

    @abc.abstractmethod
    async def connect(self, subprotocols: Sequence[str]) -> str | None:
        """Open the WebSocket, offering `subprotocols` in this order.

        Args:
            subprotocols: the tokens for `Sec-WebSocket-Protocol`.

        Returns:
            The subprotocol the server selected, or None when its answer
            named none.

        Raises:
            ConnectionRejectedError: the server refused the upgrade.
            ConnectionLostError: the network failed.
        """

    @abc.abstractmethod
    async def send(self, text: str) -> None:
        """Send one text frame.

        Raises:
            ConnectionClosedError: the socket is closed.
        """

    @abc.abstractmethod
    async def receive(self) -> str:
        """Wait for the next text frame and return its text.

        Binary frames may be decoded as UTF-8 or reported as a closed
        connection; the protocol only uses text frames.

        Raises:
            ConnectionClosedError: the socket closed; `code` and `reason`
                are the close frame's, or 1006 when there was none.
        """

    @abc.abstractmethod
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket with `code` and `reason`, then forget it.

        Waits (briefly) for the closing handshake. Does nothing when no
        socket is open; never raises for a socket that is already gone.

        Args:
            code: the close code.
            reason: the close reason, at most 123 bytes of UTF-8.
        """

    async def abort(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket without waiting (more than a moment) for the
        server's closing frame, then forget it.

        The client calls it instead of `close()` when the server stopped
        answering (no ack, pong or `ka` in time): a server that does not
        answer pings will not answer the close either. The default calls
        `close()`.

        Args:
            code: the close code.
            reason: the close reason, at most 123 bytes of UTF-8.
        """
        await self.close(code, reason)

    async def aclose(self) -> None:  # noqa: B027 (optional hook, empty by default)
        """Release what the transport holds (sessions, background tasks).

        The client calls it when it closes, after `close()`. The default does
        nothing.
        """

    async def __aenter__(self: _T) -> _T:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def cookie_header(cookies: Mapping[str, str]) -> str:
    """The `Cookie` request header for `cookies` (RFC 6265 section 4.2.1).

    Args:
        cookies: cookie names and values, sent as given (no quoting).

    Returns:
        The header value, `name=value` pairs joined by `; `.
    """
    return "; ".join(f"{name}={value}" for name, value in cookies.items())
