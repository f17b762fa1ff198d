"""A GraphQL-over-WebSocket client on `websockets`, driving `ClientConnection`."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field

import gqlws_protocol as proto
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as SocketClosed
from websockets.typing import Subprotocol as Token

OPERATIONS = {"1": "{ hello }", "2": "subscription { count(to: 3) }", "3": "{ nope }"}


@dataclass
class Outcome:
    results: dict[str, list[proto.JsonObject]] = field(default_factory=dict)
    errors: dict[str, list[proto.JsonObject]] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    heartbeats: int = 0  # server pings, or legacy `ka`
    closed: tuple[int, str] | None = None  # when the server or a timeout ended it


async def run_client(url: str, subprotocol: str = "graphql-transport-ws") -> Outcome:
    outcome = Outcome()
    async with connect(url, subprotocols=[Token(subprotocol)]) as socket:
        # No subprotocol in the answer: the server is about to close with 4406.
        conn = proto.ClientConnection(socket.subprotocol or subprotocol, now=time.monotonic())
        conn.send(proto.ConnectionInit(payload={"token": "demo"}))
        for op_id, query in OPERATIONS.items():  # held until the server's ack
            conn.send(proto.Subscribe(id=op_id, query=query))
        while True:
            if conn.state is proto.ConnectionState.READY and not conn.active_operations:
                conn.close()  # all done: close normally
            for frame in conn.data_to_send():
                if isinstance(frame, proto.CloseFrame):
                    await socket.close(frame.code, frame.reason)
                else:
                    await socket.send(frame)
            if conn.state is proto.ConnectionState.CLOSED:
                return outcome
            deadline = conn.next_deadline()  # re-arm the one timer
            timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                message = await asyncio.wait_for(socket.recv(), timeout)
                if isinstance(message, str):
                    events = conn.receive_text(message, time.monotonic())
                else:
                    events = conn.receive_bytes(message, time.monotonic())
            except asyncio.TimeoutError:
                events = conn.handle_timeout(time.monotonic())
            except SocketClosed as exc:
                code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
                events = conn.receive_close(code, reason)
            except proto.RemoteProtocolError as exc:  # a bad server; 4004 is queued
                events, outcome.closed = [], (exc.code, exc.reason)
            for event in events:
                if isinstance(event, proto.Next):
                    outcome.results.setdefault(event.id, []).append(event.payload)
                elif isinstance(event, proto.Error):
                    outcome.errors[event.id] = list(event.errors)
                elif isinstance(event, proto.Complete):
                    outcome.completed.append(event.id)
                elif isinstance(event, (proto.Ping, proto.Pong)):
                    outcome.heartbeats += 1
                elif isinstance(event, proto.ConnectionClosed):
                    outcome.closed = (event.code, event.reason)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8765"
    subprotocol = sys.argv[2] if len(sys.argv) > 2 else "graphql-transport-ws"
    print(asyncio.run(run_client(url, subprotocol)))
