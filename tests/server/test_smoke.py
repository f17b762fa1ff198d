from __future__ import annotations

import gqlws_server_channels as gqlws
import pytest
from channels.testing import WebsocketCommunicator

from tests.server.schema import schema


class Consumer(gqlws.GraphqlWsConsumer):
    schema = schema
    confirm_subscriptions = True


@pytest.mark.asyncio
@pytest.mark.parametrize("proto", ["graphql-transport-ws", "graphql-ws"])
async def test_smoke(proto: str) -> None:
    comm = WebsocketCommunicator(Consumer.as_asgi(), "/graphql/", subprotocols=[proto])
    connected, sub = await comm.connect()
    assert connected and sub == proto
    await comm.send_json_to({"type": "connection_init"})
    print(await comm.receive_json_from())
    start = "subscribe" if proto == "graphql-transport-ws" else "start"
    await comm.send_json_to(
        {"type": start, "id": "1", "payload": {"query": "{ hello thread asyncHello }"}}
    )
    print(await comm.receive_json_from())
    print(await comm.receive_json_from())
    await comm.send_json_to(
        {
            "type": start,
            "id": "2",
            "payload": {"query": 'subscription { onMessage(room: "a") { text sender } }'},
        }
    )
    print(await comm.receive_json_from())
    await comm.send_json_to(
        {
            "type": start,
            "id": "3",
            "payload": {"query": 'mutation { send(room: "a", text: "hi") { ok } }'},
        }
    )
    for _ in range(3):
        print(await comm.receive_json_from())
    await comm.send_json_to(
        {"type": start, "id": "4", "payload": {"query": "subscription { count(upto: 3) }"}}
    )
    for _ in range(4):
        print(await comm.receive_json_from())
    await comm.disconnect()
