"""Validated, frozen configuration of the two machines."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._codec import JsonDumps, JsonLoads
from ._events import JsonObject

__all__ = ["ClientConfig", "ServerConfig"]


def _check_seconds(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be positive and finite, or None to disable, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """What decides which frames a `ServerConnection` sends, and when.

    Attributes:
        init_timeout: seconds a client has to send `connection_init` after
            the socket opened; then close 4408. None disables. Default 10.
        ping_interval: seconds between server pings (`ping` on
            graphql-transport-ws; `ka` on graphql-ws, where one is also sent
            right after the ack). None (default) sends none.
        pong_timeout: seconds to wait for the `pong` answering a server ping
            before closing with 1001 (dead peer). graphql-transport-ws only,
            since legacy clients never answer `ka`. Needs `ping_interval`.
            None (default) disables.
        confirm_subscriptions: send `confirmation_payload` as a `next` once
            the adapter reports a subscription active. Default False.
        confirmation_payload: the confirmation result. Default
            `{"data": None}`.
        max_operations: operations active at once on one connection; the
            next `subscribe` gets an `error` message and the socket stays.
            None: unlimited. Default 100.
        json_loads: JSON parser; None uses `json.loads`.
        json_dumps: JSON serialiser returning `str`; None uses compact `json`.
    """

    init_timeout: float | None = 10.0
    ping_interval: float | None = None
    pong_timeout: float | None = None
    confirm_subscriptions: bool = False
    confirmation_payload: JsonObject = field(default_factory=lambda: {"data": None})
    max_operations: int | None = 100
    json_loads: JsonLoads | None = None
    json_dumps: JsonDumps | None = None

    def __post_init__(self) -> None:
        _check_seconds("init_timeout", self.init_timeout)
        _check_seconds("ping_interval", self.ping_interval)
        _check_seconds("pong_timeout", self.pong_timeout)
        if self.pong_timeout is not None and self.ping_interval is None:
            raise ValueError("pong_timeout needs ping_interval: without pings no pong is due")
        if not isinstance(self.confirm_subscriptions, bool):
            raise TypeError(
                f"confirm_subscriptions must be a bool, got {self.confirm_subscriptions!r}"
            )
        if not isinstance(self.confirmation_payload, Mapping):
            raise TypeError(
                "confirmation_payload must be a mapping (an execution result), "
                f"got {type(self.confirmation_payload).__name__}"
            )
        if self.max_operations is not None and (
            isinstance(self.max_operations, bool)
            or not isinstance(self.max_operations, int)
            or self.max_operations < 1
        ):
            raise ValueError(
                f"max_operations must be a positive int or None, got {self.max_operations!r}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """What decides which frames a `ClientConnection` sends, and when.

    Attributes:
        ack_timeout: seconds to wait for `connection_ack` after the socket
            opened; then close 4504. None waits forever. Default 10.
        ping_interval: seconds between client pings (graphql-transport-ws
            only; the legacy protocol has no client ping). None (default)
            sends none.
        pong_timeout: seconds to wait for the `pong` answering a client ping
            before closing with 4499. Needs `ping_interval`. Default None.
        keepalive_timeout: legacy graphql-ws only: once a `ka` arrived, the
            longest gap allowed between two of them before closing with
            4499. Default None (no watchdog).
        json_loads: JSON parser; None uses `json.loads`.
        json_dumps: JSON serialiser returning `str`; None uses compact `json`.
    """

    ack_timeout: float | None = 10.0
    ping_interval: float | None = None
    pong_timeout: float | None = None
    keepalive_timeout: float | None = None
    json_loads: JsonLoads | None = None
    json_dumps: JsonDumps | None = None

    def __post_init__(self) -> None:
        _check_seconds("ack_timeout", self.ack_timeout)
        _check_seconds("ping_interval", self.ping_interval)
        _check_seconds("pong_timeout", self.pong_timeout)
        _check_seconds("keepalive_timeout", self.keepalive_timeout)
        if self.pong_timeout is not None and self.ping_interval is None:
            raise ValueError("pong_timeout needs ping_interval: without pings no pong is due")
