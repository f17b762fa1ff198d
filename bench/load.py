"""The load generator: one process, raw WebSockets (aiohttp), both subprotocols.

`bench/run.py` starts it once and drives it over stdin/stdout, one JSON
command a line in, one JSON result a line out. It speaks the GraphQL over
WebSocket protocols itself (no GraphQL client library): `graphql-transport-ws`
(`subscribe` / `next` / `complete`) and the legacy `graphql-ws` (`start` /
`data` / `complete`). Every scenario counts messages exactly: a query is done
when its `complete` arrived after one `next` carrying the expected greeting; a
fan-out notification counts when it reached every subscriber, each subscriber
checking that the sequence numbers it gets are exactly 0, 1, 2, ... with no
gap, duplicate or reordering.

Each result carries the server's CPU seconds (utime + stime from
`/proc/<pid>/stat`) and this process's (`time.process_time()`) over the
measured window, so the table can show the generator was not the bottleneck.

Run alone for a smoke test: `python bench/load.py` then type a command, e.g.
`{"scenario": "queries", "url": "ws://127.0.0.1:8000/graphql/", ...}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["main"]

HELLO = "query Hello($name: String) { hello(name: $name) }"
SEND = "mutation Send($room: String!, $text: String!) { send(room: $room, text: $text) { ok } }"
ON_MESSAGE = "subscription OnMessage($room: String!) { onMessage(room: $room) { room text } }"

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_loads = json.loads


class LoadError(Exception):
    """The server answered something the scenario did not expect."""


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process `pid` used so far."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        # The command name may hold spaces; the fields after it do not.
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def server_rss(pid: int) -> int:
    """Resident set size of the process `pid`, in bytes."""
    with open(f"/proc/{pid}/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


def machine_cpu() -> float:
    """CPU seconds all processes of the machine used so far (`/proc/stat`)."""
    with open("/proc/stat", "rb") as f:
        fields = f.readline().split()[1:]
    # user nice system idle iowait irq softirq steal: all but idle and iowait.
    busy = sum(int(fields[i]) for i in (0, 1, 2, 5, 6, 7))
    return busy / _TICKS


class Meter:
    """Wall time and the CPU of both processes (and of everything else on
    the machine) over a window, each in cores: 1.0 is one core busy."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.wall = time.perf_counter()
        self.server = server_cpu(pid)
        self.load = time.process_time()
        self.machine = machine_cpu()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        server = server_cpu(self.pid) - self.server
        load = time.process_time() - self.load
        machine = machine_cpu() - self.machine
        return {
            "seconds": wall,
            "server_cpu": server / wall,
            "load_cpu": load / wall,
            "other_cpu": max(0.0, machine - server - load) / wall,
        }


class Connection:
    """One WebSocket speaking either GraphQL over WebSocket subprotocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse[bool], subprotocol: str) -> None:
        self.ws = ws
        legacy = subprotocol == "graphql-ws"
        self.start = "start" if legacy else "subscribe"
        self.result = "data" if legacy else "next"
        self._ids = 0

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, url: str, subprotocol: str) -> Connection:
        """Connect, send `connection_init`, wait for `connection_ack`."""
        ws = await session.ws_connect(
            url, protocols=[subprotocol], max_msg_size=0, autoclose=False
        )
        if ws.protocol != subprotocol:
            raise LoadError(f"server chose subprotocol {ws.protocol!r}, not {subprotocol!r}")
        conn = cls(ws, subprotocol)
        await ws.send_str('{"type":"connection_init"}')
        while True:
            message = await conn.receive()
            if message["type"] == "connection_ack":
                return conn
            if message["type"] != "ka":
                raise LoadError(f"expected connection_ack, got {message!r}")

    def next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any]) -> None:
        await self.ws.send_str(
            _dumps(
                {
                    "id": op_id,
                    "type": self.start,
                    "payload": {"query": query, "variables": variables},
                }
            )
        )

    async def receive(self) -> dict[str, Any]:
        """The next protocol message; a close or an error raises."""
        message = await self.ws.receive()
        if message.type is aiohttp.WSMsgType.TEXT:
            decoded: dict[str, Any] = _loads(message.data)
            return decoded
        raise LoadError(f"expected a text frame, got {message.type.name} {message.data!r}")

    async def expect_result(self, op_id: str) -> dict[str, Any]:
        """The payload of the next message, which must be `op_id`'s result."""
        message = await self.receive()
        if message.get("id") != op_id or message["type"] != self.result:
            raise LoadError(f"expected {self.result} for {op_id!r}, got {message!r}")
        payload: dict[str, Any] = message["payload"]
        if payload.get("errors"):
            raise LoadError(f"operation {op_id!r} failed: {payload['errors']!r}")
        return payload

    async def expect_complete(self, op_id: str) -> None:
        message = await self.receive()
        if message.get("id") != op_id or message["type"] != "complete":
            raise LoadError(f"expected complete for {op_id!r}, got {message!r}")

    async def subscribe_room(self, room: str) -> str:
        """Subscribe to `room`; returns once the server confirmed it."""
        op_id = self.next_id()
        await self.subscribe(op_id, ON_MESSAGE, {"room": room})
        payload = await self.expect_result(op_id)
        if payload.get("data") is not None:
            raise LoadError(f"expected the subscription confirmation, got {payload!r}")
        return op_id

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2)


