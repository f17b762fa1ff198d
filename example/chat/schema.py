"""The chat's GraphQL schema: history, sending, login, new-message notifications.

Sync resolvers (the ORM ones) run in gqlws' worker threads, never on the event
loop; `login` is async and hands its database work to threads itself.
"""

from __future__ import annotations

import hashlib
from typing import Any

import graphene
from channels.auth import login as channels_login
from channels.db import database_sync_to_async
from django.contrib.auth import authenticate
from gqlws_server_channels import Subscription
from graphql import GraphQLError, GraphQLResolveInfo

from chat import models

__all__ = ["schema"]

HISTORY_LIMIT = 100
ANONYMOUS = "Anonymous"


def _scope(info: GraphQLResolveInfo) -> dict[str, Any]:
    """The Channels scope of the connection (with `user` and `session`)."""
    scope: dict[str, Any] = info.context.channels_scope
    return scope


def _subscriber_key(scope: dict[str, Any]) -> str | None:
    """Who this connection is, as `Message.sender_key` would say; None for
    an anonymous connection that has no session yet (it sent nothing)."""
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    session = scope.get("session")
    if session is None or session.session_key is None:
        return None
    # A digest: the session key itself is a credential and stays private.
    return "session:" + hashlib.sha256(session.session_key.encode()).hexdigest()[:32]


def _sender(scope: dict[str, Any]) -> tuple[str, str]:
    """(name shown, sender key) of the connection sending a message."""
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return user.get_username(), f"user:{user.pk}"
    session = scope["session"]
    if session.session_key is None:
        # A client without a session cookie: give its socket a session, so
        # its own subscriptions know its messages.
        session.save()
    key = _subscriber_key(scope)
    assert key is not None
    return ANONYMOUS, key


class Message(graphene.ObjectType):  # type: ignore[misc]
    """A chat message."""

    chatroom = graphene.String(required=True)
    text = graphene.String(required=True)
    sender = graphene.String(required=True, description='A username, or "Anonymous".')
    sent_at = graphene.DateTime(required=True)


class OnNewChatMessage(Subscription):
    """Messages sent to a chat room, except those the subscriber sent."""

    # The newest notifications matter; a slow client loses the oldest.
    notification_queue_limit = 64

    chatroom = graphene.String(required=True)
    text = graphene.String(required=True)
    sender = graphene.String(required=True)
    sent_at = graphene.DateTime(required=True)

    class Arguments:
        chatroom = graphene.String(required=True)

    @staticmethod
    def subscribe(root: None, info: GraphQLResolveInfo, chatroom: str) -> list[str]:
        """One group per chat room."""
        return [chatroom]

    @staticmethod
    def publish(
        payload: models.Message, info: GraphQLResolveInfo, chatroom: str
    ) -> OnNewChatMessage | None:
        """The message (a `Message` model instance, as broadcast), or None to
        skip it when this subscriber sent it."""
        if payload.sender_key == _subscriber_key(_scope(info)):
            return None
        return OnNewChatMessage(
            chatroom=payload.chatroom,
            text=payload.text,
            sender=payload.sender,
            sent_at=payload.sent_at,
        )


def _check_length(name: str, value: str, maximum: int) -> None:
    if not 1 <= len(value) <= maximum:
        raise GraphQLError(f"{name} must be 1 to {maximum} characters long, got {len(value)}")


class Query(graphene.ObjectType):  # type: ignore[misc]
    """Reading the chat."""

    history = graphene.List(
        graphene.NonNull(Message),
        required=True,
        chatroom=graphene.String(required=True),
        description=f"The last {HISTORY_LIMIT} messages of a chat room, oldest first.",
    )

    @staticmethod
    def resolve_history(root: None, info: GraphQLResolveInfo, chatroom: str) -> list[Any]:
        rows = models.Message.objects.filter(chatroom=chatroom).order_by("-id")
        newest = list(rows[:HISTORY_LIMIT])
        newest.reverse()
        return newest


class SendChatMessage(graphene.Mutation):  # type: ignore[misc]
    """Store a message and notify the room's subscribers."""

    class Arguments:
        chatroom = graphene.String(required=True)
        text = graphene.String(required=True)

    ok = graphene.Boolean(required=True)
    message = graphene.Field(Message)

    @staticmethod
    def mutate(root: None, info: GraphQLResolveInfo, chatroom: str, text: str) -> SendChatMessage:
        _check_length("chatroom", chatroom, models.CHATROOM_MAX_LENGTH)
        _check_length("text", text, models.TEXT_MAX_LENGTH)
        sender, sender_key = _sender(_scope(info))
        message = models.Message.objects.create(
            chatroom=chatroom, text=text, sender=sender, sender_key=sender_key
        )
        # A worker thread, no event loop here: the sync variant hands the
        # broadcast to the server's loop and returns once the layer has it.
        # The model instance travels serialised, to every server process.
        OnNewChatMessage.broadcast_sync(group=chatroom, payload=message)
        return SendChatMessage(ok=True, message=message)


class Login(graphene.Mutation):  # type: ignore[misc]
    """Log the WebSocket connection in with Django's authentication.

    The login holds for this connection (and is stored in its session); a
    WebSocket cannot set the browser's cookie, so a new page starts anonymous.
    """

    class Arguments:
        username = graphene.String(required=True)
        password = graphene.String(required=True)

    ok = graphene.Boolean(required=True)

    @staticmethod
    async def mutate(root: None, info: GraphQLResolveInfo, username: str, password: str) -> Login:
        scope = _scope(info)
        user = await database_sync_to_async(authenticate)(username=username, password=password)
        if user is None:
            return Login(ok=False)
        # Puts the user in the session and in `scope["user"]`, which later
        # operations of this connection see; it does not save the session.
        await channels_login(scope, user)
        await database_sync_to_async(scope["session"].save)()
        return Login(ok=True)


class Mutation(graphene.ObjectType):  # type: ignore[misc]
    """Changing the chat."""

    send_chat_message = SendChatMessage.Field()
    login = Login.Field()


class SubscriptionRoot(graphene.ObjectType):  # type: ignore[misc]
    """Notifications."""

    class Meta:
        name = "Subscription"

    on_new_chat_message = OnNewChatMessage.Field()


schema = graphene.Schema(query=Query, mutation=Mutation, subscription=SubscriptionRoot)
