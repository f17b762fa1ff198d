"""The chat example as users meet it: `manage.py runexample` in a real
process, talked to over WebSocket (both subprotocols), HTTP for the page, and
`manage.py broadcast` from a separate process through Redis."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import urllib.error
import urllib.request
import uuid
from contextlib import AsyncExitStack
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from .conftest import (
    ASSET_FILES,
    FRONTEND,
    HOST,
    ExampleServer,
    example_env,
    local_assets_installed,
    manage,
)
from .wsclient import LEGACY, MODERN, GraphqlWs, OperationError

pytestmark = pytest.mark.timeout(60)

HISTORY = "query read($room: String!) { history(chatroom: $room) { chatroom text sender } }"
SEND = (
    "mutation send($room: String!, $text: String!) "
    "{ sendChatMessage(chatroom: $room, text: $text) { ok } }"
)
LOGIN = (
    "mutation login($username: String!, $password: String!) "
    "{ login(username: $username, password: $password) { ok } }"
)
SUBSCRIBE = (
    "subscription s($room: String!) { onNewChatMessage(chatroom: $room) { chatroom text sender } }"
)


def room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def connect(server: ExampleServer, **options: Any) -> Any:
    """A connection as a browser on the example's page would open it."""
    options.setdefault("origin", server.base_url)
    return GraphqlWs.open(server.ws_url, **options)


def http_get(url: str) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive) and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def session_cookie(server: ExampleServer) -> str:
    """The `sessionid` cookie the page sets, as a Cookie header value."""
    status, headers, _ = http_get(f"{server.base_url}/")
    assert status == 200
    match = re.search(r"sessionid=([^;]+)", headers.get("Set-Cookie") or "")
    assert match, headers
    return f"sessionid={match.group(1)}"


async def send(client: GraphqlWs, chatroom: str, text: str) -> None:
    data = await client.execute(SEND, {"room": chatroom, "text": text})
    assert data == {"sendChatMessage": {"ok": True}}


async def notification(client: GraphqlWs, op_id: str) -> dict[str, Any]:
    result = await client.result(op_id)
    assert "errors" not in result, result
    message: dict[str, Any] = result["data"]["onNewChatMessage"]
    return message


async def until_live(subscriber: GraphqlWs, op_id: str, prober: GraphqlWs, chatroom: str) -> None:
    """Wait until the subscription gets notifications, then drain them.

    Nothing in the protocol says when the server has joined the room's
    group, so `prober` (another session) sends until one arrives, then a
    marker; everything up to the marker is dropped.
    """
    for attempt in range(20):
        await send(prober, chatroom, f"probe {attempt}")
        try:
            await asyncio.wait_for(notification(subscriber, op_id), 0.5)
        except asyncio.TimeoutError:
            continue
        break
    else:
        pytest.fail("the subscription never got a notification")
    await send(prober, chatroom, "ready")
    while (await notification(subscriber, op_id))["text"] != "ready":
        pass


def history_senders(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["text"], m["sender"]) for m in data["history"]]


# The process and the page.


def test_runexample_prints_where_and_how(example_server: ExampleServer) -> None:
    log = example_server.log()
    assert f"http://{HOST}:{example_server.port}/" in log
    assert f"ws://{HOST}:{example_server.port}/graphql/" in log
    assert "username 'user', password 'pass' (created now)" in log
    assert "in-memory" in log


def test_http_graphql_endpoint_points_to_websocket(example_server: ExampleServer) -> None:
    status, headers, body = http_get(f"{example_server.base_url}/graphql/")
    assert status == 426
    assert headers.get("Upgrade") == "websocket"
    assert b"WebSocket" in body


def test_page_serves_local_assets(example_server: ExampleServer) -> None:
    assert local_assets_installed(), "run `npm ci` in example/frontend (.ci/run does)"
    status, headers, page = http_get(f"{example_server.base_url}/")
    assert status == 200
    assert "sessionid=" in (headers.get("Set-Cookie") or "")
    html = page.decode()
    assert "cdn.jsdelivr.net" not in html
    urls = re.findall(r'(?:src|href)="(/static/vendor/[^"]+)"', html)
    assert sorted(u.removeprefix("/static/vendor/") for u in urls) == sorted(ASSET_FILES)
    for url in urls:
        status, _, body = http_get(example_server.base_url + url)
        assert status == 200, url
        local = FRONTEND / "node_modules" / url.removeprefix("/static/vendor/")
        assert body == local.read_bytes(), url
    # The packages are exposed file by file, not node_modules as a whole.
    status, _, _ = http_get(f"{example_server.base_url}/static/vendor/scheduler/package.json")
    assert status == 404