async def _bounded(
    count: int, limit: int, make: Callable[[int], Awaitable[Connection]]
) -> list[Connection]:
    """`count` connections made by `make(i)`, at most `limit` at a time."""
    semaphore = asyncio.Semaphore(limit)

    async def one(i: int) -> Connection:
        async with semaphore:
            return await make(i)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _close_all(conns: list[Connection]) -> None:
    await asyncio.gather(*(c.close() for c in conns))


# Scenarios. Each takes the command's fields and returns the result fields.


async def queries(session: aiohttp.ClientSession, cmd: dict[str, Any]) -> dict[str, Any]:
    """`connections` clients, each sending `hello` queries one after another."""
    url, subprotocol, pid = cmd["url"], cmd["subprotocol"], cmd["server_pid"]
    count: int = cmd["connections"]
    conns = await _bounded(count, 50, lambda i: Connection.open(session, url, subprotocol))
    done = [0]
    stop = asyncio.Event()

    async def client(i: int, conn: Connection) -> None:
        name = f"c{i}"
        expected = {"data": {"hello": f"Hello, {name}!"}}
        variables = {"name": name}
        while not stop.is_set():
            op_id = conn.next_id()
            await conn.subscribe(op_id, HELLO, variables)
            payload = await conn.expect_result(op_id)
            if payload != expected:
                raise LoadError(f"unexpected result {payload!r}")
            await conn.expect_complete(op_id)
            done[0] += 1

    tasks = [asyncio.create_task(client(i, c)) for i, c in enumerate(conns)]
    try:
        await asyncio.sleep(cmd["warmup"])
        _check(tasks)
        before = done[0]
        meter = Meter(pid)
        await asyncio.sleep(cmd["seconds"])
        after = done[0]
        measured = meter.stop()
        _check(tasks)
    finally:
        stop.set()
        # Every client ends after its operation in flight.
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        await _close_all(conns)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    ops = after - before
    return {"value": ops / measured["seconds"], "ops": ops, **measured}


