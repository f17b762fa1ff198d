"""The baseline: a bare Channels `AsyncJsonWebsocketConsumer`, no GraphQL.

It speaks just enough graphql-transport-ws for the benchmark: `connection_ack`
for `connection_init`, `pong` for `ping`, and for `subscribe` it looks at the
query text instead of parsing it. `hello` answers `next` + `complete` with the
greeting; `send` forwards the message to the room's group, then answers;
`onMessage` joins the room's group, confirms with `next` {"data": null} (as
the GraphQL servers do with `confirm_subscriptions`), and forwards every group
message as `next`. Channels' own `dispatch` runs, so every message, group
messages included, pays its `close_old_connections` hop to a worker thread.
"""

from __future__ import annotations

import os
import re
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.apps.settings")
django.setup()

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

__all__ = ["BareConsumer", "application"]

_NAME = re.compile(r'name:\s*"([^"]*)"')


def _room_group(room: str) -> str:
    return f"bench-room-{room}"


class BareConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Minimal graphql-transport-ws by string matching."""

    async def connect(self) -> None:
        # op id -> room, and room -> op ids, of this connection's subscriptions.
        self.subscriptions: dict[str, str] = {}
        self.rooms: dict[str, list[str]] = {}
        await self.accept("graphql-transport-ws")

    async def disconnect(self, code: int) -> None:
        for room in self.rooms:
            await self.channel_layer.group_discard(_room_group(room), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type")
        if kind == "subscribe":
            await self._subscribe(content["id"], content.get("payload") or {})
        elif kind == "connection_init":
            await self.send_json({"type": "connection_ack"})
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "complete":
            room = self.subscriptions.pop(content.get("id"), None)
            if room is not None:
                self.rooms[room].remove(content["id"])

    async def _subscribe(self, op_id: str, payload: dict[str, Any]) -> None:
        query: str = payload.get("query") or ""
        variables: dict[str, Any] = payload.get("variables") or {}
        if "onMessage" in query:
            room = str(variables.get("room", ""))
            ops = self.rooms.get(room)
            if ops is None:
                ops = self.rooms[room] = []
                await self.channel_layer.group_add(_room_group(room), self.channel_name)
            ops.append(op_id)
            self.subscriptions[op_id] = room
            await self.send_json({"id": op_id, "type": "next", "payload": {"data": None}})
            return
        if "send" in query:
            room = str(variables.get("room", ""))
            await self.channel_layer.group_send(
                _room_group(room),
                {"type": "room.message", "room": room, "text": variables.get("text")},
            )
            data: dict[str, Any] = {"send": {"ok": True}}
        else:
            name = variables.get("name")
            if name is None:
                found = _NAME.search(query)
                name = found.group(1) if found else "stranger"
            data = {"hello": f"Hello, {name}!"}
        await self.send_json({"id": op_id, "type": "next", "payload": {"data": data}})
        await self.send_json({"id": op_id, "type": "complete"})

    async def room_message(self, event: dict[str, Any]) -> None:
        """Group message: one `next` per subscription to the room."""
        data = {"onMessage": {"room": event["room"], "text": event["text"]}}
        for op_id in self.rooms.get(event["room"], ()):
            await self.send_json({"id": op_id, "type": "next", "payload": {"data": data}})


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("graphql/", BareConsumer.as_asgi())])}
)
