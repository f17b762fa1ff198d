"""`Probe`: what a checklist item uses to talk to the server.

A probe opens fresh sockets, logs every frame both ways, skips the
server's keep-alives (answering its pings), and turns "expected X, observed
Y" into an `ItemFailed`. Waits are bounded by the options.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import NoReturn

from ._options import LEGACY, MODERN, ConformanceOptions
from ._report import Frame, ItemResult
from ._sockets import Handshake, RawSocket, Received

__all__ = [
    "ItemFailed",
    "ItemSkipped",
    "JsonObject",
    "Opener",
    "Probe",
    "Received",
    "Socket",
    "describe",
]

JsonObject = dict[str, object]
Opener = Callable[[Sequence[str]], Awaitable[tuple[Handshake, RawSocket | None]]]
_MISSING = object()
_SHOWN = 300


class ItemFailed(Exception):
    """The server did not do what the item expects (the message says what)."""


class ItemSkipped(Exception):
    """The item needs something the options do not declare."""


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def describe(event: Received | JsonObject | None, timeout: float) -> str:
    """A received frame (or its absence) for a failure message."""
    if event is None:
        return f"nothing within {timeout:g} s"
    if isinstance(event, Received):
        if event.kind == "close":
            text = f"close {event.code} {json.dumps(event.reason or '')}"
            return f"{text} ({event.note})" if event.note else text
        if event.kind == "bytes":
            return f"a binary frame {event.data!r}"
        return f"text {_short(event.text or '')}"
    return _short(json.dumps(event, separators=(",", ":")))


class Socket:
    """One socket of an item, speaking the item's subprotocol."""

    def __init__(self, probe: Probe, index: int, raw: RawSocket, subprotocol: str | None) -> None:
        self.probe = probe
        self.index = index
        self.raw = raw
        self.subprotocol = subprotocol
        self.closed: Received | None = None
        self._confirming: set[str] = set()

    @property
    def _timeout(self) -> float:
        return self.probe.options.timeout

    async def send(self, message: Mapping[str, object] | str) -> None:
        """Send a message (a dict, as compact JSON) or raw text."""
        text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
        self.probe.log(self.index, sent=True, kind="text", text=text)
        await self.raw.send_text(text)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        self.probe.log(self.index, sent=True, kind="bytes", data=data)
        await self.raw.send_bytes(data)

    async def receive(self, timeout: float | None = None) -> Received | None:
        """The next raw frame (logged), the close again once closed, or None."""
        if self.closed is not None:
            return self.closed
        event = await self.raw.receive(self._timeout if timeout is None else timeout)
        if event is None:
            return None
        if event.kind == "close":
            self.closed = event
            self.probe.log(
                self.index, sent=False, kind="close", code=event.code, reason=event.reason
            )
            if event.note:
                self.probe.log(self.index, sent=False, kind="note", text=event.note)
        elif event.kind == "bytes":
            self.probe.log(self.index, sent=False, kind="bytes", data=event.data)
        else:
            self.probe.log(self.index, sent=False, kind="text", text=event.text)
        return event

    async def message(
        self, timeout: float | None = None, *, keepalives: bool = False
    ) -> JsonObject | Received | None:
        """The next message that is not a keep-alive, the close, or None.

        Server pings are answered (pong with their payload) and skipped, as
        are `ka` on graphql-ws, unless `keepalives` is true; a
        subscription's confirmation is dropped when the options declare
        them.
        """
        wait = self._timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            event = await self.receive(max(0.0, deadline - loop.time()))
            if event is None or event.kind == "close":
                return event
            if event.kind == "bytes":
                self.probe.fail(f"the server sent a binary frame {event.data!r}")
            try:
                message = json.loads(event.text or "")
            except ValueError:
                self.probe.fail(
                    f"the server sent text that is not JSON: {_short(event.text or '')}"
                )
            if not isinstance(message, dict):
                self.probe.fail(
                    f"the server sent JSON that is not an object: {_short(event.text or '')}"
                )
            kind = message.get("type")
            if keepalives:
                return message
            if self.probe.modern and kind == "ping":
                pong: JsonObject = {"type": "pong"}
                if message.get("payload") is not None:
                    pong["payload"] = message["payload"]
                await self.send(pong)
                continue
            if not self.probe.modern and kind == "ka":
                continue
            op_id = message.get("id")
            if kind == self.probe.next_type and op_id in self._confirming:
                self._confirming.discard(op_id)
                continue
            return message

    async def expect(
        self, kind: str, op_id: str | None = None, *, timeout: float | None = None
    ) -> JsonObject:
        """The next message, which must have this type (and id).

        Raises:
            ItemFailed: something else came, or nothing.
        """
        wait = self._timeout if timeout is None else timeout
        message = await self.message(wait)
        wanted = f"a {kind!r} message" + (f" for id {op_id!r}" if op_id is not None else "")
        if not isinstance(message, dict):
            self.probe.fail(f"expected {wanted}, observed {describe(message, wait)}")
        if message.get("type") != kind or (op_id is not None and message.get("id") != op_id):
            self.probe.fail(f"expected {wanted}, observed {describe(message, wait)}")
        return message

    async def expect_close(
        self,
        code: int | None,
        *,
        timeout: float | None = None,
        allow: Sequence[str] = (),
        what: str = "",
    ) -> Received:
        """Wait for the server's close, with this code unless None.

        Args:
            code: the close code expected; None accepts any.
            timeout: the wait, `options.timeout` by default.
            allow: message types that may come before the close.
            what: added to a failure message (the stimulus).

        Raises:
            ItemFailed: another message came, a wrong code, or nothing.
        """
        wait = self._timeout if timeout is None else timeout
        wanted = f"close {code}" if code is not None else "a close"
        prefix = f"{what}: " if what else ""
        while True:
            message = await self.message(wait)
            if isinstance(message, dict) and message.get("type") in allow:
                continue
            if not isinstance(message, Received):
                self.probe.fail(f"{prefix}expected {wanted}, observed {describe(message, wait)}")
            if code is not None and message.code != code:
                self.probe.fail(f"{prefix}expected {wanted}, observed {describe(message, wait)}")
            return message

    async def silence(self, duration: float | None = None, *, what: str = "") -> None:
        """Nothing but keep-alives may arrive for `duration` (`quiet`).

        Raises:
            ItemFailed: a message or the close came.
        """
        wait = self.probe.options.quiet if duration is None else duration
        message = await self.message(wait)
        if message is not None:
            prefix = f"{what}: " if what else ""
            self.probe.fail(
                f"{prefix}expected nothing for {wait:g} s, observed {describe(message, wait)}"
            )

    async def init(self, payload: object = _MISSING) -> JsonObject:
        """Send `connection_init` (without payload by default), expect the ack."""
        message: JsonObject = {"type": "connection_init"}
        if payload is not _MISSING:
            message["payload"] = payload
        await self.send(message)
        return await self.expect("connection_ack")

    async def start(
        self,
        op_id: str,
        query: str,
        variables: Mapping[str, object] | None = None,
        *,
        subscription: bool = False,
    ) -> None:
        """Send `subscribe` (or `start`) for an operation.

        Args:
            op_id: its id.
            query: the document.
            variables: its variables, if any.
            subscription: it is a subscription (its confirmation, when the
                options declare them, is dropped).
        """
        payload: JsonObject = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        if subscription and self.probe.options.subscription_confirmations:
            self._confirming.add(op_id)
        await self.send({"id": op_id, "type": self.probe.start_type, "payload": payload})

    async def stop(self, op_id: str) -> None:
        """Send `complete` (or `stop`) for an operation."""
        await self.send({"id": op_id, "type": self.probe.stop_type})

    async def result(self, op_id: str) -> JsonObject:
        """Expect one result for `op_id` and return its payload (an object).

        Raises:
            ItemFailed: something else came, or the payload is no object.
        """
        message = await self.expect(self.probe.next_type, op_id)
        payload = message.get("payload")
        if not isinstance(payload, dict):
            self.probe.fail(
                f"the payload of a {self.probe.next_type!r} is not an object: "
                f"{describe(message, 0)}"
            )
        return payload

    async def execute(
        self, op_id: str, query: str, variables: Mapping[str, object] | None = None
    ) -> JsonObject:
        """Run a query: one result, then `complete`; returns the payload."""
        await self.start(op_id, query, variables)
        payload = await self.result(op_id)
        await self.expect("complete", op_id)
        return payload

    async def close(self, code: int = 1000) -> None:
        """Close from the client side."""
        if self.closed is None:
            self.probe.log(self.index, sent=True, kind="close", code=code, reason="")
            self.closed = Received("close", code=code)
            await self.raw.close(code)


