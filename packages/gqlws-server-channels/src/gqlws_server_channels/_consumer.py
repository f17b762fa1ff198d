"""`GraphqlWsConsumer`: a Channels consumer driving `ServerConnection`."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import itertools
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, ClassVar, NamedTuple

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from gqlws_protocol import (
    DEFAULT_PREFERENCE,
    CloseFrame,
    Complete,
    ConnectionAck,
    ConnectionInit,
    ConnectionRejected,
    Error,
    Next,
    RemoteProtocolError,
    ServerConfig,
    ServerConnection,
    Subprotocol,
    Subscribe,
    negotiate,
)
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    MiddlewareManager,
    OperationType,
    execute,
    get_operation_ast,
)
from graphql.execution import create_source_event_stream

from ._context import DictAsObject
from ._execution import (
    PreparedOperation,
    call_user,
    document_cache,
    format_error,
    format_result,
    is_request_error,
    make_offload_middleware,
    new_executor,
    validation_rules,
)
from ._hub import GroupCalls, GroupHub, hub_for
from ._serializer import Serializer
from ._subscription import (
    BROADCAST_TYPE,
    UNSUBSCRIBE_TYPE,
    Notification,
    Subscription,
    group_name,
    register_loop,
    register_prefix,
)

__all__ = ["GraphqlWsConsumer"]

log = logging.getLogger(__name__)

_connection_ids = itertools.count(1)
_executors: dict[type, ThreadPoolExecutor] = {}
_configs: dict[tuple[object, ...], ServerConfig] = {}
_layer_semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_middleware_managers: dict[tuple[type, int], tuple[MiddlewareManager, MiddlewareManager]] = {}


class _Setup(NamedTuple):
    """The execution settings of a consumer class (and route), shared."""

    schema: GraphQLSchema
    rules: Any
    namespace: Any
    middleware: MiddlewareManager
    offload_only: MiddlewareManager
    anchors: tuple[object, ...]


_setups: dict[tuple[object, ...], _Setup] = {}
# The pending layer call per group of each `strict_ordering` consumer (they
# join groups with their own channel): a join waits for the leave before it,
# which channels_redis may otherwise run last on another connection. Kept
# outside the instances: one more attribute makes every consumer's instance
# dict a larger kind of dict.
_strict_calls: weakref.WeakKeyDictionary[Any, GroupCalls] = weakref.WeakKeyDictionary()


class _Subscription:
    """One live subscription of a connection, fed by broadcasts.

    It holds no task while idle: a broadcast queues a notification and
    starts a drain task when none runs, so thousands of quiet subscriptions
    cost no scheduling and little memory. graphql-core wants the subscribe
    resolver to return an async iterable: this is one, but it is never
    iterated; the consumer drains the queue itself.
    """

    __slots__ = (
        "closed",
        "consumer",
        "context",
        "document",
        "ended",
        "event",
        "groups",
        "limit",
        "op_id",
        "prepared",
        "queue",
        "ready",
        "task",
        "unsubscribed",
    )

    def __init__(
        self,
        consumer: GraphqlWsConsumer,
        op_id: str,
        limit: int,
        groups: list[str],
        unsubscribed: Callable[[], Any] | None,
    ) -> None:
        self.consumer = consumer
        self.op_id = op_id
        self.limit = limit
        self.groups = groups
        self.unsubscribed = unsubscribed
        # Created by the first notification and dropped once drained: an
        # idle subscription keeps no buffer.
        self.queue: collections.deque[Notification] | None = None
        self.task: asyncio.Task[None] | None = None
        # Set once the operation is set up and confirmed: notifications
        # wait in the queue until then.
        self.ready = False
        self.closed = False
        self.ended = False
        self.event: Subscribe | None = None
        self.document: DocumentNode | None = None
        self.context: DictAsObject | None = None
        # Made by the first notification: a subscription never notified
        # does not pay for it (memory per connection).
        self.prepared: PreparedOperation | None = None

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> Notification:
        raise StopAsyncIteration

    def push(self, payload: object) -> None:
        """Queue a broadcast payload; never blocks."""
        if self.closed:
            return
        queue = self.queue
        if queue is None:
            queue = self.queue = collections.deque()
        elif len(queue) >= self.limit:
            queue.popleft()
            if self.limit > 1:
                log.warning(
                    "%s: subscription %r: notification queue full (%d), oldest dropped",
                    self.consumer._name,
                    self.op_id,
                    self.limit,
                )
        queue.append(Notification(payload))
        self.wake()

    def close(self) -> None:
        """End after what is already queued (a server `unsubscribe()`)."""
        self.closed = True
        self.wake()

    def wake(self) -> None:
        if self.ready and self.task is None and not self.ended:
            self.task = self.consumer._start_drain(self)


class GraphqlWsConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """GraphQL over WebSocket for Django Channels, both subprotocols.

    Subclass it, set `schema` and any setting below as class attributes (or
    pass them to `as_asgi()`), and route it: `MyConsumer.as_asgi()`.

    Attributes:
        schema: the `graphene.Schema` (or graphql-core `GraphQLSchema`) to
            serve. Required.
        subprotocols: the subprotocols to accept, preferred first. Default
            `graphql-transport-ws`, then the legacy `graphql-ws`.
        send_ping_every: seconds between server pings (`ping` on
            graphql-transport-ws, `ka` on graphql-ws, where one also follows
            the ack at once). None (default) disables.
        send_keepalive_every: the older name of `send_ping_every`.
        pong_timeout: seconds a client has to answer a server ping before
            the server closes with 1001 (graphql-transport-ws). None
            (default) disables.
        connection_init_wait_timeout: seconds a client has to send
            `connection_init` before the server closes with 4408. Default
            10; 0 or None disables.
        strict_ordering: process each client message (and each broadcast)
            to the end before the next one. Default False: operations run
            concurrently.
        confirm_subscriptions: send `subscription_confirmation_message` as a
            result once a subscription is live (its groups joined). Default
            False.
        subscription_confirmation_message: the confirmation, a dict with
            `data` and `errors` (exceptions, formatted like other errors).
            Default `{"data": None, "errors": None}`.
        subscription_notification_queue_limit: notifications waiting per
            subscription before the oldest is dropped. Default 1024.
        warn_operation_timeout: log a warning when a query or mutation took
            at least this many seconds. Default 1; None disables.
        max_worker_threads: the worker threads running sync resolvers and
            hooks, shared by the connections of a consumer class. Default
            None: min(32, CPUs + 4).
        middleware: graphql-core middleware (a list or a
            `MiddlewareManager`), applied to every execution but the one of
            an operation named `IntrospectionQuery`.
        group_name_prefix: prefix of the Channels groups. Default "GQLWS".
        max_operations: operations active at once on one connection; the
            next gets an `error` message. Default 100; None: unlimited.
        validation_rules: extra graphql-core validation rules. Default ().
        max_query_depth: refuse operations nested deeper. Default None.
        allow_introspection: False refuses `__schema` / `__type`. Default
            True.
        mask_errors: replace the message of unexpected exceptions with
            "Internal server error" (they are logged). Default False.
        channel_layer_concurrency: group joins and leaves in flight at once
            per event loop; more wait their turn, so a burst of subscribers
            never exhausts the channel layer's connection pool. Default 50.
    """

    schema: ClassVar[Any] = None
    subprotocols: ClassVar[Sequence[Subprotocol | str]] = DEFAULT_PREFERENCE
    send_ping_every: ClassVar[float | None] = None
    send_keepalive_every: ClassVar[float | None] = None
    pong_timeout: ClassVar[float | None] = None
    connection_init_wait_timeout: ClassVar[float | None] = 10.0
    strict_ordering: ClassVar[bool] = False
    confirm_subscriptions: ClassVar[bool] = False
    subscription_confirmation_message: ClassVar[Mapping[str, Any]] = {"data": None, "errors": None}
    subscription_notification_queue_limit: ClassVar[int] = 1024
    warn_operation_timeout: ClassVar[float | None] = 1.0
    max_worker_threads: ClassVar[int | None] = None
    middleware: ClassVar[Any] = None
    group_name_prefix: ClassVar[str] = "GQLWS"
    max_operations: ClassVar[int | None] = 100
    validation_rules: ClassVar[Sequence[type[ASTValidationRule]]] = ()
    max_query_depth: ClassVar[int | None] = None
    allow_introspection: ClassVar[bool] = True
    mask_errors: ClassVar[bool] = False
    channel_layer_concurrency: ClassVar[int] = 50

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_prefix(cls.group_name_prefix)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # `as_asgi(**settings)` overrides class settings for this route.
        for name, value in kwargs.items():
            if name.startswith("_") or not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} has no setting {name!r}")
            setattr(self, name, value)
        super().__init__()
        if self.schema is None:
            raise TypeError(f"{type(self).__name__}.schema is not set")
        self._conn: ServerConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._name = f"gqlws#{next(_connection_ids)}"
        self._send_lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        # Made when needed and dropped when empty: a dict that once held
        # an entry keeps its table, paid by every idle connection.
        self._tasks: dict[str, asyncio.Task[None]] | None = None
        self._background: set[asyncio.Task[Any]] | None = None
        self._subscriptions: dict[str, _Subscription] = {}
        # Group -> this connection's subscriptions in it (usually one: a
        # list is the smallest container).
        self._groups: dict[str, list[_Subscription]] = {}
        self._joining: dict[str, asyncio.Task[None]] | None = None

    # Hooks.

    async def on_connect(self, payload: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Called with the `connection_init` payload; may be sync or async.

        Raise (or return False) to refuse the connection: close 4403 on
        graphql-transport-ws, `connection_error` then close on graphql-ws.
        A dict returned becomes the `connection_ack` payload.
        """
        return None

    async def on_operation(self, op_id: str, payload: Mapping[str, Any]) -> None:
        """Called before each operation with its id and payload (`query`,
        `variables`, `operationName`, `extensions`); may be sync or async.
        Raising refuses the operation with an `error` message."""

    async def on_disconnect(self, code: int) -> None:
        """Called once the socket closed, after every operation ended; may
        be sync or async."""

    # Settings, derived once per connection.

    def _server_config(self) -> ServerConfig:
        """The machine's config for these settings, shared by connections."""
        ping = (
            self.send_ping_every if self.send_ping_every is not None else self.send_keepalive_every
        )
        message = self.subscription_confirmation_message or {}
        key = (
            ping,
            self.pong_timeout,
            self.connection_init_wait_timeout,
            bool(self.confirm_subscriptions),
            repr(message),
            self.max_operations,
            self.mask_errors,
        )
        config = _configs.get(key)
        if config is None:
            confirmation: dict[str, Any] = {"data": message.get("data")}
            errors = message.get("errors")
            if errors:
                confirmation["errors"] = [format_error(e, mask=self.mask_errors) for e in errors]
            config = _configs[key] = ServerConfig(
                init_timeout=self.connection_init_wait_timeout or None,
                ping_interval=ping or None,
                pong_timeout=self.pong_timeout,
                confirm_subscriptions=bool(self.confirm_subscriptions),
                confirmation_payload=confirmation,
                max_operations=self.max_operations,
            )
        return config

    def _gqlws_executor(self) -> ThreadPoolExecutor:
        cls = type(self)
        executor = _executors.get(cls)
        if executor is None:
            executor = _executors[cls] = new_executor(self.max_worker_threads)
        return executor

    def _shared_setup(self) -> _Setup:
        """What execution needs from these settings, shared by connections.

        One attribute instead of five: every attribute of a connection is
        paid once per connection.
        """
        key = (
            type(self),
            id(self.schema),
            id(self.validation_rules),
            self.max_query_depth,
            self.allow_introspection,
            id(self.middleware),
        )
        setup = _setups.get(key)
        if setup is None:
            schema = self.schema
            graphql_schema: GraphQLSchema = getattr(schema, "graphql_schema", schema)
            rules = validation_rules(
                self.validation_rules,
                max_query_depth=self.max_query_depth,
                allow_introspection=self.allow_introspection,
            )
            middleware, offload_only = self._middleware_managers()
            setup = _setups[key] = _Setup(
                graphql_schema,
                rules,
                document_cache.namespace(graphql_schema, rules),
                middleware,
                offload_only,
                # Kept alive with the entry, so the ids in its key stay theirs.
                (schema, self.validation_rules, self.middleware),
            )
        return setup

    @property
    def _graphql_schema(self) -> GraphQLSchema:
        return self._setup.schema

    @property
    def _rules(self) -> Any:
        return self._setup.rules

    @property
    def _namespace(self) -> Any:
        return self._setup.namespace

    @property
    def _middleware(self) -> MiddlewareManager:
        return self._setup.middleware

    @property
    def _offload_only(self) -> MiddlewareManager:
        return self._setup.offload_only

    def _middleware_managers(self) -> tuple[MiddlewareManager, MiddlewareManager]:
        """(with the user middleware, offloading only), cached per class."""
        key = (type(self), id(self.middleware))
        managers = _middleware_managers.get(key)
        if managers is None:
            offload = make_offload_middleware(self._gqlws_executor)
            user = self.middleware
            if isinstance(user, MiddlewareManager):
                user = user.middlewares
            # The first middleware sits closest to the resolver.
            managers = (MiddlewareManager(offload, *(user or ())), MiddlewareManager(offload))
            _middleware_managers[key] = managers
        return managers

    # Channels plumbing.

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one connection (the ASGI application of `as_asgi()`).

        As Channels' consumer does, messages from the client and from this
        consumer's channel of the layer go to `dispatch()` one at a time.
        Channels waits for them with a fresh task and an `asyncio.wait()`
        per message; here one loop reads the client and a task reads the
        channel for the whole connection, which costs a query a good share
        less.
        """
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        if self.channel_layer is None:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
            return
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        # One dispatch at a time, whichever source its message came from.
        turn = asyncio.Lock()
        main = asyncio.current_task()
        assert main is not None
        stopped = False

        async def read_channel() -> None:
            nonlocal stopped
            while True:
                message = await self.channel_receive()
                async with turn:
                    try:
                        await self.dispatch(message)
                    except StopConsumer:
                        stopped = True
                        main.cancel()
                        return

        def end_with(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                main.cancel()

        reader = asyncio.get_running_loop().create_task(read_channel())
        reader.add_done_callback(end_with)
        try:
            while True:
                message = await receive()
                async with turn:
                    await self.dispatch(message)
        except StopConsumer:
            pass
        except asyncio.CancelledError:
            if stopped:
                return
            failure = reader.exception() if reader.done() and not reader.cancelled() else None
            if failure is not None:
                # What a handler of a channel message raised ends the
                # connection, as in Channels' loop.
                raise failure from None
            raise
        finally:
            reader.remove_done_callback(end_with)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch first runs `close_old_connections` in a
        # worker thread for every message; here database hygiene happens
        # around the code that runs in worker threads, where the ORM is.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']!r}")
        await handler(message)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        subprotocol = negotiate(self.scope.get("subprotocols") or (), self.subprotocols)
        if subprotocol is None:
            log.info(
                "%s: refused, no supported subprotocol in %s",
                self._name,
                self.scope.get("subprotocols"),
            )
            await self.close()
            return
        loop = self._loop = asyncio.get_running_loop()
        register_loop(loop)
        register_prefix(self.group_name_prefix)
        self._setup = self._shared_setup()
        self._conn = ServerConnection(subprotocol, self._server_config(), now=loop.time())
        await self.accept(subprotocol.value)
        log.debug("%s: open, %s", self._name, subprotocol.value)
        self._arm_timer()

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        conn = self._conn
        if conn is None:
            return
        assert self._loop is not None
        now = self._loop.time()
        text = message.get("text")
        try:
            if text is not None:
                events = conn.receive_text(text, now)
            else:
                events = conn.receive_bytes(message.get("bytes") or b"", now)
        except RemoteProtocolError as exc:
            log.info("%s: closing %d, %s", self._name, exc.code, exc)
            events = []
        for event in events:
            kind = type(event)
            if kind is Subscribe:
                assert isinstance(event, Subscribe)
                if self.strict_ordering:
                    await self._run_strict(event)
                else:
                    self._add_task(event.id, self._loop.create_task(self._run(event)))
            elif kind is Complete:
                assert isinstance(event, Complete)
                task = self._tasks.get(event.id) if self._tasks else None
                if task is not None:
                    self._drop_task(event.id, task)
                    task.cancel()
                record = self._subscriptions.pop(event.id, None)
                if record is not None:
                    self._spawn(self._end_subscription(record))
            elif kind is ConnectionInit:
                assert isinstance(event, ConnectionInit)
                self._spawn(self._init(event))
        await self._flush()

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        code = message.get("code", 1006)
        log.debug("%s: closed %s", self._name, code)
        if self._conn is not None:
            self._conn.receive_close(code)
        if self._timer is not None:
            self._timer.cancel()
        records = list(self._subscriptions.values())
        self._subscriptions.clear()
        tasks = [*(self._tasks or {}).values(), *(self._background or ())]
        tasks.extend(r.task for r in records if r.task is not None)
        self._tasks = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for record in records:
            await self._end_subscription(record)
        try:
            await call_user(self._gqlws_executor(), self.on_disconnect, code)
        except Exception:
            log.exception("%s: on_disconnect failed", self._name)
        raise StopConsumer()

    async def gqlws_broadcast(self, message: dict[str, Any]) -> None:
        """Channel-layer handler: a `Subscription.broadcast()` arrived."""
        members = self._broadcast(message)
        if members and self.strict_ordering:
            # Each broadcast is handled to the end before the next message.
            await self._drained(members)

    async def gqlws_unsubscribe(self, message: dict[str, Any]) -> None:
        """Channel-layer handler: a `Subscription.unsubscribe()` arrived."""
        members = self._unsubscribe(message)
        if self.strict_ordering:
            await self._drained(members)

    def _gqlws_group_message(self, message: dict[str, Any]) -> None:
        """A group message through the hub (no `strict_ordering`)."""
        kind = message.get("type")
        if kind == BROADCAST_TYPE:
            self._broadcast(message)
        elif kind == UNSUBSCRIBE_TYPE:
            self._unsubscribe(message)

    def _broadcast(self, message: dict[str, Any]) -> list[_Subscription] | None:
        members = self._groups.get(message["group"])
        if not members:
            return None
        try:
            # Decoded once per connection, whatever the subscriptions.
            payload = Serializer.deserialize(message["payload"])
        except Exception:
            log.exception("%s: dropped a broadcast whose payload cannot be decoded", self._name)
            return None
        for record in members:
            record.push(payload)
        return members

    def _unsubscribe(self, message: dict[str, Any]) -> list[_Subscription]:
        members = list(self._groups.get(message["group"], ()))
        for record in members:
            record.close()
        return members

    async def _drained(self, records: Any) -> None:
        tasks = [r.task for r in records if r.task is not None]
        if tasks:
            await asyncio.wait(tasks)

    # Sending.

    async def _flush(self) -> None:
        conn = self._conn
        assert conn is not None
        async with self._send_lock:
            for frame in conn.data_to_send():
                try:
                    if type(frame) is str:
                        await self.base_send({"type": "websocket.send", "text": frame})
                    else:
                        assert isinstance(frame, CloseFrame)
                        # A plain int: daphne (autobahn) refuses an IntEnum.
                        await self.base_send(
                            {
                                "type": "websocket.close",
                                "code": int(frame.code),
                                "reason": frame.reason,
                            }
                        )
                except Exception as exc:
                    # The socket went away under us; the disconnect follows.
                    log.debug("%s: send failed: %r", self._name, exc)
                    conn.receive_close(None)
                    break
        self._arm_timer()

    def _arm_timer(self) -> None:
        conn = self._conn
        assert conn is not None and self._loop is not None
        deadline = conn.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = None if deadline is None else self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        assert self._conn is not None and self._loop is not None
        self._timer = self._timer_at = None
        for event in self._conn.handle_timeout(self._loop.time()):
            log.info("%s: closing: %s", self._name, getattr(event, "reason", event))
        self._spawn(self._flush())

    def _spawn(self, coro: Any) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        if self._background is None:
            self._background = set()
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        background = self._background
        if background is not None:
            background.discard(task)
            if not background:
                # Dropped when empty: an emptied set keeps its table.
                self._background = None
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: internal error", self._name, exc_info=task.exception())

    # Connection initialisation.

    async def _init(self, event: ConnectionInit) -> None:
        conn = self._conn
        assert conn is not None
        try:
            result = await call_user(self._gqlws_executor(), self.on_connect, event.payload)
            if result is False:
                raise PermissionError("connection refused")
        except Exception as exc:
            log.info("%s: connection refused: %r", self._name, exc)
            formatted = format_error(exc, mask=self.mask_errors)
            conn.send(ConnectionRejected(payload=formatted, reason=formatted["message"]))
        else:
            ack = result if isinstance(result, Mapping) else None
            conn.send(ConnectionAck(payload=ack))
        await self._flush()

    # Operations.

    async def _run(self, event: Subscribe) -> None:
        task = asyncio.current_task()
        try:
            prepared = await self._prepare(event)
            if prepared is not None:
                await self._iterate(event, *prepared)
        finally:
            self._drop_task(event.id, task)

    def _add_task(self, op_id: str, task: asyncio.Task[None]) -> None:
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = {}
        tasks[op_id] = task

    def _drop_task(self, op_id: str, task: asyncio.Task[Any] | None) -> None:
        tasks = self._tasks
        if tasks is not None and tasks.get(op_id) is task:
            del tasks[op_id]
            if not tasks:
                self._tasks = None

    async def _run_strict(self, event: Subscribe) -> None:
        # Set-up in line (the next message waits); a source stream of the
        # schema's own (an async generator) in a task.
        prepared = await self._prepare(event)
        if prepared is not None:
            assert self._loop is not None
            self._add_task(event.id, self._loop.create_task(self._run_stream(event, prepared)))

    async def _run_stream(
        self, event: Subscribe, prepared: tuple[Any, DocumentNode, DictAsObject]
    ) -> None:
        task = asyncio.current_task()
        try:
            await self._iterate(event, *prepared)
        finally:
            self._drop_task(event.id, task)

    def _context(self, event: Subscribe) -> DictAsObject:
        scope = self.scope
        data: dict[str, object] = {
            "channels_scope": scope,
            "channel_name": self.channel_name,
            "operation_name": event.operation_name,
            "operation_id": event.id,
            # The names the library we replace used.
            "graphql_operation_name": event.operation_name,
            "graphql_operation_id": event.id,
        }
        if "user" in scope:
            data["user"] = scope["user"]
        context = DictAsObject(data)
        context._gqlws_consumer = self
        context._gqlws_op_id = event.id
        return context

    async def _prepare(self, event: Subscribe) -> tuple[Any, DocumentNode, DictAsObject] | None:
        """Run a query or mutation to the end, or set up a subscription.

        Returns the source stream of a subscription (with its document and
        context), None when the operation is over.
        """
        conn = self._conn
        assert conn is not None and self._loop is not None
        op_id = event.id
        started = self._loop.time()
        try:
            if type(self).on_operation is not GraphqlWsConsumer.on_operation:
                payload = {
                    "query": event.query,
                    "variables": event.variables,
                    "operationName": event.operation_name,
                    "extensions": event.extensions,
                }
                await call_user(self._gqlws_executor(), self.on_operation, op_id, payload)
            document = document_cache.get(
                self._graphql_schema, self._rules, event.query, namespace=self._namespace
            )
            if isinstance(document, list):
                conn.send(
                    Error(
                        id=op_id, errors=[format_error(e, mask=self.mask_errors) for e in document]
                    )
                )
                return None
            operation = get_operation_ast(document, event.operation_name)
            if event.operation_name is None and operation is not None and operation.name:
                # The name the document gives, for the context and the logs.
                event = replace(event, operation_name=operation.name.value)
            context = self._context(event)
            variables = dict(event.variables) if event.variables is not None else None
            if operation is not None and operation.operation is OperationType.SUBSCRIPTION:
                stream = await create_source_event_stream(
                    self._graphql_schema, document, None, context, variables, event.operation_name
                )
                if isinstance(stream, ExecutionResult):
                    await self._end_subscription(self._subscriptions.get(op_id), call_hook=False)
                    conn.send(Error(id=op_id, errors=self._errors(stream)))
                    return None
                conn.subscription_active(op_id)
                if isinstance(stream, _Subscription):
                    stream.event = event
                    stream.document = document
                    stream.context = context
                    stream.ready = True
                    # The confirmation goes out first, then what was queued.
                    await self._flush()
                    stream.wake()
                    return None
                return stream, document, context
            middleware = (
                self._offload_only
                if event.operation_name == "IntrospectionQuery"
                else self._middleware
            )
            result = execute(
                self._graphql_schema,
                document,
                None,
                context,
                variables,
                event.operation_name,
                middleware=middleware,
            )
            if inspect.isawaitable(result):
                result = await result
            assert isinstance(result, ExecutionResult)
            if is_request_error(result):
                conn.send(Error(id=op_id, errors=self._errors(result)))
            else:
                self._log_errors(op_id, result)
                conn.send(Next(id=op_id, payload=format_result(result, mask=self.mask_errors)))
                conn.send(Complete(id=op_id))
            elapsed = self._loop.time() - started
            if self.warn_operation_timeout is not None and elapsed >= self.warn_operation_timeout:
                log.warning(
                    "%s: operation %r (%s) took %.3f s",
                    self._name,
                    op_id,
                    event.operation_name or "anonymous",
                    elapsed,
                )
            return None
        except asyncio.CancelledError:
            await self._end_subscription(self._subscriptions.get(op_id))
            raise
        except Exception as exc:
            log.warning("%s: operation %r failed", self._name, op_id, exc_info=True)
            await self._end_subscription(self._subscriptions.get(op_id), call_hook=False)
            conn.send(Error(id=op_id, errors=[format_error(exc, mask=self.mask_errors)]))
            return None
        finally:
            await self._flush()

    def _errors(self, result: ExecutionResult) -> list[dict[str, Any]]:
        return [format_error(e, mask=self.mask_errors) for e in result.errors or ()]

    def _log_errors(self, op_id: str, result: ExecutionResult) -> None:
        for error in result.errors or ():
            original = error.original_error
            # A GraphQLError raised on purpose is an answer, not a failure:
            # no traceback for it.
            unexpected = original is not None and not isinstance(original, GraphQLError)
            log.warning(
                "%s: operation %r: %s",
                self._name,
                op_id,
                error.message,
                exc_info=original if unexpected else None,
            )

    def _start_drain(self, record: _Subscription) -> asyncio.Task[None]:
        assert self._loop is not None
        return self._loop.create_task(self._drain(record))

    async def _drain(self, record: _Subscription) -> None:
        """Execute the queued notifications of one subscription, in order."""
        conn = self._conn
        assert conn is not None and record.event is not None and record.document is not None
        op_id = record.op_id
        prepared = record.prepared
        if prepared is None:
            event = record.event
            prepared = record.prepared = PreparedOperation(
                self._graphql_schema,
                record.document,
                context=record.context,
                variables=dict(event.variables) if event.variables is not None else None,
                operation_name=event.operation_name,
                middleware=self._middleware,
            )
        queue = record.queue
        try:
            while queue:
                item = queue.popleft()
                try:
                    result = prepared.run(item)
                    if not isinstance(result, ExecutionResult):
                        result = await result
                    if item.skip:
                        continue
                    if result.errors:
                        self._log_errors(op_id, result)
                    conn.send(Next(id=op_id, payload=format_result(result, mask=self.mask_errors)))
                except Exception as exc:
                    # Executing or encoding this one failed (a result JSON
                    # cannot carry, say): the client hears of it, as of a
                    # `publish` that raised, and the queue goes on.
                    log.warning(
                        "%s: notification of %r failed: %r", self._name, op_id, exc, exc_info=True
                    )
                    failed = {"data": None, "errors": [format_error(exc, mask=self.mask_errors)]}
                    conn.send(Next(id=op_id, payload=failed))
                await self._flush()
        finally:
            # No await between the empty queue and this: a later push
            # starts a new drain.
            record.task = None
            if not queue:
                record.queue = None
        if record.closed and not record.ended:
            if self._subscriptions.get(op_id) is record:
                del self._subscriptions[op_id]
            await self._end_subscription(record)
            conn.send(Complete(id=op_id))
            await self._flush()

    async def _iterate(
        self, event: Subscribe, stream: Any, document: DocumentNode, context: DictAsObject
    ) -> None:
        """Execute the operation for every item of a schema's own source
        stream (a graphene `subscribe_<field>` async generator)."""
        conn = self._conn
        assert conn is not None
        op_id = event.id
        variables = dict(event.variables) if event.variables is not None else None
        try:
            async for item in stream:
                result = execute(
                    self._graphql_schema,
                    document,
                    item,
                    context,
                    variables,
                    event.operation_name,
                    middleware=self._middleware,
                )
                if inspect.isawaitable(result):
                    result = await result
                assert isinstance(result, ExecutionResult)
                self._log_errors(op_id, result)
                conn.send(Next(id=op_id, payload=format_result(result, mask=self.mask_errors)))
                await self._flush()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The source stream itself failed: an `error` for the operation.
            log.warning("%s: subscription %r failed", self._name, op_id, exc_info=True)
            conn.send(Error(id=op_id, errors=[format_error(exc, mask=self.mask_errors)]))
        else:
            conn.send(Complete(id=op_id))
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        await self._flush()

    # Subscriptions and groups.

    async def _gqlws_register(
        self,
        op_id: str,
        subscription: type[Subscription],
        groups: list[str | None],
        unsubscribed: Callable[[], Any] | None,
    ) -> _Subscription:
        """Called by `Subscription` when a client subscribes: join the groups
        and give the async iterable graphql-core expects."""
        limit = subscription.notification_queue_limit
        if not limit or limit <= 0:
            limit = self.subscription_notification_queue_limit
        path = subscription._cls_path()
        names = list(dict.fromkeys(group_name(self.group_name_prefix, path, g) for g in groups))
        record = _Subscription(self, op_id, limit, names, unsubscribed)
        self._subscriptions[op_id] = record
        await self._join(record)
        return record

    async def _join(self, record: _Subscription) -> None:
        layer = self.channel_layer
        if layer is None:
            raise RuntimeError("no channel layer: configure CHANNEL_LAYERS to serve subscriptions")
        assert self._loop is not None
        for name in record.groups:
            members = self._groups.get(name)
            if members is None:
                members = self._groups[name] = []
                joining = self._group_add(name)
                if joining is not None:
                    if self._joining is None:
                        self._joining = {}
                    self._joining[name] = joining
            else:
                joining = self._joining.get(name) if self._joining else None
            members.append(record)
            if joining is None:
                continue
            try:
                # Shielded: a cancelled subscriber must not cancel the join
                # its siblings wait for.
                await asyncio.shield(joining)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._groups.get(name) is members:
                    del self._groups[name]
                raise RuntimeError(f"could not join channel group {name!r}: {exc}") from exc
            finally:
                pending = self._joining
                if joining.done() and pending is not None and pending.get(name) is joining:
                    del pending[name]
                    if not pending:
                        self._joining = None

    def _group_add(self, name: str) -> asyncio.Task[None] | None:
        """Start joining group `name`; the task to wait for, if any."""
        assert self._loop is not None
        if self.strict_ordering:
            # Broadcasts wait in this connection's own channel, behind the
            # client messages that came before them.
            return self._strict_call(self.channel_layer.group_add, name)
        return self._group_hub().add(name, self)

    async def _group_discard(self, name: str) -> None:
        if self.strict_ordering:
            await self._strict_call(self.channel_layer.group_discard, name)
        else:
            await self._group_hub().discard(name, self)

    def _strict_call(
        self, method: Callable[[str, str], Awaitable[None]], name: str
    ) -> asyncio.Task[None]:
        """Start a layer call for group `name` once the one before it ended."""
        assert self._loop is not None
        calls = _strict_calls.get(self)
        if calls is None:
            calls = _strict_calls[self] = GroupCalls(self._loop)
        return calls.start(name, functools.partial(self._layer_call, method, name))

    def _group_hub(self) -> GroupHub:
        # Looked up, not kept: one more attribute would make every
        # consumer's instance dict a larger kind of dict (memory per
        # connection).
        assert self._loop is not None
        return hub_for(self.channel_layer, self._loop, self._layer_semaphore())

    def _layer_semaphore(self) -> asyncio.Semaphore:
        # A thousand clients subscribing at once would otherwise open a
        # thousand concurrent layer calls, and channels_redis's connection
        # pool (redis-py: 100 connections) fails the calls beyond it. Bounded
        # per event loop, they wait their turn instead.
        assert self._loop is not None
        semaphore = _layer_semaphores.get(self._loop)
        if semaphore is None:
            semaphore = _layer_semaphores[self._loop] = asyncio.Semaphore(
                self.channel_layer_concurrency
            )
        return semaphore

    async def _layer_call(self, method: Callable[[str, str], Awaitable[None]], group: str) -> None:
        async with self._layer_semaphore():
            await method(group, self.channel_name)

    async def _end_subscription(
        self, record: _Subscription | None, *, call_hook: bool = True
    ) -> None:
        """Leave the groups and run `unsubscribed`, once per subscription."""
        if record is None or record.ended:
            return
        record.ended = record.closed = True
        if self._subscriptions.get(record.op_id) is record:
            del self._subscriptions[record.op_id]
        if record.task is not None and record.task is not asyncio.current_task():
            record.task.cancel()
        for name in record.groups:
            members = self._groups.get(name)
            if members is None:
                continue
            if record in members:
                members.remove(record)
            if not members:
                del self._groups[name]
                try:
                    await self._group_discard(name)
                except Exception:
                    log.warning("%s: could not leave group %r", self._name, name, exc_info=True)
        if call_hook and record.unsubscribed is not None:
            try:
                await call_user(self._gqlws_executor(), record.unsubscribed)
            except Exception:
                log.exception("%s: unsubscribed() of %r failed", self._name, record.op_id)
