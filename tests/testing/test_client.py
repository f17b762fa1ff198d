"""The testing transport and client: the real client in-process, with the
assertions of the old testing client, through the plugin's fixtures."""

from __future__ import annotations

import asyncio
from typing import Any

import gqlws_server_channels as gqlws
import pytest
from gqlws_client import ConnectionRejectedError, GraphqlWsResponseError
from gqlws_testing import GraphqlWsClient, GraphqlWsTransport, make_application, make_consumer
from gqlws_testing.plugin import ClientFactory

from tests.server.schema import OnMessage, schema

Consumer = make_consumer(schema, confirm_subscriptions=True)

pytestmark = [pytest.mark.asyncio, pytest.mark.gqlws_consumer(consumer=Consumer)]

SUBSCRIBE_ROOM = "subscription ($room: String!) { onMessage(room: $room) { text } }"


async def test_execute_on_each_subprotocol(gqlws_client: GraphqlWsClient, gqlws_subprotocol: str):
    """`gqlws_client` runs once per subprotocol and is connected."""
    assert gqlws_client.connected
    assert gqlws_client.subprotocol == gqlws_subprotocol
    result = await gqlws_client.execute('{ hello(name: "ann") }')
    assert result == {"data": {"hello": "Hello, ann!"}}
    await gqlws_client.finalize()
    assert not gqlws_client.connected


@pytest.mark.gqlws_subprotocols("graphql-ws")
async def test_the_subprotocols_marker_narrows_the_runs(
    gqlws_client: GraphqlWsClient, gqlws_subprotocol: str
):
    assert gqlws_subprotocol == "graphql-ws"
    assert gqlws_client.subprotocol == "graphql-ws"
    await gqlws_client.finalize()


async def test_subscribe_broadcast_and_complete(
    gqlws_client: GraphqlWsClient, gqlws_broadcast_and_wait: Any
):
    op_id = await gqlws_client.subscribe(SUBSCRIBE_ROOM, variables={"room": "r1"})
    payload = {"room": "r1", "text": "hi", "sender": "x"}
    result = await gqlws_broadcast_and_wait(OnMessage, gqlws_client, op_id, payload=payload)
    assert result == {"data": {"onMessage": {"text": "hi"}}}
    await gqlws_client.complete(op_id)
    await OnMessage.broadcast_async(group="r1", payload=payload)
    await gqlws_client.assert_no_messages(attempts=3, interval=0.05)
    await gqlws_client.finalize()


async def test_assert_no_messages_fails_on_a_notification(gqlws_client: GraphqlWsClient):
    op_id = await gqlws_client.subscribe(SUBSCRIBE_ROOM, variables={"room": "r2"})
    await OnMessage.broadcast_async(group="r2", payload={"room": "r2", "text": "a", "sender": "x"})
    with pytest.raises(AssertionError, match="custom text"):
        await gqlws_client.assert_no_messages("custom text", attempts=20, interval=0.05)
    # The result is still there for the operation.
    assert await gqlws_client.receive_next(op_id) == {"data": {"onMessage": {"text": "a"}}}
    await gqlws_client.finalize()


async def test_assert_no_messages_fails_on_an_unread_result(gqlws_client: GraphqlWsClient):
    op_id = await gqlws_client.start("{ hello }")
    # Wait until the answer has arrived, unread.
    for _ in range(100):
        if any(
            not f.is_close and '"next"' in (f.text or "") for f in gqlws_client.transport.frames
        ):
            break
        await asyncio.sleep(0.01)
    with pytest.raises(AssertionError, match="unread results"):
        await gqlws_client.assert_no_messages(attempts=1, interval=0.01)
    assert await gqlws_client.receive_next(op_id) == {"data": {"hello": "Hello, world!"}}
    await gqlws_client.receive_complete(op_id)
    await gqlws_client.finalize()


async def test_receive_error_before_and_during_execution(gqlws_client: GraphqlWsClient):
    op_id = await gqlws_client.start("{ nope }")
    errors, data = await gqlws_client.receive_error(op_id)
    assert data is None
    assert "nope" in str(errors[0]["message"])
    op_id = await gqlws_client.start("{ hello fail }")
    errors, data = await gqlws_client.receive_error(op_id)
    assert data == {"hello": "Hello, world!", "fail": None}
    assert errors[0]["message"] == "resolver exploded"
    await gqlws_client.receive_complete(op_id)
    op_id = await gqlws_client.start("{ hello }")
    with pytest.raises(AssertionError, match="expected errors"):
        await gqlws_client.receive_error(op_id)
    await gqlws_client.finalize()


async def test_execute_raises_the_response_error(gqlws_client: GraphqlWsClient):
    with pytest.raises(GraphqlWsResponseError) as caught:
        await gqlws_client.execute("{ fail }")
    assert caught.value.errors[0]["path"] == ["fail"]
    await gqlws_client.finalize()