class Probe:
    """The context of one checklist item on one subprotocol.

    Args:
        opener: opens a raw socket with a subprotocol offer.
        subprotocol: the subprotocol the item checks.
        options: the run's options.
        earlier: results of the items run before this one.
    """

    def __init__(
        self,
        opener: Opener,
        subprotocol: str,
        options: ConformanceOptions,
        earlier: Sequence[ItemResult] = (),
    ) -> None:
        self.opener = opener
        self.subprotocol = subprotocol
        self.options = options
        self.earlier = earlier
        self.modern = subprotocol == MODERN
        self.frames: list[Frame] = []
        self.sockets: list[Socket] = []
        self.failures: list[str] = []
        self.skips: list[str] = []
        self._count = 0
        self._t0 = asyncio.get_running_loop().time()

    @property
    def start_type(self) -> str:
        """`subscribe` or the legacy `start`."""
        return "subscribe" if self.modern else "start"

    @property
    def next_type(self) -> str:
        """`next` or the legacy `data`."""
        return "next" if self.modern else "data"

    @property
    def stop_type(self) -> str:
        """`complete` or the legacy `stop`."""
        return "complete" if self.modern else "stop"

    def now(self) -> float:
        """Seconds since the item started."""
        return asyncio.get_running_loop().time() - self._t0

    def log(self, socket: int, **fields: object) -> None:
        """Record a frame."""
        self.frames.append(Frame(socket=socket, at=self.now(), **fields))  # type: ignore[arg-type]

    def fail(self, message: str) -> NoReturn:
        """End the item (or the current case) as failed."""
        raise ItemFailed(message)

    def skip(self, reason: str) -> NoReturn:
        """End the item (or the current case) as skipped."""
        raise ItemSkipped(reason)

    @contextlib.asynccontextmanager
    async def case(self, label: str) -> AsyncIterator[None]:
        """One stimulus of several: a failure or skip is recorded with the
        label and the item goes on with the next case."""
        try:
            yield
        except ItemFailed as exc:
            self.failures.append(f"{label}: {exc}")
        except ItemSkipped as exc:
            self.skips.append(f"{label}: {exc}")

    async def handshake(self, offer: Sequence[str]) -> tuple[Handshake, Socket | None]:
        """Open a socket offering these subprotocols; log the handshake."""
        self._count += 1
        index = self._count
        self.log(index, sent=True, kind="handshake", text=", ".join(offer))
        handshake, raw = await self.opener(offer)
        if handshake.accepted:
            self.log(index, sent=False, kind="accept", text=handshake.subprotocol)
        else:
            self.log(
                index, sent=False, kind="refuse", code=handshake.code, reason=handshake.reason
            )
        if raw is None:
            return handshake, None
        socket = Socket(self, index, raw, handshake.subprotocol)
        self.sockets.append(socket)
        return handshake, socket

    async def connect(self, *, init: bool = False, payload: object = _MISSING) -> Socket:
        """A fresh socket on the item's subprotocol, initialised if asked.

        Raises:
            ItemFailed: refused, or another subprotocol was selected.
        """
        handshake, socket = await self.handshake([self.subprotocol])
        if socket is None:
            self.fail(
                f"the handshake offering {self.subprotocol!r} was refused "
                f"({handshake.code}, {handshake.reason})"
            )
        if handshake.subprotocol != self.subprotocol:
            self.fail(
                f"offered {self.subprotocol!r}, the server selected {handshake.subprotocol!r}"
            )
        if init:
            await socket.init(payload)
        return socket

    async def source_closed(self, tag: str, *, socket: Socket | None = None) -> bool | None:
        """Ask `closed(tag)` until it is true or `timeout` passed.

        Args:
            tag: the tag of a `count` subscription.
            socket: an initialised socket to ask on; a fresh one by default.

        Returns:
            The last answer: True, False, or None (no such source).
        """
        if socket is None:
            socket = await self.connect(init=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.timeout
        attempt = 0
        while True:
            attempt += 1
            payload = await socket.execute(
                f"closed-{attempt}",
                "query ($tag: String!) { closed(tag: $tag) }",
                {"tag": tag},
            )
            data = payload.get("data")
            value = data.get("closed") if isinstance(data, dict) else None
            if value is True or loop.time() >= deadline:
                return value if isinstance(value, bool) else None
            await asyncio.sleep(0.02)

    async def aclose(self) -> None:
        """Close every socket of the item."""
        for socket in self.sockets:
            with contextlib.suppress(Exception):
                await socket.raw.aclose()


def other_subprotocol(subprotocol: str) -> str:
    """The other of the two subprotocols."""
    return LEGACY if subprotocol == MODERN else MODERN
