"""The examples of packages/gqlws-testing/README.md: each of its Python
blocks is a verbatim part of this file (tests/docs checks it), and these
tests run them."""

from __future__ import annotations

import gqlws_server_channels as gqlws
import pytest
from gqlws_client import GraphqlWsClient, GraphqlWsTransportTrio

from tests.server.schema import OnMessage, schema


class MyGraphqlWsConsumer(gqlws.GraphqlWsConsumer):
    schema = schema
    confirm_subscriptions = True


@pytest.fixture
def gqlws_consumer():
    return MyGraphqlWsConsumer


@pytest.mark.asyncio
async def test_hello(gqlws_client):
    # Runs twice: on graphql-transport-ws and on graphql-ws.
    result = await gqlws_client.execute('query { hello(name: "ann") }')
    assert result == {"data": {"hello": "Hello, ann!"}}
    await gqlws_client.finalize()


@pytest.mark.asyncio
async def test_notifications(gqlws_client, gqlws_broadcast_and_wait):
    # `subscribe` waits for the confirmation (confirm_subscriptions = True).
    op_id = await gqlws_client.subscribe('subscription { onMessage(room: "lobby") { text } }')
    payload = {"room": "lobby", "text": "hi", "sender": "bob"}
    result = await gqlws_broadcast_and_wait(
        OnMessage, gqlws_client, op_id, group="lobby", payload=payload
    )
    assert result == {"data": {"onMessage": {"text": "hi"}}}
    await gqlws_client.complete(op_id)
    await OnMessage.broadcast_async(group="lobby", payload=payload)
    await gqlws_client.assert_no_messages()
    await gqlws_client.finalize()


@pytest.mark.asyncio
async def test_init_timeout(gqlws_client_factory):
    client = await gqlws_client_factory(
        consumer_attrs={"connection_init_wait_timeout": 0.1}, connect=False
    )
    await client.connect_and_init(connect_only=True)  # no connection_init
    await client.wait_disconnect(assert_code=4408)


@pytest.mark.asyncio
@pytest.mark.gqlws_subprotocols("graphql-ws")
async def test_raw_frames(gqlws_client):
    await gqlws_client.send_raw_message({"type": "no such type"})
    message = await gqlws_client.receive_raw_message()
    assert message["type"] == "connection_ack"  # the wiretap sees every frame
    message = await gqlws_client.receive_raw_message()
    assert message["type"] == "error"  # legacy servers answer, and stay
    assert await gqlws_client.execute("{ hello }") == {"data": {"hello": "Hello, world!"}}
    await gqlws_client.finalize()


@pytest.fixture
def anyio_backend():
    return "trio"


@pytest.mark.anyio
async def test_over_a_real_socket(gqlws_live_server):
    transport = GraphqlWsTransportTrio(gqlws_live_server.url)
    async with GraphqlWsClient(transport, subprotocol="graphql-ws") as client:
        result = await client.execute("{ hello }")
    assert result == {"data": {"hello": "Hello, world!"}}
