"""Graphene-like subscriptions fed by broadcasts through Channels groups."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import weakref
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

import graphene
from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import get_channel_layer
from django.core.exceptions import ImproperlyConfigured
from graphene.types.objecttype import ObjectTypeOptions
from graphene.types.utils import yank_fields_from_attrs
from graphene.utils.get_unbound_function import get_unbound_function
from graphene.utils.props import props
from graphql import GraphQLError

from ._execution import Deferred, call_user
from ._serializer import Serializer

if TYPE_CHECKING:
    from ._consumer import GraphqlWsConsumer

__all__ = ["Subscription", "SubscriptionOptions"]

log = logging.getLogger(__name__)

BROADCAST_TYPE = "gqlws.broadcast"
UNSUBSCRIBE_TYPE = "gqlws.unsubscribe"

# Group name prefixes of the consumer classes of this process, in order of
# appearance; a broadcast reaches the groups under each of them.
_prefixes: dict[str, None] = {"GQLWS": None}
# Event loops consumers of this process run on, for sync broadcasts from
# other threads of the same process.
_server_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
# Fire-and-forget broadcasts started from sync code on a loop thread; kept
# referenced until done so they are not collected half-way.
_background: set[asyncio.Task[None]] = set()


def register_prefix(prefix: str) -> None:
    """Make broadcasts also reach groups named with `prefix`."""
    if prefix not in _prefixes:
        if not isinstance(prefix, str) or not prefix or len(prefix) > 30:
            raise ValueError(
                f"group_name_prefix must be a string of 1 to 30 characters, got {prefix!r}"
            )
        _prefixes[prefix] = None


def _broadcast_prefixes() -> list[str]:
    """The prefixes a broadcast reaches: those of the consumer classes of
    this process and those of the `GQLWS_GROUP_NAME_PREFIXES` setting (for
    a process that broadcasts without importing the consumers)."""
    from django.conf import settings

    prefixes = dict(_prefixes)
    listed = getattr(settings, "GQLWS_GROUP_NAME_PREFIXES", ())
    if isinstance(listed, str) or not all(isinstance(p, str) and p for p in listed):
        raise ImproperlyConfigured(
            f"GQLWS_GROUP_NAME_PREFIXES must be a list of non-empty strings, got {listed!r}"
        )
    prefixes.update(dict.fromkeys(listed))
    return list(prefixes)


def register_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember a loop that serves consumers in this process."""
    _server_loops.add(loop)


@functools.lru_cache(maxsize=8192)
def group_name(prefix: str, cls_path: str, group: str | None) -> str:
    """The Channels group of a subscription class (and optional group).

    Hashed, because Channels limits group names to 100 ASCII characters.
    """
    key = cls_path if group is None else f"{cls_path}-{group}"
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()}"


class _Skip:
    def __repr__(self) -> str:
        return "Subscription.SKIP"


SKIP: Any = _Skip()


class Notification:
    """One broadcast payload on its way to one subscription's `publish`.

    It is the root value of the execution; `skip` is set when `publish`
    suppressed the notification.
    """

    __slots__ = ("payload", "skip")

    def __init__(self, payload: object) -> None:
        self.payload = payload
        self.skip = False


class SubscriptionOptions(ObjectTypeOptions):  # type: ignore[misc]
    """What a `Subscription` subclass declared (graphene `_meta`)."""

    arguments: dict[str, Any] | None = None
    output: Any = None
    subscribe: Callable[..., Any] | None = None
    publish: Callable[..., Any] | None = None
    unsubscribed: Callable[..., Any] | None = None