def test_cdn_assets_are_pinned_to_the_frontend_packages(tmp_path: Path) -> None:
    """The default page loads the versions package.json pins, each with an
    integrity hash that matches the npm file."""
    render = (
        "from django.core.management import call_command; call_command('migrate', verbosity=0); "
        "from django.test import Client; "
        "print(Client(HTTP_HOST='127.0.0.1').get('/').content.decode())"
    )
    completed = manage(example_env(tmp_path / "db.sqlite3"), "shell", "-c", render)
    assert completed.returncode == 0, completed.stderr
    found = re.findall(
        r'(?:src|href)="https://cdn\.jsdelivr\.net/npm/([^@"]+)@([^/"]+)/([^"]+)" '
        r'integrity="(sha384-[^"]+)" crossorigin="anonymous"',
        completed.stdout,
    )
    assert sorted(f"{package}/{path}" for package, _, path, _ in found) == sorted(ASSET_FILES)
    pinned = json.loads((FRONTEND / "package.json").read_text())["dependencies"]
    for package, version, path, integrity in found:
        assert pinned[package] == version, package
        installed = FRONTEND / "node_modules" / package / path
        if installed.is_file():
            digest = base64.b64encode(hashlib.sha384(installed.read_bytes()).digest()).decode()
            assert integrity == f"sha384-{digest}", path


# WebSocket.


