"""Several server processes on Channels' Redis layers, fed by a plain Python
process that broadcasts with no event loop (as a management command or a
Celery task would).

Real processes, real Redis on 127.0.0.1:6379: two uvicorn servers serving
the test schema, clients on each, and a broadcaster process calling
`OnMessage.broadcast_sync` / `unsubscribe_sync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from gqlws_client import GraphqlWsClient, GraphqlWsTransportAiohttp

from tests.integration.conftest import (
    ROOT,
    LiveServer,
    start_server,
    stop_processes,
    wait_listening,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
LAYERS = {
    "RedisChannelLayer": "channels_redis.core.RedisChannelLayer",
    "RedisPubSubChannelLayer": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
ON_MESSAGE = 'subscription { onMessage(room: "%s") { text } }'

pytestmark = pytest.mark.asyncio


def _redis_available() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:  # pragma: no cover - CI starts Redis
        pytest.fail(f"these tests need Redis on 127.0.0.1:6379 (.ci/run starts it): {exc}")


@pytest.fixture(scope="module", params=list(LAYERS))
def layer_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that puts a process on one Redis layer, with a key
    prefix of its own so runs never see each other's messages."""
    _redis_available()
    return {
        "GQLWS_TEST_REDIS_URL": REDIS_URL,
        "GQLWS_TEST_LAYER": LAYERS[request.param],
        "GQLWS_TEST_PREFIX": f"gqlws-test-{uuid.uuid4().hex[:12]}",
    }


@pytest.fixture(scope="module")
def two_servers(
    layer_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LiveServer]]:
    log_dir = tmp_path_factory.mktemp("scaleout")
    servers = [
        start_server("uvicorn", log_dir, env=layer_env, name=f"server-{i}") for i in range(2)
    ]
    try:
        for live in servers:
            wait_listening(live)
        yield servers
    finally:
        stop_processes([live.process for live in servers])


def broadcaster(env: dict[str, str], script: str) -> None:
    """Run `script` in a fresh Python process set up like a management
    command: Django configured, no event loop running."""
    code = textwrap.dedent(
        """
        import django
        django.setup()
        from tests.server.schema import OnMessage
        """
    ) + textwrap.dedent(script)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.django_settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


class Subscriber:
    """One client connection holding one confirmed subscription."""

    def __init__(self, client: GraphqlWsClient, room: str) -> None:
        self.results = client.subscribe(ON_MESSAGE % room)

    async def confirmed(self) -> None:
        assert await self.results.__anext__() == {"data": None}

    async def texts(self, count: int) -> list[str]:
        texts = []
        with anyio.fail_after(20):
            for _ in range(count):
                result: Any = await self.results.__anext__()
                texts.append(result["data"]["onMessage"]["text"])
        return texts

    async def ended(self) -> bool:
        with anyio.fail_after(20):
            try:
                await self.results.__anext__()
            except StopAsyncIteration:
                return True
        return False


@contextlib.asynccontextmanager
async def open_clients(urls: list[str]) -> AsyncIterator[list[GraphqlWsClient]]:
    """A client per URL and subprotocol (opened and closed in one task, as
    anyio wants)."""
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                GraphqlWsClient(GraphqlWsTransportAiohttp(url), subprotocol=subprotocol)
            )
            for url in urls
            for subprotocol in ("graphql-transport-ws", "graphql-ws")
        ]


async def test_sync_broadcast_from_a_plain_process_reaches_every_server_in_order_once(
    layer_env: dict[str, str], two_servers: list[LiveServer]
) -> None:
    async with open_clients([live.url for live in two_servers]) as clients:
        await _broadcast_and_unsubscribe(layer_env, clients)


async def _broadcast_and_unsubscribe(
    layer_env: dict[str, str], clients: list[GraphqlWsClient]
) -> None:
    room = f"room-{uuid.uuid4().hex[:8]}"
    subscribers = [Subscriber(client, room) for client in clients]
    for subscriber in subscribers:
        await subscriber.confirmed()
    broadcaster(
        layer_env,
        f"""
        for i in range(30):
            OnMessage.broadcast_sync(group={room!r}, payload={{"text": f"m{{i}}", "sender": "x"}})
        OnMessage.unsubscribe_sync(group={room!r})
        """,
    )
    expected = [f"m{i}" for i in range(30)]
    received = await asyncio.gather(*(s.texts(30) for s in subscribers))
    assert received == [expected] * len(subscribers)
    # The unsubscribe from that process completes the subscriptions on both
    # servers, after what was broadcast before it; nothing is delivered twice.
    assert all(await asyncio.gather(*(s.ended() for s in subscribers)))


async def test_a_killed_server_leaves_the_other_serving(
    layer_env: dict[str, str], tmp_path: Path
) -> None:
    servers = [
        start_server("uvicorn", tmp_path, env=layer_env, name=f"victim-{i}") for i in range(2)
    ]
    try:
        for live in servers:
            wait_listening(live)
        room = f"room-{uuid.uuid4().hex[:8]}"
        victim_client = GraphqlWsClient(GraphqlWsTransportAiohttp(servers[0].url))
        survivor_client = GraphqlWsClient(GraphqlWsTransportAiohttp(servers[1].url))
        async with victim_client, survivor_client:
            victim = Subscriber(victim_client, room)
            survivor = Subscriber(survivor_client, room)
            await victim.confirmed()
            await survivor.confirmed()
            broadcaster(
                layer_env,
                f"OnMessage.broadcast_sync("
                f"group={room!r}, payload={{'text': 'a', 'sender': 'x'}})",
            )
            assert await victim.texts(1) == ["a"]
            assert await survivor.texts(1) == ["a"]
            servers[0].process.kill()
            servers[0].process.wait(10)
            broadcaster(
                layer_env,
                f"OnMessage.broadcast_sync("
                f"group={room!r}, payload={{'text': 'b', 'sender': 'x'}})",
            )
            assert await survivor.texts(1) == ["b"]
            result = await survivor_client.execute('{ hello(name: "still") }')
            assert result == {"data": {"hello": "Hello, still!"}}
    finally:
        stop_processes([live.process for live in servers])


async def test_a_thousand_subscribers_joining_at_once(two_servers: list[LiveServer]) -> None:
    """A thousand group joins in one burst: none fails for want of a Redis
    connection (redis-py pools stop at 100), every subscription is live."""
    rooms = [f"burst-{uuid.uuid4().hex[:6]}-{i}" for i in range(1000)]
    # Six URLs, two subprotocols each: ten connections of 100 subscriptions
    # (the most one connection may hold) and one to send from.
    async with open_clients([two_servers[0].url] * 6) as connections:
        subscribers = [Subscriber(connections[i % 10], room) for i, room in enumerate(rooms)]
        with anyio.fail_after(60):
            await asyncio.gather(*(s.confirmed() for s in subscribers))
        # Each one is really in its group: a broadcast to a few rooms arrives.
        sender = connections[10]
        for i in (0, 499, 999):
            await sender.execute(
                "mutation($room: String!) { send(room: $room, text: $room) { ok } }",
                {"room": rooms[i]},
            )
            assert await subscribers[i].texts(1) == [rooms[i]]
