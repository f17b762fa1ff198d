"""`ConformanceConsumer`: the project's server set up for the suite."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from gqlws_server_channels import GraphqlWsConsumer

from ._options import (
    DEFAULT_INIT_TIMEOUT,
    DEFAULT_KEEPALIVE,
    DEFAULT_MAX_OPERATIONS,
    ASGIApp,
)
from ._schema import conformance_schema

__all__ = ["ConformanceConsumer", "conformance_application"]


class ConformanceConsumer(GraphqlWsConsumer):
    """A `GraphqlWsConsumer` serving the conformance schema.

    Its settings are the suite's defaults: `connection_init_wait_timeout`
    1 s, `send_ping_every` 0.3 s (`ka` on graphql-ws, `ping` on
    graphql-transport-ws), `max_operations` 5. `on_connect` reads the
    `connection_init` payload: `{"reject": true}` refuses the connection,
    `{"delay": seconds}` answers that much later.
    """

    schema: ClassVar[Any] = conformance_schema
    connection_init_wait_timeout: ClassVar[float | None] = DEFAULT_INIT_TIMEOUT
    send_ping_every: ClassVar[float | None] = DEFAULT_KEEPALIVE
    max_operations: ClassVar[int | None] = DEFAULT_MAX_OPERATIONS
    # `slow` is slow on purpose: no warning for it.
    warn_operation_timeout: ClassVar[float | None] = None

    async def on_connect(self, payload: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Refuse `{"reject": true}`, wait for `{"delay": seconds}`.

        Args:
            payload: the `connection_init` payload.

        Returns:
            None: the ack carries no payload.

        Raises:
            PermissionError: the payload asked to be refused.
        """
        if isinstance(payload, Mapping):
            delay = payload.get("delay")
            if isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay > 0:
                await asyncio.sleep(delay)
            if payload.get("reject"):
                raise PermissionError("connection refused: the payload asked for it")
        return None


def conformance_application(
    path: str = "graphql/", *, consumer: type[ConformanceConsumer] = ConformanceConsumer
) -> ASGIApp:
    """An ASGI application serving `consumer` at `path` (WebSocket only).

    Run it with `uvicorn --factory gqlws_testing.conformance:conformance_application`
    or mount the consumer in your own router. Django must be configured
    (`DJANGO_SETTINGS_MODULE`, with `channels` installed); apps are set up
    here when they are not yet.

    Args:
        path: the route of the endpoint, Django `path()` syntax without the
            leading slash.
        consumer: the consumer class to serve (a subclass, to change its
            settings or to tamper with it).

    Returns:
        A Channels `URLRouter`.
    """
    import django
    from channels.routing import URLRouter
    from django.apps import apps
    from django.urls import path as route

    if not apps.ready:
        # As Channels' own `get_default_application()` does.
        django.setup(set_prefix=False)
    return cast("ASGIApp", URLRouter([route(path.lstrip("/"), consumer.as_asgi())]))
