"""The schema the server tests serve: queries, a mutation that broadcasts,
and subscriptions in each form the `Subscription` class allows."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import gqlws_server_channels as gqlws
import graphene
from graphene.types.generic import GenericScalar

# What the hooks saw, for the tests to inspect; reset by a fixture.
EVENTS: list[tuple[str, Any]] = []


class BlockingGauge:
    """How many `blocking` resolvers run at once; they wait for `release`."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        # Released once by each resolver that started.
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()


BLOCKING = BlockingGauge()


class Gate:
    """Holds the `publish` of a "hold" payload of the `OnGated*`
    subscriptions until a test opens it; reset by a fixture (asyncio events
    belong to one event loop)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()


GATE = Gate()

# Set by the `unsubscribed` of `OnAsyncSubscribe` and `OnClassSubscribe`
# (from a worker thread); cleared by a fixture.
UNSUBSCRIBED = threading.Event()


class Query(graphene.ObjectType):
    hello = graphene.String(name=graphene.String(default_value="world"))
    thread = graphene.String()
    async_hello = graphene.String(name=graphene.String(default_value="world"))
    fail = graphene.String()
    slow = graphene.String(seconds=graphene.Float(required=True))
    context_keys = graphene.List(graphene.String)
    recall = graphene.String()
    whoami = graphene.String()
    book_titles = graphene.List(graphene.String)
    blocking = graphene.String()

    @staticmethod
    def resolve_hello(root: None, info: Any, name: str) -> str:
        return f"Hello, {name}!"

    @staticmethod
    def resolve_thread(root: None, info: Any) -> str:
        return threading.current_thread().name

    @staticmethod
    async def resolve_async_hello(root: None, info: Any, name: str) -> str:
        return f"Hello, {name}!"

    @staticmethod
    def resolve_fail(root: None, info: Any) -> str:
        raise RuntimeError("resolver exploded")

    @staticmethod
    async def resolve_slow(root: None, info: Any, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    @staticmethod
    def resolve_context_keys(root: None, info: Any) -> list[str]:
        return sorted(info.context)

    @staticmethod
    def resolve_recall(root: None, info: Any) -> Any:
        return info.context.channels_scope.get("remembered")

    @staticmethod
    def resolve_whoami(root: None, info: Any) -> str:
        return str(info.context.user)

    @staticmethod
    def resolve_book_titles(root: None, info: Any) -> list[str]:
        # The Django ORM, sync, as users write it: runs in a worker thread.
        from tests.testapp.models import Book

        return [book.title for book in Book.objects.order_by("title")]

    @staticmethod
    def resolve_blocking(root: None, info: Any) -> str:
        # Sync: runs in a worker thread and holds it until released.
        gauge = BLOCKING
        with gauge.lock:
            gauge.active += 1
            gauge.peak = max(gauge.peak, gauge.active)
        gauge.entered.release()
        released = gauge.release.wait(5)
        with gauge.lock:
            gauge.active -= 1
        return "released" if released else "timed out"


class OnMessage(gqlws.Subscription):
    """Messages of a room; the sender's own messages are skipped."""

    room = graphene.String()
    text = graphene.String()
    sender = graphene.String()

    class Arguments:
        room = graphene.String(required=True)
        skip_sender = graphene.String()

    @staticmethod
    def subscribe(root: None, info: Any, room: str, skip_sender: str | None = None) -> list[str]:
        info.context.subscribed_room = room
        EVENTS.append(("subscribe", room))
        return [room]

    @staticmethod
    def publish(
        payload: dict[str, Any], info: Any, room: str, skip_sender: str | None = None
    ) -> Any:
        if payload.get("fail"):
            raise ValueError("publish exploded")
        if skip_sender is not None and payload["sender"] == skip_sender:
            return None
        assert info.context.subscribed_room == room
        return OnMessage(room=room, text=payload["text"], sender=payload["sender"])

    @staticmethod
    def unsubscribed(root: None, info: Any, room: str, skip_sender: str | None = None) -> None:
        EVENTS.append(("unsubscribed", room))


class OnAnything(gqlws.Subscription):
    """Async methods, a classmethod publish, no groups but the class one."""

    value = graphene.String()

    @classmethod
    async def publish(cls, payload: Any, info: Any) -> Any:
        if payload == "skip":
            return cls.SKIP
        if isinstance(payload, dict) and "sleep" in payload:
            await asyncio.sleep(payload["sleep"])
        return cls(value=repr(payload))

    async def unsubscribed(self, info: Any) -> None:
        EVENTS.append(("unsubscribed", "anything"))


class OnLatest(gqlws.Subscription):
    """Keeps only the latest waiting notification."""

    notification_queue_limit = 1
    value = graphene.String()

    @staticmethod
    async def publish(payload: Any, info: Any) -> Any:
        if isinstance(payload, dict):
            await asyncio.sleep(payload["sleep"])
        return OnLatest(value=repr(payload))