async def test_the_wiretap_sees_every_frame(gqlws_client: GraphqlWsClient, gqlws_subprotocol: str):
    await gqlws_client.execute("{ hello }")
    first = await gqlws_client.receive_raw_message(timeout=1)
    assert first["type"] == "connection_ack"
    message = await gqlws_client.receive_raw_message(timeout=1)
    assert message["type"] == ("next" if gqlws_subprotocol == "graphql-transport-ws" else "data")
    assert message["payload"] == {"data": {"hello": "Hello, world!"}}
    assert (await gqlws_client.receive_raw_message(timeout=1))["type"] == "complete"
    with pytest.raises(AssertionError, match="no message arrived"):
        await gqlws_client.receive_raw_message(timeout=0.05)
    await gqlws_client.finalize()


@pytest.mark.parametrize(
    ("subprotocol", "start_type"), [("graphql-transport-ws", "subscribe"), ("graphql-ws", "start")]
)
async def test_connect_only_and_a_forbidden_frame(
    gqlws_client_factory: ClientFactory, subprotocol: str, start_type: str
):
    """An operation before `connection_init` closes 4401 on both subprotocols."""
    client = await gqlws_client_factory(subprotocol=subprotocol, connect=False)
    await client.connect_and_init(connect_only=True)
    assert client.connected
    await client.send_raw_message({"type": start_type, "id": "1", "payload": {"query": "{ a }"}})
    close = await client.wait_disconnect(timeout=2, assert_code=4401)
    assert close["type"] == "websocket.close"
    assert not client.connected


async def test_wait_disconnect_checks_the_code(gqlws_client_factory: ClientFactory):
    client = await gqlws_client_factory(
        consumer_attrs={"connection_init_wait_timeout": 0.1}, connect=False
    )
    await client.connect_and_init(connect_only=True)
    with pytest.raises(AssertionError, match="closed with code 4408"):
        await client.wait_disconnect(timeout=2, assert_code=4400)


async def test_wait_disconnect_fails_when_the_server_stays(gqlws_client: GraphqlWsClient):
    with pytest.raises(AssertionError, match="did not close"):
        await gqlws_client.wait_disconnect(timeout=0.1)
    await gqlws_client.finalize()


async def test_a_raw_malformed_frame_after_init(gqlws_client_factory: ClientFactory):
    client = await gqlws_client_factory()
    await client.send_raw_message("not json")
    close = await client.wait_disconnect(timeout=2, assert_code=4400)
    assert close["code"] == 4400


async def test_a_rejected_handshake_raises(gqlws_client_factory: ClientFactory):
    client = await gqlws_client_factory(
        consumer_attrs={"subprotocols": ["graphql-ws"]},
        subprotocol="graphql-transport-ws",
        connect=False,
    )
    with pytest.raises(ConnectionRejectedError):
        await client.connect_and_init()
    assert not client.connected


async def test_the_factory_builds_from_root_types(gqlws_client_factory: ClientFactory):
    import graphene

    class Query(graphene.ObjectType):
        some_value = graphene.Int()

        @staticmethod
        def resolve_some_value(root: None, info: Any) -> int:
            return 42

    camel = await gqlws_client_factory(query=Query)
    snake = await gqlws_client_factory(query=Query, auto_camelcase=False)
    assert await camel.execute("{ someValue }") == {"data": {"someValue": 42}}
    assert await snake.execute("{ some_value }") == {"data": {"some_value": 42}}
    await camel.finalize()
    await snake.finalize()


async def test_the_old_gql_fixture(gql: Any):
    """A test written for django-channels-graphql-ws's `gql` fixture."""
    import graphene

    class Query(graphene.ObjectType):
        value = graphene.String(arg=graphene.String())

        @staticmethod
        def resolve_value(root: None, info: Any, arg: str) -> str:
            return arg

    client = gql(query=Query, consumer_attrs={"strict_ordering": True})
    assert not client.connected
    await client.connect_and_init()
    msg_id = await client.start(
        "query q($arg: String) { value(arg: $arg) }", variables={"arg": "x"}
    )
    assert await client.receive_next(msg_id) == {"data": {"value": "x"}}
    await client.receive_complete(msg_id)
    await client.finalize()


async def test_the_transport_type_is_checked():
    with pytest.raises(TypeError, match=r"gqlws_testing\.GraphqlWsTransport"):
        GraphqlWsClient(object())  # type: ignore[arg-type]


async def test_the_transport_alone():
    transport = GraphqlWsTransport(make_application(Consumer), "/graphql/", timeout=5)
    selected = await transport.connect(["graphql-ws"])
    assert selected == "graphql-ws"
    await transport.send('{"type": "connection_init"}')
    assert await transport.receive() == '{"type":"connection_ack"}'
    await transport.close()
    assert transport.frames[-1].is_close
    assert transport.frames[-1].code == 1000
    await transport.close()  # idempotent


async def test_make_consumer_refuses_ambiguous_arguments():
    import graphene

    class Query(graphene.ObjectType):
        a = graphene.Int()

    with pytest.raises(ValueError, match="either schema or root types"):
        make_consumer(schema, query=Query)
    with pytest.raises(ValueError, match="needs a schema"):
        make_consumer()
    assert issubclass(make_consumer(consumer=Consumer, send_ping_every=1), gqlws.GraphqlWsConsumer)