@pytest.mark.asyncio
@pytest.mark.parametrize("origin", [None, "http://evil.example"], ids=["no-origin", "foreign"])
async def test_handshake_from_another_origin_is_refused(
    example_server: ExampleServer, origin: str | None
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(example_server, origin=origin):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.asyncio
@pytest.mark.parametrize("subprotocol", [MODERN, LEGACY])
async def test_both_subprotocols(example_server: ExampleServer, subprotocol: str) -> None:
    chatroom = room()
    async with connect(example_server, subprotocol=subprotocol) as client:
        assert client.subprotocol == subprotocol
        await send(client, chatroom, f"over {subprotocol}")
        data = await client.execute(HISTORY, {"room": chatroom})
    assert history_senders(data) == [(f"over {subprotocol}", "Anonymous")]


@pytest.mark.asyncio
async def test_prefilled_operations_run_as_the_old_readme_says(
    example_server: ExampleServer,
) -> None:
    """The operations GraphiQL opens with, run in the README's order."""
    status, _, page = http_get(f"{example_server.base_url}/")
    assert status == 200
    config_json = re.search(
        r'<script id="gqlws-config" type="application/json">(.*?)</script>', page.decode(), re.S
    )
    assert config_json
    config = json.loads(config_json.group(1))
    assert config["graphqlPath"] == "/graphql/"
    chat, subscribe = (tab["query"] for tab in config["defaultTabs"])

    async def run(client: GraphqlWs, name: str) -> dict[str, Any]:
        return await client.execute(chat, operation_name=name)

    async with connect(example_server) as subscriber, connect(example_server) as client:
        op_id = await subscriber.start(subscribe)
        assert await run(client, "read") == {"history": []}
        assert await run(client, "send") == {"sendChatMessage": {"ok": True}}
        assert await run(client, "login") == {"login": {"ok": True}}
        assert await run(client, "sendAsUser") == {"sendChatMessage": {"ok": True}}
        data = await run(client, "read")
        assert [(m["chatroom"], m["text"], m["sender"]) for m in data["history"]] == [
            ("kittens", "Hi all!", "Anonymous"),
            ("kittens", "It is me!", "user"),
        ]
        # The subscription (another session) hears the room.
        await until_live(subscriber, op_id, client, "kittens")
        await run(client, "sendAgain")
        assert await notification(subscriber, op_id) == {
            "text": "Something ;-)!",
            "sender": "user",
        }


@pytest.mark.asyncio
async def test_login_checks_the_password(example_server: ExampleServer) -> None:
    chatroom = room()
    async with connect(example_server) as client:
        wrong = await client.execute(LOGIN, {"username": "user", "password": "wrong"})
        assert wrong == {"login": {"ok": False}}
        await send(client, chatroom, "still anonymous")
        right = await client.execute(LOGIN, {"username": "user", "password": "pass"})
        assert right == {"login": {"ok": True}}
        await send(client, chatroom, "logged in")
        data = await client.execute(HISTORY, {"room": chatroom})
    assert history_senders(data) == [("still anonymous", "Anonymous"), ("logged in", "user")]


@pytest.mark.asyncio
async def test_anonymous_subscriber_skips_messages_of_its_session(
    example_server: ExampleServer,
) -> None:
    """Two sockets with the page's session cookie are one sender."""
    cookie = await asyncio.to_thread(session_cookie, example_server)
    chatroom = room()
    async with AsyncExitStack() as stack:
        tab1 = await stack.enter_async_context(connect(example_server, cookie=cookie))
        tab2 = await stack.enter_async_context(connect(example_server, cookie=cookie))
        other = await stack.enter_async_context(connect(example_server))
        op_id = await tab1.start(SUBSCRIBE, {"room": chatroom})
        await until_live(tab1, op_id, other, chatroom)
        await send(tab1, chatroom, "from tab 1")
        await send(tab2, chatroom, "from tab 2, same session")
        await send(other, chatroom, "from another session")
        assert await notification(tab1, op_id) == {
            "chatroom": chatroom,
            "text": "from another session",
            "sender": "Anonymous",
        }
        assert tab1.pending(op_id) == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("subprotocol", [MODERN, LEGACY])
async def test_logged_in_subscriber_skips_messages_of_its_user(
    example_server: ExampleServer, subprotocol: str
) -> None:
    chatroom = room()
    async with AsyncExitStack() as stack:
        mine = await stack.enter_async_context(connect(example_server, subprotocol=subprotocol))
        elsewhere = await stack.enter_async_context(connect(example_server))
        other = await stack.enter_async_context(connect(example_server))
        for client in (mine, elsewhere):
            data = await client.execute(LOGIN, {"username": "user", "password": "pass"})
            assert data == {"login": {"ok": True}}
        op_id = await mine.start(SUBSCRIBE, {"room": chatroom})
        await until_live(mine, op_id, other, chatroom)
        await send(mine, chatroom, "mine")
        await send(elsewhere, chatroom, "mine, from another socket")
        await send(other, chatroom, "theirs")
        assert await notification(mine, op_id) == {
            "chatroom": chatroom,
            "text": "theirs",
            "sender": "Anonymous",
        }
        assert mine.pending(op_id) == 0
        await mine.stop(op_id)
        data = await other.execute(HISTORY, {"room": chatroom})
    assert history_senders(data)[-3:] == [
        ("mine", "user"),
        ("mine, from another socket", "user"),
        ("theirs", "Anonymous"),
    ]


@pytest.mark.asyncio
async def test_bad_input_is_a_graphql_error(example_server: ExampleServer) -> None:
    async with connect(example_server) as client:
        op_id = await client.start(SEND, {"room": room(), "text": ""})
        result = await client.result(op_id)
        assert result["data"] == {"sendChatMessage": None}
        assert result["errors"][0]["message"] == "text must be 1 to 2000 characters long, got 0"
        op_id = await client.start("{ history }")
        with pytest.raises(OperationError):
            await client.result(op_id)


# Another process.


def test_broadcast_needs_redis(example_server: ExampleServer) -> None:
    completed = example_server.manage("broadcast", room(), "lost")
    assert completed.returncode == 1
    assert "REDIS_URL is not set" in completed.stderr


@pytest.mark.asyncio
async def test_broadcast_command_reaches_the_server_through_redis(
    redis_server: ExampleServer,
) -> None:
    assert "Redis at redis://" in redis_server.log()
    chatroom = room()
    async with connect(redis_server) as subscriber, connect(redis_server) as prober:
        op_id = await subscriber.start(SUBSCRIBE, {"room": chatroom})
        await until_live(subscriber, op_id, prober, chatroom)
        completed = await asyncio.to_thread(
            redis_server.manage, "broadcast", chatroom, "from a plain process", "--sender", "ops"
        )
        assert completed.returncode == 0, completed.stderr
        assert await notification(subscriber, op_id) == {
            "chatroom": chatroom,
            "text": "from a plain process",
            "sender": "ops",
        }
        data = await prober.execute(HISTORY, {"room": chatroom})
    assert history_senders(data)[-1] == ("from a plain process", "ops")
