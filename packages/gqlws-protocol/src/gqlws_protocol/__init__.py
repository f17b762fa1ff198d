"""Sans-IO GraphQL over WebSocket: both subprotocols, both roles, no IO.

`ServerConnection` and `ClientConnection` take text frames and the current
time, and give protocol-neutral events, outgoing frames and the next deadline.
An adapter (a Channels consumer, an aiohttp or trio client, your own) runs the
same loop: feed, act on the events, flush `data_to_send()`, re-arm the timer.
"""

from __future__ import annotations

from ._client import ClientConnection
from ._codec import Codec, DecodeError, JsonDumps, JsonLoads, Role, Subprotocol
from ._config import ClientConfig, ServerConfig
from ._errors import CloseCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from ._events import (
    Complete,
    ConnectionAck,
    ConnectionClosed,
    ConnectionInit,
    ConnectionRejected,
    Error,
    Event,
    JsonObject,
    Next,
    Ping,
    Pong,
    Subscribe,
)
from ._machine import CloseFrame, ConnectionState, Frame
from ._negotiate import DEFAULT_PREFERENCE, negotiate
from ._server import ServerConnection

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_PREFERENCE",
    "ClientConfig",
    "ClientConnection",
    "CloseCode",
    "CloseFrame",
    "Codec",
    "Complete",
    "ConnectionAck",
    "ConnectionClosed",
    "ConnectionInit",
    "ConnectionRejected",
    "ConnectionState",
    "DecodeError",
    "Error",
    "Event",
    "Frame",
    "JsonDumps",
    "JsonLoads",
    "JsonObject",
    "LocalProtocolError",
    "Next",
    "Ping",
    "Pong",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "ServerConfig",
    "ServerConnection",
    "Subprotocol",
    "Subscribe",
    "__version__",
    "negotiate",
]
