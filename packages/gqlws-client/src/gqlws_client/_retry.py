"""When to reconnect, and how long to wait first."""

from __future__ import annotations

import random
from collections.abc import Callable

from gqlws_protocol import CloseCode

from ._errors import (
    ClientClosedError,
    ConnectionRejectedError,
    ConnectionTimeoutError,
    GraphqlWsConnectionError,
    GraphqlWsError,
)

__all__ = ["FATAL_CLOSE_CODES", "RETRYABLE_1XXX_CODES", "backoff_delay", "should_reconnect"]

#: Close codes after which reconnecting cannot help: the same request meets
#: the same answer (graphql-ws client `isFatalInternalCloseCode` and
#: `shouldRetryConnectOrThrow`; reference/protocols.md A.4). 4403 is here by
#: our choice (the reference client retries it): credentials the server
#: refused are refused again, and retrying them only loads the server.
FATAL_CLOSE_CODES = frozenset(
    {
        CloseCode.BAD_REQUEST,  # 4400
        CloseCode.UNAUTHORIZED,  # 4401
        CloseCode.FORBIDDEN,  # 4403
        CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE,  # 4406
        CloseCode.SUBSCRIBER_ALREADY_EXISTS,  # 4409
        CloseCode.TOO_MANY_INITIALISATION_REQUESTS,  # 4429
        CloseCode.INTERNAL_SERVER_ERROR,  # 4500
        CloseCode.BAD_RESPONSE,  # 4004
        CloseCode.INTERNAL_CLIENT_ERROR,  # 4005
    }
)

#: The 1xxx codes worth a reconnect: normal end or going away while we still
#: need the connection, no status, abnormal closure, service restart, try
#: again later, bad gateway. Every other 1xxx code is a WebSocket-level
#: failure and fatal.
RETRYABLE_1XXX_CODES = frozenset({1000, 1001, 1005, 1006, 1012, 1013, 1014})


def should_reconnect(error: GraphqlWsError) -> bool:
    """Whether the connection failure `error` is worth a reconnect.

    Args:
        error: how the previous connection ended or failed to open.

    Returns:
        False for our own close, a refusal (except an HTTP 5xx handshake
        answer), a fatal close code and anything that is not a connection
        error; True for timeouts, network failures and the other codes.
    """
    if isinstance(error, ClientClosedError):
        return False
    if isinstance(error, ConnectionRejectedError):
        return error.status is not None and error.status >= 500
    if isinstance(error, ConnectionTimeoutError):
        return True
    if not isinstance(error, GraphqlWsConnectionError):
        return False
    code = error.code
    if code is None:
        return True
    if code in FATAL_CLOSE_CODES:
        return False
    if 1000 <= code <= 1999:
        return code in RETRYABLE_1XXX_CODES
    # 4408, 4499, 4504, application codes: the reference client retries
    # anything that looks like a close and is not fatal.
    return True


def backoff_delay(
    attempt: int,
    bounds: tuple[float, float],
    *,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before reconnect attempt number `attempt`.

    Exponential backoff with jitter: the ceiling doubles from `bounds[0]`
    with each attempt up to `bounds[1]`, and the delay is drawn uniformly
    from the upper half below that ceiling, so clients that lost the same
    server do not all come back at once.

    Args:
        attempt: 1 for the first reconnect, 2 for the second...
        bounds: (smallest ceiling, largest ceiling) in seconds.
        rand: a source of floats in [0, 1).

    Returns:
        The delay in seconds, between `bounds[0] / 2` and `bounds[1]`.
    """
    low, high = bounds
    ceiling = min(high, low * 2.0 ** min(attempt - 1, 62))
    return ceiling / 2 + rand() * ceiling / 2