class BadGroups(gqlws.Subscription):
    value = graphene.String()

    @staticmethod
    def subscribe(root: None, info: Any) -> Any:
        return "not-a-list"

    @staticmethod
    def publish(payload: Any, info: Any) -> Any:
        return None


class OnGated(gqlws.Subscription):
    """The consumer's queue limit; a "hold" payload waits for `GATE`."""

    value = graphene.String()

    @classmethod
    async def publish(cls, payload: Any, info: Any) -> Any:
        if payload == "hold":
            GATE.entered.set()
            await GATE.opened.wait()
        return cls(value=repr(payload))


class OnGatedPair(OnGated):
    """A class queue limit of two."""

    notification_queue_limit = 2


class OnGatedLatest(OnGated):
    """A class queue limit of one."""

    notification_queue_limit = 1


class OnAsyncSubscribe(gqlws.Subscription):
    """`subscribe` as an async plain method, `unsubscribed` as a sync
    classmethod; each records its context and thread in `EVENTS`."""

    value = graphene.String()

    class Arguments:
        room = graphene.String(required=True)

    async def subscribe(self: Any, info: Any, room: str) -> list[str]:
        EVENTS.append(("subscribe", (None, info.context, threading.current_thread().name)))
        return [room]

    @staticmethod
    async def publish(payload: Any, info: Any, room: str) -> Any:
        EVENTS.append(("publish", (None, info.context, threading.current_thread().name)))
        return OnAsyncSubscribe(value=f"{room}: {payload}")

    @classmethod
    def unsubscribed(cls, root: None, info: Any, room: str) -> None:
        EVENTS.append(("unsubscribed", (cls, info.context, threading.current_thread().name)))
        UNSUBSCRIBED.set()


class OnClassSubscribe(gqlws.Subscription):
    """`subscribe` as a sync classmethod, `unsubscribed` as a plain sync
    method; each records its context and thread in `EVENTS`."""

    value = graphene.String()

    class Arguments:
        room = graphene.String(required=True)

    @classmethod
    def subscribe(cls, root: None, info: Any, room: str) -> list[str]:
        EVENTS.append(("subscribe", (cls, info.context, threading.current_thread().name)))
        return [room]

    @staticmethod
    def publish(payload: Any, info: Any, room: str) -> Any:
        EVENTS.append(("publish", (None, info.context, threading.current_thread().name)))
        return OnClassSubscribe(value=f"{room}: {payload}")

    def unsubscribed(self: Any, info: Any, room: str) -> None:
        EVENTS.append(("unsubscribed", (self, info.context, threading.current_thread().name)))
        UNSUBSCRIBED.set()


class OnRaw(gqlws.Subscription):
    """The payload as is, in a `GenericScalar`: not always JSON; a "hold"
    payload waits for `GATE`."""

    value = GenericScalar()

    @staticmethod
    async def publish(payload: Any, info: Any) -> Any:
        if payload == "hold":
            GATE.entered.set()
            await GATE.opened.wait()
        return OnRaw(value=payload)


class Send(graphene.Mutation):
    class Arguments:
        room = graphene.String(required=True)
        text = graphene.String(required=True)
        sender = graphene.String(default_value="someone")

    ok = graphene.Boolean()

    @staticmethod
    async def mutate(root: None, info: Any, room: str, text: str, sender: str) -> Send:
        await OnMessage.broadcast_async(
            group=room, payload={"room": room, "text": text, "sender": sender}
        )
        return Send(ok=True)


class Remember(graphene.Mutation):
    class Arguments:
        value = graphene.String(required=True)

    ok = graphene.Boolean()

    @staticmethod
    def mutate(root: None, info: Any, value: str) -> Remember:
        info.context.channels_scope["remembered"] = value
        info.context.scratch = value
        return Remember(ok=True)


class Mutation(graphene.ObjectType):
    send = Send.Field()
    remember = Remember.Field()


class Subscription(graphene.ObjectType):
    on_message = OnMessage.Field()
    on_anything = OnAnything.Field()
    on_latest = OnLatest.Field()
    bad_groups = BadGroups.Field()
    on_gated = OnGated.Field()
    on_gated_pair = OnGatedPair.Field()
    on_gated_latest = OnGatedLatest.Field()
    on_async_subscribe = OnAsyncSubscribe.Field()
    on_class_subscribe = OnClassSubscribe.Field()
    on_raw = OnRaw.Field()
    count = graphene.Int(upto=graphene.Int(required=True))

    @staticmethod
    async def subscribe_count(root: None, info: Any, upto: int) -> Any:
        for i in range(upto):
            yield i

    @staticmethod
    def resolve_count(root: int, info: Any, upto: int) -> int:
        return root


schema = graphene.Schema(query=Query, mutation=Mutation, subscription=Subscription)
