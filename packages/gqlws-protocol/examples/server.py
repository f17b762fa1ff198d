"""A GraphQL-over-WebSocket server on `websockets`, driving `ServerConnection`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from collections.abc import Sequence

import gqlws_protocol as proto
from websockets.asyncio.server import ServerConnection as Socket
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed as SocketClosed
from websockets.typing import Subprotocol as Token

CONFIG = proto.ServerConfig(init_timeout=5, ping_interval=10, pong_timeout=5)
COUNT = re.compile(r"subscription \{ count\(to: (\d+)\) \}")


def select_subprotocol(socket: Socket, offered: Sequence[Token]) -> Token | None:
    chosen = proto.negotiate(offered)  # None: accept without one, then close 4406
    return None if chosen is None else Token(chosen.value)


async def serve_connection(socket: Socket, config: proto.ServerConfig) -> None:
    if socket.subprotocol is None:  # the client offered neither subprotocol
        return await socket.close(proto.CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, "Bad subprotocol")
    conn = proto.ServerConnection(socket.subprotocol, config, now=time.monotonic())
    lock, tasks = asyncio.Lock(), dict[str, asyncio.Task[None]]()

    async def flush() -> None:  # one writer at a time keeps the frames in order
        async with lock:
            for frame in conn.data_to_send():
                if isinstance(frame, proto.CloseFrame):
                    await socket.close(frame.code, frame.reason)
                else:
                    with contextlib.suppress(SocketClosed):  # recv() will say so
                        await socket.send(frame)

    async def count(op_id: str, to: int) -> None:  # a subscription, by hand
        conn.subscription_active(op_id)
        for n in range(1, to + 1):
            conn.send(proto.Next(id=op_id, payload={"data": {"count": n}}))
            await flush()
            await asyncio.sleep(0.01)
        conn.send(proto.Complete(id=op_id))
        await flush()

    try:
        while conn.state is not proto.ConnectionState.CLOSED:
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
            except proto.RemoteProtocolError:
                events = []  # the peer broke the protocol; the close frame is queued
            for event in events:
                if isinstance(event, proto.ConnectionInit):  # authenticate event.payload here
                    conn.send(proto.ConnectionAck())
                elif isinstance(event, proto.Subscribe):
                    if match := COUNT.fullmatch(event.query):
                        tasks[event.id] = asyncio.create_task(count(event.id, int(match[1])))
                    elif event.query == "{ hello }":
                        conn.send(proto.Next(id=event.id, payload={"data": {"hello": "world"}}))
                        conn.send(proto.Complete(id=event.id))
                    else:
                        conn.send(proto.Error(id=event.id, errors=[{"message": "unknown query"}]))
                elif isinstance(event, proto.Complete) and event.id in tasks:
                    tasks.pop(event.id).cancel()  # the client stopped listening
            await flush()
    finally:
        for task in tasks.values():
            task.cancel()


def make_server(host: str, port: int, config: proto.ServerConfig | None = None) -> serve:
    """The server, not yet listening: `async with make_server(...) as server:`."""
    handler = functools.partial(serve_connection, config=config or CONFIG)
    return serve(handler, host, port, select_subprotocol=select_subprotocol)


async def main(host: str = "127.0.0.1", port: int = 8765) -> None:
    async with make_server(host, port) as server:
        print(f"listening on ws://{host}:{port}")
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
