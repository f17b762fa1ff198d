"""The suite catches what it claims: consumers broken on purpose fail
exactly the matching items, and every other item still passes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest
from gqlws_protocol import ConnectionState, ServerConnection, Subprotocol
from gqlws_testing.conformance import (
    ConformanceConsumer,
    ConformanceOptions,
    conformance_application,
    run_conformance,
)

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

OPTIONS = ConformanceOptions(timeout=1.0, quiet=0.15)


class Tampering(ConformanceConsumer):
    """Passes every message the consumer sends through `tamper`."""

    async def __call__(self, scope: Any, receive: Any, send: Send) -> None:
        async def tampered(message: Message) -> None:
            changed = self.tamper(message)
            if changed is not None:
                await send(changed)

        await super().__call__(scope, receive, tampered)

    def tamper(self, message: Message) -> Message | None:
        return message


def sent_type(message: Message) -> str | None:
    if message.get("type") != "websocket.send" or "text" not in message:
        return None
    kind = json.loads(message["text"]).get("type")
    return kind if isinstance(kind, str) else None


class WrongCloseCode(Tampering):
    """Closes 4500 where the protocol says 4400 (as the reference server
    does for some bad frames)."""

    def tamper(self, message: Message) -> Message | None:
        if message.get("type") == "websocket.close" and message.get("code") == 4400:
            return {**message, "code": 4500}
        return message


class NoPong(Tampering):
    """Never answers a ping."""

    def tamper(self, message: Message) -> Message | None:
        return None if sent_type(message) == "pong" else message


class NotificationAfterComplete(ConformanceConsumer):
    """Sends one more result for an operation the client completed
    (`complete` on graphql-transport-ws, `stop` on graphql-ws)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started: set[str] = set()

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        await super().websocket_receive(message)
        try:
            frame = json.loads(message.get("text") or "")
        except ValueError:
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("id"), str):
            return
        op_id = frame["id"]
        if frame.get("type") in ("subscribe", "start"):
            self.started.add(op_id)
        elif frame.get("type") in ("complete", "stop") and op_id in self.started:
            assert self._conn is not None
            kind = "data" if self._conn.subprotocol is Subprotocol.GRAPHQL_WS else "next"
            stale = {"id": op_id, "type": kind, "payload": {"data": {"count": -1}}}
            await self.base_send({"type": "websocket.send", "text": json.dumps(stale)})


def is_ready(conn: ServerConnection) -> bool:
    return conn.state is ConnectionState.READY


class StartBeforeInit(Tampering):
    """Executes a legacy `start` that came before `connection_init` (the
    Apollo reference server's behaviour, CVE-2026-35526): it initialises
    the connection by itself and hides the ack."""

    hide_ack = False

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        conn = self._conn
        if (
            conn is not None
            and conn.subprotocol is Subprotocol.GRAPHQL_WS
            and conn.state is ConnectionState.IDLE
            and '"start"' in (message.get("text") or "")
        ):
            self.hide_ack = True
            init = {"type": "websocket.receive", "text": '{"type":"connection_init"}'}
            await super().websocket_receive(init)
            for _ in range(200):
                await asyncio.sleep(0.005)
                if is_ready(conn):
                    break
        await super().websocket_receive(message)

    def tamper(self, message: Message) -> Message | None:
        if self.hide_ack and sent_type(message) in ("connection_ack", "ka"):
            return None
        return message


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("consumer", "expected"),
    [
        (WrongCloseCode, {"C.1.6", "C.1.12", "C.1.13", "C.1.14"}),
        (NoPong, {"C.1.10", "C.1.11", "C.1.23"}),
        (NotificationAfterComplete, {"C.1.17", "C.2.7"}),
        (StartBeforeInit, {"C.2.5"}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
async def test_broken_consumer_fails_exactly_the_matching_items(
    consumer: type[ConformanceConsumer], expected: set[str]
) -> None:
    report = await run_conformance(conformance_application(consumer=consumer), options=OPTIONS)
    failed = {item.id for item in report.failed}
    assert failed == expected, report.to_text()
    assert not report.skipped
    assert len(report.passed) == 36 - len(expected)
    assert not report.ok


@pytest.mark.asyncio
async def test_failures_say_what_was_expected_and_show_the_frames() -> None:
    report = await run_conformance(
        conformance_application(consumer=WrongCloseCode),
        subprotocols=["graphql-transport-ws"],
        only=["C.1.12"],
        options=OPTIONS,
    )
    (item,) = report.items
    assert item.failed
    # Every stimulus is checked on its own socket and named in the message.
    for label in ("non-JSON text", "JSON array", "unknown type", "binary frame"):
        assert f"{label}: expected close 4400, observed close 4500" in item.message
    assert sum(1 for frame in item.frames if frame.kind == "handshake") == 7
    closes = [frame for frame in item.frames if frame.kind == "close"]
    assert [frame.code for frame in closes] == [4500] * 7
    text = report.to_text()
    assert "FAIL  C.1.12" in text
    assert '< close 4500 "binary frames are not allowed' in text


@pytest.mark.asyncio
async def test_notification_after_complete_is_shown() -> None:
    report = await run_conformance(
        conformance_application(consumer=NotificationAfterComplete),
        only=["C.1.17", "C.2.7"],
        options=OPTIONS,
    )
    modern, legacy = report.items
    assert modern.message.startswith("after the client's complete: expected nothing")
    assert '"type":"next"' in modern.message
    assert legacy.message.startswith("after the complete: expected nothing")
    assert '"type":"data"' in legacy.message


@pytest.mark.asyncio
async def test_start_before_init_is_shown() -> None:
    report = await run_conformance(
        conformance_application(consumer=StartBeforeInit), only=["C.2.5"], options=OPTIONS
    )
    (item,) = report.items
    assert item.failed
    assert item.message.startswith("expected close 4401, observed ")
    assert '"type":"data"' in item.message
