"""`ConformanceOptions`: what the suite knows about the server under test."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Literal

__all__ = [
    "DEFAULT_INIT_TIMEOUT",
    "DEFAULT_KEEPALIVE",
    "DEFAULT_MAX_OPERATIONS",
    "ASGIApp",
    "ConformanceOptions",
    "Target",
]

#: `ConformanceConsumer.connection_init_wait_timeout`, and the suite's default.
DEFAULT_INIT_TIMEOUT = 1.0
#: `ConformanceConsumer.send_ping_every`, and the suite's default.
DEFAULT_KEEPALIVE = 0.3
#: `ConformanceConsumer.max_operations`, and the suite's default.
DEFAULT_MAX_OPERATIONS = 5

Scope = MutableMapping[str, object]
Message = Mapping[str, object]
#: An ASGI 3 application.
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]
#: What the suite runs against: an ASGI application, or a ws:// / wss:// URL.
Target = ASGIApp | str

MODERN = "graphql-transport-ws"
LEGACY = "graphql-ws"
SUBPROTOCOLS = (MODERN, LEGACY)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConformanceOptions:
    """The server's settings and documented choices, and the suite's waits.

    The defaults describe `ConformanceConsumer`. Declare your own server's
    values; an item that needs a value declared as None reports "skip" with
    the reason.

    Attributes:
        timeout: seconds to wait for a frame the server must send.
        quiet: seconds to watch that nothing (but keep-alives) arrives.
        init_timeout: the server's `connection_init` wait time in seconds
            (C.1.4); None: not declared.
        keepalive: seconds between the server's `ka` on graphql-ws (C.2.2,
            C.2.3); None: the server sends none.
        max_operations: operations the server allows at once on one
            connection (C.1.24); None: no limit declared.
        subscription_confirmations: the server sends one extra result
            when a subscription is live (`confirm_subscriptions`); the
            suite then drops the first result of every subscription.
        path: the endpoint's path when the target is an ASGI application.
        headers: extra handshake headers (an `Origin` for an origin
            validator, a cookie, a token).
        reject_payload: a `connection_init` payload the server refuses
            (C.1.8, C.2.4); None: not declared.
        slow_init_payload: a payload the server accepts only after a
            while of at least `timeout` / 2 (C.1.9); None: not declared.
        dual_winner: the subprotocol the server picks when offered both
            (C.1.2); None: either is accepted.
        modern_syntax_error: how a syntax error on graphql-transport-ws is
            answered (C.1.22): an `error` message, or a close with 4400.
        legacy_start_before_init: the close code for `start` before
            `connection_init` on graphql-ws (C.2.5); None: not checked.
        legacy_reject_close: the close code after `connection_error`
            (C.2.4); None: any code.
        legacy_validation_error: how graphql-ws answers a validation error
            (C.2.8): an `error` message, or `data` with `errors` then
            `complete`.
        legacy_bad_frame: how graphql-ws answers unparsable JSON or an
            unknown type (C.2.12): an `error` message, nothing, or
            anything (an `error` or `connection_error` message, or nothing)
            as long as the socket stays usable.
        legacy_terminate_close: the close code after
            `connection_terminate` (C.2.11); None: any code.
        concurrency: items run at once; 1 runs them one after the other.
    """

    timeout: float = 1.0
    quiet: float = 0.2
    init_timeout: float | None = DEFAULT_INIT_TIMEOUT
    keepalive: float | None = DEFAULT_KEEPALIVE
    max_operations: int | None = DEFAULT_MAX_OPERATIONS
    subscription_confirmations: bool = False
    path: str = "/graphql/"
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    reject_payload: Mapping[str, object] | None = dataclasses.field(
        default_factory=lambda: {"reject": True}
    )
    slow_init_payload: Mapping[str, object] | None = dataclasses.field(
        default_factory=lambda: {"delay": 0.5}
    )
    dual_winner: str | None = MODERN
    modern_syntax_error: Literal["error", "close"] = "error"
    legacy_start_before_init: int | None = 4401
    legacy_reject_close: int | None = 4403
    legacy_validation_error: Literal["error", "data"] = "error"
    legacy_bad_frame: Literal["error", "ignore", "any"] = "error"
    legacy_terminate_close: int | None = 1000
    concurrency: int = 1

    def __post_init__(self) -> None:
        for name in ("timeout", "quiet", "init_timeout", "keepalive"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.max_operations is not None and self.max_operations < 1:
            raise ValueError(f"max_operations must be at least 1, got {self.max_operations!r}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency!r}")
        if self.dual_winner is not None and self.dual_winner not in SUBPROTOCOLS:
            raise ValueError(
                f"dual_winner must be one of {SUBPROTOCOLS}, got {self.dual_winner!r}"
            )
        if self.modern_syntax_error not in ("error", "close"):
            raise ValueError(
                f"modern_syntax_error must be 'error' or 'close', got {self.modern_syntax_error!r}"
            )
        if self.legacy_validation_error not in ("error", "data"):
            raise ValueError(
                "legacy_validation_error must be 'error' or 'data', "
                f"got {self.legacy_validation_error!r}"
            )
        if self.legacy_bad_frame not in ("error", "ignore", "any"):
            raise ValueError(
                "legacy_bad_frame must be 'error', 'ignore' or 'any', "
                f"got {self.legacy_bad_frame!r}"
            )
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/', got {self.path!r}")
