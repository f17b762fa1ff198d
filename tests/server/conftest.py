"""A raw WebSocket test client over Channels' communicator: tests see the
exact frames the server sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import gqlws_server_channels as gqlws
import pytest
import pytest_asyncio
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from tests.server import schema as schema_module

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
MODERN = "graphql-transport-ws"


class RawClient:
    """Sends dicts, receives dicts, skipping pings unless asked."""

    def __init__(self, comm: WebsocketCommunicator, subprotocol: str) -> None:
        self.comm = comm
        self.subprotocol = subprotocol
        self.modern = subprotocol == MODERN
        self.closed = False

    @property
    def start_type(self) -> str:
        return "subscribe" if self.modern else "start"

    @property
    def next_type(self) -> str:
        return "next" if self.modern else "data"

    @property
    def stop_type(self) -> str:
        return "complete" if self.modern else "stop"

    async def send(self, message: dict[str, Any]) -> None:
        await self.comm.send_to(text_data=json.dumps(message))

    async def receive_raw(self, timeout: float = 3) -> dict[str, Any]:
        message = await self.comm.receive_output(timeout)
        if message["type"] == "websocket.close":
            self.closed = True
            return {"type": "websocket.close", "code": message.get("code"), **message}
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])  # type: ignore[no-any-return]

    async def receive(self, timeout: float = 3) -> dict[str, Any]:
        while True:
            message = await self.receive_raw(timeout)
            if message["type"] not in ("ping", "pong", "ka"):
                return message

    async def init(self, payload: Any = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.send(message)
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack
        return ack

    async def start(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"type": self.start_type, "id": op_id, "payload": payload})

    async def stop(self, op_id: str) -> None:
        await self.send({"type": self.stop_type, "id": op_id})

    async def next(self, op_id: str) -> dict[str, Any]:
        message = await self.receive()
        assert message.get("id") == op_id and message["type"] == self.next_type, message
        return message["payload"]  # type: ignore[no-any-return]

    async def complete(self, op_id: str) -> None:
        message = await self.receive()
        assert message == {"type": "complete", "id": op_id}, message

    async def execute(
        self, op_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        await self.start(op_id, query, variables)
        payload = await self.next(op_id)
        await self.complete(op_id)
        return payload

    async def subscribe(
        self, op_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        """Start a subscription and wait for its confirmation."""
        await self.start(op_id, query, variables)
        assert await self.next(op_id) == {"data": None}

    async def closed_with(self, timeout: float = 3) -> int | None:
        while True:
            message = await self.receive_raw(timeout)
            if message["type"] == "websocket.close":
                return message["code"]  # type: ignore[no-any-return]

    def errors(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The errors of an `error` message: a list on graphql-transport-ws,
        a single error on graphql-ws."""
        assert message["type"] == "error", message
        payload = message["payload"]
        return payload if self.modern else [payload]

    async def stopped(self, op_id: str) -> None:
        """After `stop(op_id)`: graphql-ws confirms with `complete`,
        graphql-transport-ws sends nothing."""
        if not self.modern:
            await self.complete(op_id)

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.comm.receive_nothing(timeout)  # type: ignore[no-any-return]


Connect = Callable[..., Awaitable[RawClient]]


def make_consumer(**attrs: Any) -> type[gqlws.GraphqlWsConsumer]:
    attrs.setdefault("schema", schema_module.schema)
    return type("TestConsumer", (gqlws.GraphqlWsConsumer,), attrs)


@pytest.fixture(autouse=True)
def _reset_events() -> None:
    schema_module.EVENTS.clear()
    schema_module.BLOCKING.reset()
    schema_module.GATE.reset()
    schema_module.UNSUBSCRIBED.clear()


@pytest_asyncio.fixture
async def connect() -> AsyncIterator[Connect]:
    """`await connect(subprotocol, init=True, **consumer_settings)`."""
    clients: list[RawClient] = []

    async def factory(
        subprotocol: str = MODERN,
        *,
        init: bool = True,
        consumer: type[gqlws.GraphqlWsConsumer] | None = None,
        scope: dict[str, Any] | None = None,
        **attrs: Any,
    ) -> RawClient:
        cls = consumer or make_consumer(**attrs)
        app = URLRouter([path("graphql/", cls.as_asgi())])
        comm = WebsocketCommunicator(app, "/graphql/", subprotocols=[subprotocol])
        if scope:
            comm.scope.update(scope)
        connected, selected = await comm.connect()
        assert connected, selected
        assert selected == subprotocol
        client = RawClient(comm, subprotocol)
        clients.append(client)
        if init:
            await client.init()
        return client

    yield factory
    for client in clients:
        await client.comm.disconnect()
