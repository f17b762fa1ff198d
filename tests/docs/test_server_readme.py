"""The code of packages/gqlws-server-channels/README.md, run as written."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from tests.docs.readme_blocks import code_blocks

README = "packages/gqlws-server-channels/README.md"


@pytest.fixture(scope="module")
def readme() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "server_readme"}
    blocks = code_blocks(README)
    assert len(blocks) == 5
    for block in blocks:
        exec(compile(block, README, "exec"), namespace)
    return namespace


async def _connect(application: Any) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(
        application,
        "/graphql/",
        subprotocols=["graphql-transport-ws"],
        headers=[(b"origin", b"http://testserver")],
    )
    connected, _ = await comm.connect()
    assert connected
    return comm


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@override_settings(ALLOWED_HOSTS=["testserver"])
async def test_readme_server_serves_and_broadcasts(readme: dict[str, Any]) -> None:
    comm = await _connect(readme["application"])
    await comm.send_json_to({"type": "connection_init"})
    assert await comm.receive_json_from() == {"type": "connection_ack"}
    query = 'subscription { onMessage(room: "lobby") { room text } }'
    await comm.send_json_to({"type": "subscribe", "id": "s", "payload": {"query": query}})
    assert await comm.receive_json_from() == {"type": "next", "id": "s", "payload": {"data": None}}
    mutation = 'mutation { send(room: "lobby", text: "from a mutation") { ok } }'
    await comm.send_json_to({"type": "subscribe", "id": "m", "payload": {"query": mutation}})
    got = [await comm.receive_json_from() for _ in range(3)]
    assert {"type": "complete", "id": "m"} in got
    notification = next(m for m in got if m["id"] == "s")
    assert notification["payload"]["data"]["onMessage"] == {
        "room": "lobby",
        "text": "from a mutation",
    }

    thread = threading.Thread(target=readme["from_a_thread_or_another_process"])
    thread.start()
    await asyncio.to_thread(thread.join)
    assert (await comm.receive_json_from())["payload"]["data"]["onMessage"]["text"] == "hi"

    await readme["from_async_code"]()
    assert (await comm.receive_json_from())["payload"]["data"]["onMessage"]["text"] == "hi"
    assert await comm.receive_json_from() == {"type": "complete", "id": "s"}
    await comm.disconnect()


def test_readme_redis_settings_name_real_layers(readme: dict[str, Any]) -> None:
    from django.utils.module_loading import import_string

    backend = readme["CHANNEL_LAYERS"]["default"]["BACKEND"]
    assert import_string(backend).__name__ == "RedisChannelLayer"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@override_settings(ALLOWED_HOSTS=["testserver"])
async def test_readme_management_command_broadcasts(readme: dict[str, Any]) -> None:
    comm = await _connect(readme["application"])
    await comm.send_json_to({"type": "connection_init"})
    assert await comm.receive_json_from() == {"type": "connection_ack"}
    query = 'subscription { onMessage(room: "ops") { text } }'
    await comm.send_json_to({"type": "subscribe", "id": "s", "payload": {"query": query}})
    assert await comm.receive_json_from() == {"type": "next", "id": "s", "payload": {"data": None}}
    command = readme["Command"]()
    thread = threading.Thread(
        target=command.handle, kwargs={"room": "ops", "text": "from a command"}
    )
    thread.start()
    await asyncio.to_thread(thread.join)
    message = await comm.receive_json_from()
    assert message["payload"] == {"data": {"onMessage": {"text": "from a command"}}}
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@override_settings(ALLOWED_HOSTS=["testserver"])
async def test_readme_on_connect_refuses_a_bad_token(readme: dict[str, Any]) -> None:
    comm = await _connect(readme["application"])
    await comm.send_json_to({"type": "connection_init", "payload": {"token": "forbidden"}})
    closed = await comm.receive_output(2)
    assert closed["type"] == "websocket.close"
    assert closed["code"] == 4403
    await comm.disconnect()