class _SubscriptionField(graphene.Field):  # type: ignore[misc]
    """The field `Subscription.Field()` mounts: its `subscribe` joins groups."""

    def __init__(self, subscription: type[Subscription], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._subscription = subscription

    def wrap_subscribe(self, parent_subscribe: Any) -> Any:
        return self._subscription._subscribe_resolver()


class Subscription(graphene.ObjectType):  # type: ignore[misc]
    """A subscription fed by broadcasts, declared like a graphene `Mutation`.

    Subclass it with output fields (or an `Output` class), an inner
    `Arguments` class and these methods (static, class or plain methods,
    sync or `async`):

    - `publish(payload, info, **arguments)` (required): called for each
      broadcast that reaches the subscription, with the broadcast payload;
      returns what the field resolves to. Returning `Subscription.SKIP` or
      None sends nothing to this subscriber; raising sends a result with
      `errors` and keeps the subscription.
    - `subscribe(root, info, **arguments)`: called when a client subscribes;
      returns the names of extra groups to join (a list or tuple of str),
      or None. Every subscription also joins its class's group, which
      `broadcast()` without a group reaches.
    - `unsubscribed(root, info, **arguments)`: called when the subscription
      ends: client `complete`/`stop`, server `unsubscribe()`, or disconnect.

    `info.context` is the same object in `subscribe`, every `publish` and
    `unsubscribed` of one subscription. Sync methods run in the consumer's
    worker threads. Mount with `MySubscription.Field()` in the root
    subscription type.

    Attributes:
        notification_queue_limit: per-subscription queue length before the
            oldest notifications are dropped; None uses the consumer's
            `subscription_notification_queue_limit`.
        channel_layer_alias: the Channels layer broadcasts go through.
    """

    SKIP: ClassVar[Any] = SKIP
    notification_queue_limit: ClassVar[int | None] = None
    channel_layer_alias: ClassVar[str] = DEFAULT_CHANNEL_LAYER

    _meta: SubscriptionOptions

    class Meta:
        abstract = True

    @classmethod
    def __init_subclass_with_meta__(
        cls,
        subscribe: Callable[..., Any] | None = None,
        publish: Callable[..., Any] | None = None,
        unsubscribed: Callable[..., Any] | None = None,
        output: Any = None,
        arguments: dict[str, Any] | None = None,
        _meta: SubscriptionOptions | None = None,
        **options: Any,
    ) -> None:
        if _meta is None:
            _meta = SubscriptionOptions(cls)
        output = output or getattr(cls, "Output", None)
        fields: dict[str, Any] = {}
        if not output:
            for base in reversed(cls.__mro__):
                fields.update(yank_fields_from_attrs(base.__dict__, _as=graphene.Field))
            output = cls
        if not arguments:
            input_class = getattr(cls, "Arguments", None)
            arguments = props(input_class) if input_class else {}
        publish = publish or getattr(cls, "publish", None)
        if publish is None:
            raise TypeError(f"subscription {cls.__name__} must define a publish() method")
        subscribe = subscribe or getattr(cls, "subscribe", None)
        unsubscribed = unsubscribed or getattr(cls, "unsubscribed", None)
        if _meta.fields:
            _meta.fields.update(fields)
        else:
            _meta.fields = fields
        _meta.output = output
        _meta.arguments = arguments
        _meta.publish = get_unbound_function(publish)
        _meta.subscribe = subscribe and get_unbound_function(subscribe)
        _meta.unsubscribed = unsubscribed and get_unbound_function(unsubscribed)
        super().__init_subclass_with_meta__(_meta=_meta, **options)

    @classmethod
    def Field(
        cls,
        name: str | None = None,
        description: str | None = None,
        deprecation_reason: str | None = None,
        required: bool = False,
    ) -> graphene.Field:
        """The field to mount in the root subscription type."""
        return _SubscriptionField(
            cls,
            cls._meta.output,
            args=cls._meta.arguments,
            resolver=cls._publish_resolver(),
            name=name,
            description=description or cls._meta.description,
            deprecation_reason=deprecation_reason,
            required=required,
        )

    # Broadcasting.

    @classmethod
    def broadcast(
        cls, *, group: str | None = None, payload: object = None
    ) -> asyncio.Task[None] | None:
        """Send `payload` to the subscriptions of this class (in `group`).

        Works from anywhere. In a thread without a running event loop it
        blocks until the message was handed to the channel layer and returns
        None. On an event loop thread it returns a task: await it (or
        ignore it: its errors are logged, not lost). The payload is
        serialised at once, so an unsupported type raises here.

        Args:
            group: the group given by `subscribe`; None reaches every
                subscription of the class.
            payload: what `publish` receives (see the serializer for the
                supported types: Django models, dates, Decimal, UUID, ...).

        Raises:
            TypeError: the payload holds a type that cannot be serialised.
        """
        message = cls._message(BROADCAST_TYPE, group, payload)
        return cls._dispatch(message, group)

    @classmethod
    async def broadcast_async(cls, *, group: str | None = None, payload: object = None) -> None:
        """`broadcast` for async code: returns once the layer took it."""
        await cls._send(cls._message(BROADCAST_TYPE, group, payload), group)

    @classmethod
    def broadcast_sync(cls, *, group: str | None = None, payload: object = None) -> None:
        """`broadcast` for sync code in a thread without a running loop."""
        _run_from_sync(
            cls._send(cls._message(BROADCAST_TYPE, group, payload), group), "broadcast_sync"
        )

    @classmethod
    def unsubscribe(cls, *, group: str | None = None) -> asyncio.Task[None] | None:
        """End the subscriptions of this class (in `group`) on every server.

        Each gets `unsubscribed` called and its client a `complete`. Same
        calling rules as `broadcast`.
        """
        return cls._dispatch(cls._message(UNSUBSCRIBE_TYPE, group, None), group)

    @classmethod
    async def unsubscribe_async(cls, *, group: str | None = None) -> None:
        """`unsubscribe` for async code."""
        await cls._send(cls._message(UNSUBSCRIBE_TYPE, group, None), group)

    @classmethod
    def unsubscribe_sync(cls, *, group: str | None = None) -> None:
        """`unsubscribe` for sync code in a thread without a running loop."""
        _run_from_sync(
            cls._send(cls._message(UNSUBSCRIBE_TYPE, group, None), group), "unsubscribe_sync"
        )

    @classmethod
    def _cls_path(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    @classmethod
    def _message(cls, kind: str, group: str | None, payload: object) -> dict[str, Any]:
        if group is not None and not isinstance(group, str):
            raise TypeError(f"group must be a str or None, got {type(group).__name__}")
        message: dict[str, Any] = {"type": kind}
        if kind == BROADCAST_TYPE:
            message["payload"] = Serializer.serialize(payload)
        return message

    @classmethod
    def _dispatch(cls, message: dict[str, Any], group: str | None) -> asyncio.Task[None] | None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            _run_from_sync(cls._send(message, group), message["type"])
            return None
        task = asyncio.ensure_future(cls._send(message, group))
        _background.add(task)
        task.add_done_callback(_forget)
        return task

    @classmethod
    async def _send(cls, message: dict[str, Any], group: str | None) -> None:
        layer = get_channel_layer(cls.channel_layer_alias)
        if layer is None:
            raise RuntimeError(
                f"no channel layer {cls.channel_layer_alias!r}: configure CHANNEL_LAYERS "
                "in the Django settings"
            )
        path = cls._cls_path()
        for prefix in _broadcast_prefixes():
            name = group_name(prefix, path, group)
            await layer.group_send(name, {**message, "group": name})

    # The field's functions.

    @classmethod
    def _publish_resolver(cls) -> Callable[..., Any]:
        publish = cls._meta.publish
        assert publish is not None

        async def run(root: Notification, info: Any, **args: Any) -> Any:
            consumer: GraphqlWsConsumer = info.context._gqlws_consumer
            result = await call_user(
                consumer._gqlws_executor(), publish, root.payload, info, **args
            )
            if result is None or result is SKIP:
                root.skip = True
                return None
            return result

        def resolve(root: object, info: Any, **args: Any) -> Deferred:
            if not isinstance(root, Notification):
                raise GraphQLError(
                    f"subscription {cls.__name__} is served over WebSocket by "
                    "GraphqlWsConsumer only"
                )
            # Deferred: nothing to clean up if the notification is cancelled
            # before graphql-core awaits it.
            return Deferred(run, root, info, **args)

        resolve._gqlws_inline = True  # type: ignore[attr-defined]
        return resolve

    @classmethod
    def _subscribe_resolver(cls) -> Callable[..., Any]:
        async def subscribe(root: object, info: Any, **args: Any) -> Any:
            context = info.context
            consumer: GraphqlWsConsumer | None = getattr(context, "_gqlws_consumer", None)
            if consumer is None:
                raise GraphQLError(
                    f"subscription {cls.__name__} is served over WebSocket by "
                    "GraphqlWsConsumer only"
                )
            groups: object = None
            if cls._meta.subscribe is not None:
                try:
                    groups = await call_user(
                        consumer._gqlws_executor(), cls._meta.subscribe, root, info, **args
                    )
                except GraphQLError:
                    raise
                except Exception as exc:
                    name = type(exc).__name__
                    raise GraphQLError(
                        f"{name}: {exc}", extensions={"code": name}, original_error=exc
                    ) from exc
            if groups is None:
                groups = ()
            elif not isinstance(groups, (list, tuple)) or not all(
                isinstance(g, str) for g in groups
            ):
                raise GraphQLError(
                    f"subscribe() of {cls.__name__} must return a list or tuple of group "
                    f"names or None, got {groups!r}"
                )
            unsubscribed = cls._meta.unsubscribed
            callback = (
                None
                if unsubscribed is None
                else functools.partial(unsubscribed, None, info, **args)
            )
            return await consumer._gqlws_register(
                context._gqlws_op_id, cls, [None, *groups], callback
            )

        return subscribe


def _forget(task: asyncio.Task[None]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("broadcast failed", exc_info=task.exception())


def _run_from_sync(coro: Coroutine[Any, Any, None], what: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(
            f"{what}() was called on a thread running an event loop; "
            "use the async variant (or the plain one, which returns a task)"
        )
    # A server of this process runs a loop: hand the work to it, so an
    # in-memory layer is only touched from its own loop.
    for loop in list(_server_loops):
        if loop.is_running() and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(coro, loop).result()
            return

    # A plain process (management command, worker): a short-lived loop.
    async def run() -> None:
        await coro

    async_to_sync(run)()