def _check(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        if task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None:
                raise exc


class _Subscriber:
    """Reads one subscriber's notifications, checking their order."""

    __slots__ = ("conn", "expected", "op_id", "warm")

    def __init__(self, conn: Connection, op_id: str) -> None:
        self.conn = conn
        self.op_id = op_id
        self.expected = 0
        self.warm = False


async def fanout(session: aiohttp.ClientSession, cmd: dict[str, Any]) -> dict[str, Any]:
    """`subscribers` subscriptions to one room, one publisher sending `send`
    mutations one after another, at most `window` broadcasts not yet
    delivered to every subscriber."""
    url, subprotocol, pid = cmd["url"], cmd["subprotocol"], cmd["server_pid"]
    count: int = cmd["subscribers"]
    window: int = cmd["window"]
    room = "fanout"

    op_ids: dict[Connection, str] = {}

    async def make(i: int) -> Connection:
        conn = await Connection.open(session, url, subprotocol)
        op_ids[conn] = await conn.subscribe_room(room)
        return conn

    conns = await _bounded(count, 50, make)
    subscribers = [_Subscriber(c, op_ids[c]) for c in conns]
    publisher = await Connection.open(session, url, subprotocol)
    # Sequence number -> subscribers it reached; full delivery frees a slot.
    reached: dict[int, int] = {}
    slots = asyncio.Semaphore(window)
    warm = [0]
    sent = [0]
    delivered = [0]
    finished = [False]
    all_delivered = asyncio.Event()

    async def read(sub: _Subscriber) -> None:
        conn = sub.conn
        kind = conn.result
        while True:
            message = await conn.receive()
            if message["type"] != kind or message.get("id") != sub.op_id:
                raise LoadError(f"subscriber expected {kind}, got {message!r}")
            text = message["payload"]["data"]["onMessage"]["text"]
            if text[0] == "w":
                if not sub.warm:
                    sub.warm = True
                    warm[0] += 1
                continue
            seq = int(text)
            if seq != sub.expected:
                raise LoadError(f"subscriber expected message {sub.expected}, got {seq}")
            sub.expected = seq + 1
            n = reached[seq] = reached.get(seq, 0) + 1
            if n == count:
                # In order everywhere, so every earlier one is delivered too.
                del reached[seq]
                delivered[0] += 1
                slots.release()
                if finished[0] and delivered[0] == sent[0]:
                    all_delivered.set()

    async def publish(text: str) -> None:
        op_id = publisher.next_id()
        await publisher.subscribe(op_id, SEND, {"room": room, "text": text})
        await publisher.expect_result(op_id)
        await publisher.expect_complete(op_id)

    readers = [asyncio.create_task(read(s)) for s in subscribers]
    try:
        # Warm-up broadcasts until every subscription has seen one: a
        # server may confirm a subscription before its group is joined.
        deadline = time.perf_counter() + 10
        k = 0
        while warm[0] < count:
            if time.perf_counter() > deadline:
                raise LoadError(f"only {warm[0]} of {count} subscribers live after 10 s")
            await publish(f"w{k}")
            k += 1
            await asyncio.sleep(0.05)
            _check(readers)
        await asyncio.sleep(0.2)
        meter = Meter(pid)
        end = meter.wall + cmd["seconds"]
        while time.perf_counter() < end:
            await slots.acquire()
            await publish(str(sent[0]))
            sent[0] += 1
            if sent[0] % 64 == 0:
                _check(readers)
        finished[0] = True
        if delivered[0] < sent[0]:
            try:
                await asyncio.wait_for(all_delivered.wait(), 30)
            except asyncio.TimeoutError:
                _check(readers)
                raise LoadError(
                    f"{sent[0] - delivered[0]} broadcasts not delivered to every subscriber"
                ) from None
        measured = meter.stop()
        _check(readers)
        for sub in subscribers:
            if sub.expected != sent[0]:
                raise LoadError(f"a subscriber got {sub.expected} of {sent[0]} messages")
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await _close_all([*conns, publisher])
    notifications = sent[0] * count
    return {
        "value": notifications / measured["seconds"],
        "broadcasts": sent[0],
        "notifications": notifications,
        **measured,
    }


async def memory(session: aiohttp.ClientSession, cmd: dict[str, Any]) -> dict[str, Any]:
    """Server RSS per connection holding one subscription: RSS after
    `base` + `connections` connections minus RSS after `base`, over
    `connections`. Starting from `base` keeps one-time costs (imports,
    caches, the first group) out."""
    url, subprotocol, pid = cmd["url"], cmd["subprotocol"], cmd["server_pid"]
    base: int = cmd["base"]
    count: int = cmd["connections"]

    async def make(i: int) -> Connection:
        conn = await Connection.open(session, url, subprotocol)
        await conn.subscribe_room(f"room{i}")
        return conn

    first = await _bounded(base, 50, make)
    await asyncio.sleep(cmd["settle"])
    before = server_rss(pid)
    # `bench/profile.py --memory`: the server's tracemalloc snapshots.
    trace = cmd.get("trace")
    if trace:
        await _trigger(f"{trace}.mark")
    meter = Meter(pid)
    second = await _bounded(count, 50, lambda i: make(base + i))
    await asyncio.sleep(cmd["settle"])
    after = server_rss(pid)
    measured = meter.stop()
    if trace:
        await _trigger(f"{trace}.dump")
    await _close_all([*first, *second])
    return {
        "value": (after - before) / count,
        "rss_before": before,
        "rss_after": after,
        **measured,
    }


async def _trigger(path: str) -> None:
    """Create `path` and wait until the server's tracer deleted it."""
    await asyncio.to_thread(Path(path).touch)
    deadline = time.perf_counter() + 60
    while await asyncio.to_thread(os.path.exists, path):
        if time.perf_counter() > deadline:
            raise LoadError(f"the server's tracer did not take {path}")
        await asyncio.sleep(0.05)


async def setup(session: aiohttp.ClientSession, cmd: dict[str, Any]) -> dict[str, Any]:
    """Connections set up per second: connect, `connection_init`, ack,
    subscribe, confirmation; `concurrency` at a time."""
    url, subprotocol, pid = cmd["url"], cmd["subprotocol"], cmd["server_pid"]
    count: int = cmd["connections"]

    async def make(i: int) -> Connection:
        conn = await Connection.open(session, url, subprotocol)
        await conn.subscribe_room(f"room{i}")
        return conn

    # A few first, untimed, so imports and caches are warm.
    await _close_all(await _bounded(10, 10, make))
    meter = Meter(pid)
    conns = await _bounded(count, cmd["concurrency"], make)
    measured = meter.stop()
    await _close_all(conns)
    return {"value": count / measured["seconds"], **measured}


SCENARIOS: dict[
    str, Callable[[aiohttp.ClientSession, dict[str, Any]], Awaitable[dict[str, Any]]]
] = {"queries": queries, "fanout": fanout, "memory": memory, "setup": setup}


async def serve() -> None:
    """Answer commands from stdin until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        while line := await reader.readline():
            cmd = json.loads(line)
            try:
                run = SCENARIOS[cmd["scenario"]](session, cmd)
                result = {"ok": True, **await asyncio.wait_for(run, cmd.get("timeout", 120))}
            except Exception as exc:
                result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()


def main() -> None:
    """Run the command loop on uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


if __name__ == "__main__":
    main()
