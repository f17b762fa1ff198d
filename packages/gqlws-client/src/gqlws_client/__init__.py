"""GraphQL over WebSocket client for asyncio and trio.

`GraphqlWsClient` speaks `graphql-transport-ws` and the legacy `graphql-ws`
through a `GraphqlWsTransport`: `GraphqlWsTransportAiohttp` (asyncio, extra
`[aiohttp]`), `GraphqlWsTransportTrio` (trio, extra `[trio]`), or your own.
The two shipped transports are imported on first use, so this package
imports without either extra installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._client import GraphqlWsClient
from ._errors import (
    BufferOverflowError,
    ClientClosedError,
    ConnectionClosedError,
    ConnectionLostError,
    ConnectionRejectedError,
    ConnectionTimeoutError,
    GraphqlWsConnectionError,
    GraphqlWsError,
    GraphqlWsResponseError,
    GraphqlWsTimeoutError,
)
from ._operation import GraphqlWsSubscription
from ._retry import FATAL_CLOSE_CODES, RETRYABLE_1XXX_CODES, backoff_delay, should_reconnect
from ._supervisor import ConnectionParams, Overflow
from ._transport import GraphqlWsTransport, cookie_header

if TYPE_CHECKING:
    from ._aiohttp import GraphqlWsTransportAiohttp
    from ._trio import GraphqlWsTransportTrio

__version__ = "0.1.0"

__all__ = [
    "FATAL_CLOSE_CODES",
    "RETRYABLE_1XXX_CODES",
    "BufferOverflowError",
    "ClientClosedError",
    "ConnectionClosedError",
    "ConnectionLostError",
    "ConnectionParams",
    "ConnectionRejectedError",
    "ConnectionTimeoutError",
    "GraphqlWsClient",
    "GraphqlWsConnectionError",
    "GraphqlWsError",
    "GraphqlWsResponseError",
    "GraphqlWsSubscription",
    "GraphqlWsTimeoutError",
    "GraphqlWsTransport",
    "GraphqlWsTransportAiohttp",
    "GraphqlWsTransportTrio",
    "Overflow",
    "__version__",
    "backoff_delay",
    "cookie_header",
    "should_reconnect",
]

# Transports whose library is an optional extra: imported on first access.
_LAZY = {
    "GraphqlWsTransportAiohttp": ("._aiohttp", "aiohttp"),
    "GraphqlWsTransportTrio": ("._trio", "trio"),
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, extra = _LAZY[name]
    import importlib

    try:
        module = importlib.import_module(module_name, __name__)
    except ImportError as exc:
        raise ImportError(
            f"{name} needs the {extra!r} extra: pip install 'gqlws-client[{extra}]'"
        ) from exc
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
