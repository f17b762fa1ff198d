"""GraphQL over WebSocket for Django Channels.

Both subprotocols (`graphql-transport-ws` and the legacy `graphql-ws`),
Graphene-like subscriptions fed by broadcasts through Channels groups, in one
process or many. The names are those of django-channels-graphql-ws, so moving
over is an import change.
"""

from __future__ import annotations

from ._consumer import GraphqlWsConsumer
from ._context import DictAsObject
from ._execution import format_error, run_inline
from ._serializer import Serializer
from ._subscription import Subscription, SubscriptionOptions

__version__ = "0.1.0"

__all__ = [
    "DictAsObject",
    "GraphqlWsConsumer",
    "Serializer",
    "Subscription",
    "SubscriptionOptions",
    "__version__",
    "format_error",
    "run_inline",
]
