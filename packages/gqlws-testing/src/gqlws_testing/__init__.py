"""Test GraphQL over WebSocket servers built on gqlws-server-channels.

`GraphqlWsTransport` runs the real `GraphqlWsClient` against a Channels
application in-process (no network) through Channels'
`WebsocketCommunicator`; this package's `GraphqlWsClient` adds the
assertions of the testing client of django-channels-graphql-ws.
`LiveServer` serves an application on 127.0.0.1 for clients that need a
real socket. The pytest plugin (`gqlws_testing.plugin`, registered as a
`pytest11` entry point) provides fixtures; `gqlws_testing.conformance`
checks any server against the protocol checklists.

The names are imported on first use: pytest loads the plugin at start-up,
before Django is configured and before coverage measurement begins, and
importing it must not import the server, the client or Django.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._client import GraphqlWsClient
    from ._helpers import broadcast_and_wait, make_application, make_consumer
    from ._live import LiveServer
    from ._transport import GraphqlWsTransport, ReceivedFrame

__version__ = "0.1.0"

__all__ = [
    "GraphqlWsClient",
    "GraphqlWsTransport",
    "LiveServer",
    "ReceivedFrame",
    "__version__",
    "broadcast_and_wait",
    "make_application",
    "make_consumer",
]

_MODULES = {
    "GraphqlWsClient": "._client",
    "GraphqlWsTransport": "._transport",
    "LiveServer": "._live",
    "ReceivedFrame": "._transport",
    "broadcast_and_wait": "._helpers",
    "make_application": "._helpers",
    "make_consumer": "._helpers",
}


def __getattr__(name: str) -> object:
    module_name = _MODULES.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
