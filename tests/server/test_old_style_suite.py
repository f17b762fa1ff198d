"""Server tests in the style of django-channels-graphql-ws's own suite.

Written against gqlws-testing's `gql` fixture and testing client the way the
old library's tests were (root types with `auto_camelcase=False`,
`consumer_attrs`, `connect_and_init`, `start` / `receive_next` /
`receive_complete`, `subscribe(wait_confirmation=...)`, `assert_no_messages`,
`wait_disconnect`), so they show both that the server behaves and that such
a suite runs after the import change.
"""

from __future__ import annotations

from typing import Any

import gqlws_server_channels as channels_graphql_ws
import graphene
import pytest
from gqlws_client import GraphqlWsResponseError

pytestmark = pytest.mark.asyncio

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]


class Query(graphene.ObjectType):
    value = graphene.String(arg=graphene.String(default_value="x"))

    @staticmethod
    def resolve_value(root: None, info: Any, arg: str) -> str:
        return arg


class OnChat(channels_graphql_ws.Subscription):
    event = graphene.JSONString()

    class Arguments:
        user_group = graphene.String()

    @staticmethod
    def subscribe(root: None, info: Any, user_group: str | None = None) -> list[str] | None:
        return None if user_group is None else [user_group]

    @staticmethod
    def publish(payload: Any, info: Any, user_group: str | None = None) -> OnChat:
        return OnChat(event=payload)


class SendChat(graphene.Mutation):
    class Arguments:
        text = graphene.String(required=True)
        user_group = graphene.String()

    ok = graphene.Boolean()

    @staticmethod
    async def mutate(root: None, info: Any, text: str, user_group: str | None = None) -> SendChat:
        await OnChat.broadcast_async(group=user_group, payload={"text": text})
        return SendChat(ok=True)


class Mutation(graphene.ObjectType):
    send_chat = SendChat.Field()


class Subscription(graphene.ObjectType):
    on_chat = OnChat.Field()


SUBSCRIBE = "subscription sub($user_group: String) { on_chat(user_group: $user_group) { event } }"
SEND = "mutation send($text: String!, $user_group: String) { send_chat(text: $text, user_group: $user_group) { ok } }"  # noqa: E501


@pytest.mark.parametrize("subprotocol", PROTOCOLS)
async def test_main_usecase(gql: Any, subprotocol: str) -> None:
    client = gql(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        consumer_attrs={"strict_ordering": True, "confirm_subscriptions": True},
        subprotocol=subprotocol,
    )
    await client.connect_and_init()
    sub_id = await client.subscribe(SUBSCRIBE, variables={"user_group": "g"})
    msg_id = await client.start(SEND, variables={"text": "hi", "user_group": "g"})
    assert await client.receive_next(msg_id) == {"data": {"send_chat": {"ok": True}}}
    await client.receive_complete(msg_id)
    notification = await client.receive_next(sub_id)
    assert notification == {"data": {"on_chat": {"event": '{"text": "hi"}'}}}
    await client.complete(sub_id)
    if subprotocol == "graphql-ws":
        # The legacy server answers `stop` with `complete`.
        await client.receive_complete(sub_id)
    await client.assert_no_messages()
    await client.finalize()


@pytest.mark.parametrize("subprotocol", PROTOCOLS)
async def test_server_unsubscribe_and_groups(gql: Any, subprotocol: str) -> None:
    client = gql(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        consumer_attrs={"confirm_subscriptions": True},
        subprotocol=subprotocol,
    )
    await client.connect_and_init()
    to_all = await client.subscribe(SUBSCRIBE)
    to_group = await client.subscribe(SUBSCRIBE, variables={"user_group": "one"})
    # A broadcast to a group reaches its subscription only.
    await OnChat.broadcast_async(group="one", payload="only one")
    assert (await client.receive_next(to_group))["data"]["on_chat"]["event"] == '"only one"'
    await client.assert_no_messages(attempts=2)
    # Without a group, every subscription of the class.
    await OnChat.broadcast_async(payload="everyone")
    assert (await client.receive_next(to_all))["data"]["on_chat"]["event"] == '"everyone"'
    assert (await client.receive_next(to_group))["data"]["on_chat"]["event"] == '"everyone"'
    await OnChat.unsubscribe_async(group="one")
    await client.receive_complete(to_group)
    await client.complete(to_all)
    await client.finalize()


@pytest.mark.parametrize("subprotocol", PROTOCOLS)
async def test_errors(gql: Any, subprotocol: str) -> None:
    client = gql(query=Query, subprotocol=subprotocol)
    await client.connect_and_init()
    msg_id = await client.start("query { value(arg: 1) }")
    errors, data = await client.receive_error(msg_id)
    assert data is None
    assert errors[0]["message"].startswith("String cannot represent")
    with pytest.raises(GraphqlWsResponseError):
        await client.execute("{ wrong }")
    assert await client.execute('{ value(arg: "fine") }') == {"data": {"value": "fine"}}
    await client.finalize()


@pytest.mark.parametrize("subprotocol", PROTOCOLS)
async def test_confirmation_with_errors(gql: Any, subprotocol: str) -> None:
    client = gql(
        query=Query,
        subscription=Subscription,
        consumer_attrs={
            "confirm_subscriptions": True,
            "subscription_confirmation_message": {
                "data": "confirmed",
                "errors": [RuntimeError("not really")],
            },
        },
        subprotocol=subprotocol,
    )
    await client.connect_and_init()
    with pytest.raises(GraphqlWsResponseError) as caught:
        await client.subscribe(SUBSCRIBE)
    assert caught.value.errors == [
        {"message": "RuntimeError: not really", "extensions": {"code": "RuntimeError"}}
    ]
    await client.finalize()


async def test_connection_init_timeout(gql: Any) -> None:
    client = gql(query=Query, consumer_attrs={"connection_init_wait_timeout": 0.2})
    await client.connect_and_init(connect_only=True)
    await client.wait_disconnect(assert_code=4408)


@pytest.mark.parametrize("subprotocol", PROTOCOLS)
async def test_unauthorized(gql: Any, subprotocol: str) -> None:
    def on_connect(self: Any, payload: Any) -> None:
        raise RuntimeError("Connection rejected!")

    client = gql(query=Query, consumer_attrs={"on_connect": on_connect}, subprotocol=subprotocol)
    await client.connect_and_init(connect_only=True)
    await client.send_raw_message({"type": "connection_init", "payload": {}})
    if subprotocol == "graphql-ws":
        message = await client.receive_raw_message()
        assert message["type"] == "connection_error"
    await client.wait_disconnect(assert_code=4403)


async def test_wrong_message_type_and_second_init(gql: Any) -> None:
    client = gql(query=Query)
    await client.connect_and_init()
    await client.send_raw_message({"type": "connection_init"})
    await client.wait_disconnect(assert_code=4429)
    client = gql(query=Query)
    await client.connect_and_init()
    await client.send_raw_message({"type": "wrong_type__(ツ)_/¯"})
    await client.wait_disconnect(assert_code=4400)
