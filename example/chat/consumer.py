"""The WebSocket consumer serving the chat schema."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gqlws_server_channels import GraphqlWsConsumer

from chat.schema import schema

__all__ = ["ChatConsumer"]

log = logging.getLogger(__name__)


class ChatConsumer(GraphqlWsConsumer):
    """GraphQL over WebSocket, both subprotocols, for the chat."""

    schema = schema
    # Keeps idle connections alive through proxies; the browser's graphql-ws
    # client answers every ping.
    send_ping_every = 20
    # Nothing in the chat schema nests deeper; deeper documents are refused.
    max_query_depth = 6

    async def on_connect(self, payload: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Log who connected; any client may, anonymous or not."""
        client = self.scope.get("client") or ("?", 0)
        user = self.scope.get("user")
        # The auth middleware resolved the user at the handshake already.
        name = user.get_username() if user is not None and user.is_authenticated else "anonymous"
        log.info("connected: %s:%s as %s", client[0], client[1], name)
        return None
