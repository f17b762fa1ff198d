"""Test GraphQL over WebSocket servers built on gqlws-server-channels.

`GraphqlWsTransport` runs the real `GraphqlWsClient` against a Channels
application in-process (no network) through Channels'
`WebsocketCommunicator`; this package's `GraphqlWsClient` adds the
assertions of the testing client of django-channels-graphql-ws.
`LiveServer` serves an application on 127.0.0.1 for clients that need a
real socket. The pytest plugin (`gqlws_testing.plugin`, registered as a
`pytest11` entry point) provides fixtures; `gqlws_testing.conformance`
checks any server against the protocol checklists.
"""

from __future__ import annotations

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
