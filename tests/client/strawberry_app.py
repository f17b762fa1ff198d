"""A GraphQL server no one in this project wrote: strawberry's Channels consumer.

Run as a script by the `strawberry_url` fixture: `python -m
tests.client.strawberry_app FD` serves the already listening socket FD
(127.0.0.1, a free port) with uvicorn, prints "ready", and exits when its
stdin closes (the test process ended) or after ten minutes at most.

Strawberry runs every legacy `graphql-ws` operation as a subscription
(queries and mutations get "queries are not allowed"), so the schema has
subscription twins of what the tests read over both subprotocols.

Endpoints: `/graphql` (both subprotocols), `/auth` (rejects unless the
connection params carry `{"token": "secret"}`; acks with `{"user": "ann"}`),
`/keepalive` (legacy `ka` every 50 ms).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
from collections.abc import AsyncGenerator
from typing import Any

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="gqlws-client-tests",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()

import strawberry
import uvicorn
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import re_path
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.scalars import JSON
from strawberry.types import Info

# Queues of the `stopped` subscriptions: each gets the name of every `ticks`
# stream the server closes, so a test can await the end of a cancelled one.
_STOP_LISTENERS: set[asyncio.Queue[str]] = set()


def _header(info: Info, name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    for key, value in info.context["request"].scope["headers"]:
        if key == wanted:
            return str(value.decode("latin-1"))
    return None


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str = "world") -> str:
        return f"hello {name}"

    @strawberry.field
    def fails(self) -> str:
        raise ValueError("this field always fails")

    @strawberry.field
    def partial(self) -> int:
        return 1

    @strawberry.field
    def connection_params(self, info: Info) -> JSON:
        return JSON(info.context.get("connection_params"))

    @strawberry.field
    def header(self, info: Info, name: str) -> str | None:
        return _header(info, name)


@strawberry.type
class Mutation:
    @strawberry.mutation
    def add(self, a: int, b: int) -> int:
        return a + b


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def count(self, to: int = 3) -> AsyncGenerator[int, None]:
        for i in range(to):
            yield i
            await asyncio.sleep(0)

    @strawberry.subscription
    async def ticks(self, name: str) -> AsyncGenerator[int, None]:
        i = 0
        try:
            while True:
                yield i
                i += 1
                await asyncio.sleep(0.01)
        finally:
            for queue in _STOP_LISTENERS:
                queue.put_nowait(name)

    @strawberry.subscription
    async def stopped(self) -> AsyncGenerator[str, None]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        _STOP_LISTENERS.add(queue)
        try:
            yield "listening"
            while True:
                yield await queue.get()
        finally:
            _STOP_LISTENERS.discard(queue)

    @strawberry.subscription
    async def context(self, info: Info, header: str) -> AsyncGenerator[JSON, None]:
        yield JSON(
            {"params": info.context.get("connection_params"), "header": _header(info, header)}
        )

    @strawberry.subscription
    async def breaks(self) -> AsyncGenerator[int, None]:
        yield 1
        raise ValueError("the stream broke")


schema = strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)


class AuthConsumer(GraphQLWSConsumer):
    async def on_ws_connect(self, context: Any) -> dict[str, object]:
        params = context.get("connection_params") or {}
        if not isinstance(params, dict) or params.get("token") != "secret":
            raise ConnectionRejectionError({"message": "bad token"})
        return {"user": "ann"}


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [
                re_path(r"^graphql$", GraphQLWSConsumer.as_asgi(schema=schema)),
                re_path(r"^auth$", AuthConsumer.as_asgi(schema=schema)),
                re_path(
                    r"^keepalive$",
                    GraphQLWSConsumer.as_asgi(
                        schema=schema, keep_alive=True, keep_alive_interval=0.05
                    ),
                ),
            ]
        )
    }
)


async def _serve(sock: socket.socket) -> None:
    config = uvicorn.Config(application, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            return
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    await task


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))

    def exit_when_orphaned() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_when_orphaned, daemon=True).start()
    limit = threading.Timer(600, os._exit, args=(0,))
    limit.daemon = True
    limit.start()
    asyncio.run(_serve(sock))


if __name__ == "__main__":
    main()
