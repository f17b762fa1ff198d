"""Choosing the subprotocol from a client's handshake offer."""

from __future__ import annotations

from collections.abc import Iterable

from ._codec import Subprotocol

__all__ = ["DEFAULT_PREFERENCE", "negotiate"]

#: The server's default order: the current protocol first. A client that
#: offers both (gql offers the legacy token first) gets the current one.
DEFAULT_PREFERENCE: tuple[Subprotocol, ...] = (
    Subprotocol.GRAPHQL_TRANSPORT_WS,
    Subprotocol.GRAPHQL_WS,
)


def negotiate(
    offered: Iterable[str | bytes],
    preference: Iterable[Subprotocol | str] = DEFAULT_PREFERENCE,
) -> Subprotocol | None:
    """Pick the subprotocol to accept a WebSocket handshake with.

    Args:
        offered: the tokens of the client's `Sec-WebSocket-Protocol` header,
            as str or bytes (ASGI servers give either); surrounding spaces
            are ignored.
        preference: the subprotocols this server speaks, best first.

    Returns:
        The first subprotocol of `preference` that the client offered, or
        None when there is none: refuse the handshake (or accept it and close
        with 4406).

    Raises:
        ValueError: `preference` names a subprotocol that does not exist.
    """
    tokens = {
        (token.decode("latin-1") if isinstance(token, bytes) else token).strip()
        for token in offered
    }
    for candidate in preference:
        subprotocol = Subprotocol(candidate)
        if subprotocol.value in tokens:
            return subprotocol
    return None
