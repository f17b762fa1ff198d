"""Frames per second through a `ServerConnection`, beside bare JSON.

Each case pushes the same frames through the server machine (text in, event
out, `send`, encoded frames out of `data_to_send()`) and through bare
`json.loads` + `json.dumps` (the same texts parsed, the same reply objects
dumped with the encoder the core uses by default, so both sides produce the
same text). Repetitions of the two are interleaved and the best of N is kept
(CPU time of the thread, so other processes do not count); the ratio is
machine time / bare time, the target is at most 2.

Cases, for both subprotocols:

* `operation`: one frame in (`subscribe` / `start`), two out (`next` /
  `data` then `complete`): a query answered at once.
* `cancel`: two frames in (`subscribe`, then the client's `complete` /
  `stop`); the legacy server confirms a `stop` with `complete`.
* `stream`: one subscription, many `next` / `data` frames out.

Run: `uv run python bench/protocol.py` (`--quick` for a short run).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from gqlws_protocol import (
    Complete,
    ConnectionAck,
    Next,
    ServerConfig,
    ServerConnection,
    Subprotocol,
    Subscribe,
    __version__,
)

# CPU time of this thread: a busy machine (other processes on the same cores)
# pauses a batch without adding to its time. Resolution 1 ns on Linux.
_clock = time.thread_time if sys.platform != "win32" else time.perf_counter

# The core's default serialiser: compact separators, non-ASCII escaped.
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_loads = json.loads

QUERY = "subscription Count($to: Int!) { count(to: $to) { value at } }"
RESULT = {"data": {"count": {"value": 42, "at": "2026-11-25T10:12:03Z"}}}

# A case times `ops` operations; it returns (frames moved, seconds).
Runner = Callable[[int], tuple[int, float]]


@dataclass(frozen=True)
class Case:
    name: str
    subprotocol: Subprotocol
    machine: Runner
    bare: Runner


def _wire(subprotocol: Subprotocol) -> tuple[str, str, str, str]:
    """The wire names of subscribe, next, client complete, server complete."""
    if subprotocol is Subprotocol.GRAPHQL_WS:
        return "start", "data", "stop", "complete"
    return "subscribe", "next", "complete", "complete"


def _subscribe_texts(subprotocol: Subprotocol, ops: int) -> list[str]:
    start = _wire(subprotocol)[0]
    return [
        _dumps(
            {
                "id": str(i),
                "type": start,
                "payload": {
                    "query": QUERY,
                    "variables": {"to": 3},
                    "operationName": "Count",
                },
            }
        )
        for i in range(ops)
    ]


def _ready_server(subprotocol: Subprotocol) -> ServerConnection:
    # No timers: the bench measures frames, not deadlines.
    server = ServerConnection(subprotocol, ServerConfig(init_timeout=None), now=0.0)
    server.receive_text(_dumps({"type": "connection_init"}), 0.0)
    server.send(ConnectionAck())
    server.data_to_send()
    return server


def operation_case(subprotocol: Subprotocol, ops: int) -> Case:
    texts = _subscribe_texts(subprotocol, ops)
    _, next_type, _, end_type = _wire(subprotocol)

    def machine(n: int) -> tuple[int, float]:
        server = _ready_server(subprotocol)
        receive, send, flush = server.receive_text, server.send, server.data_to_send
        sent = 0
        batch = texts[:n]
        t0 = _clock()
        for text in batch:
            for event in receive(text, 0.0):
                if type(event) is Subscribe:
                    send(Next(id=event.id, payload=RESULT))
                    send(Complete(id=event.id))
            sent += len(flush())
        elapsed = _clock() - t0
        assert sent == 2 * n, sent
        return 3 * n, elapsed

    def bare(n: int) -> tuple[int, float]:
        out: list[str] = []
        batch = texts[:n]
        t0 = _clock()
        for text in batch:
            msg = _loads(text)
            op_id = msg["id"]
            out.append(_dumps({"type": next_type, "id": op_id, "payload": RESULT}))
            out.append(_dumps({"type": end_type, "id": op_id}))
        elapsed = _clock() - t0
        return 3 * n, elapsed

    return Case("operation", subprotocol, machine, bare)


def cancel_case(subprotocol: Subprotocol, ops: int) -> Case:
    texts = _subscribe_texts(subprotocol, ops)
    _, _, stop_type, end_type = _wire(subprotocol)
    stops = [_dumps({"id": str(i), "type": stop_type}) for i in range(ops)]
    legacy = subprotocol is Subprotocol.GRAPHQL_WS
    pairs = list(zip(texts, stops, strict=True))

    def machine(n: int) -> tuple[int, float]:
        server = _ready_server(subprotocol)
        receive, flush = server.receive_text, server.data_to_send
        seen = sent = 0
        batch = pairs[:n]
        t0 = _clock()
        for start, stop in batch:
            seen += len(receive(start, 0.0))
            seen += len(receive(stop, 0.0))
            sent += len(flush())
        elapsed = _clock() - t0
        assert seen == 2 * n, seen
        assert sent == (n if legacy else 0), sent
        return (3 if legacy else 2) * n, elapsed

    def bare(n: int) -> tuple[int, float]:
        out: list[str] = []
        batch = pairs[:n]
        t0 = _clock()
        for start, stop in batch:
            _loads(start)
            msg = _loads(stop)
            if legacy:
                out.append(_dumps({"type": end_type, "id": msg["id"]}))
        elapsed = _clock() - t0
        return (3 if legacy else 2) * n, elapsed

    return Case("cancel", subprotocol, machine, bare)


def stream_case(subprotocol: Subprotocol, ops: int) -> Case:
    next_type = _wire(subprotocol)[1]
    results = [{"data": {"count": {"value": i, "at": "2026-11-25T10:12:03Z"}}} for i in range(ops)]

    def machine(n: int) -> tuple[int, float]:
        server = _ready_server(subprotocol)
        server.receive_text(_subscribe_texts(subprotocol, 1)[0], 0.0)
        server.subscription_active("0")
        send, flush = server.send, server.data_to_send
        sent = 0
        batch = results[:n]
        t0 = _clock()
        for result in batch:
            send(Next(id="0", payload=result))
            sent += len(flush())
        elapsed = _clock() - t0
        assert sent == n, sent
        return n, elapsed

    def bare(n: int) -> tuple[int, float]:
        out: list[str] = []
        batch = results[:n]
        t0 = _clock()
        for result in batch:
            out.append(_dumps({"type": next_type, "id": "0", "payload": result}))
        elapsed = _clock() - t0
        return n, elapsed

    return Case("stream", subprotocol, machine, bare)


def check_same_frames(subprotocol: Subprotocol) -> None:
    """The machine writes what the bare baseline writes, frame for frame."""
    _, next_type, _, end_type = _wire(subprotocol)
    server = _ready_server(subprotocol)
    (event,) = server.receive_text(_subscribe_texts(subprotocol, 1)[0], 0.0)
    assert type(event) is Subscribe, event
    server.send(Next(id=event.id, payload=RESULT))
    server.send(Complete(id=event.id))
    expected = [
        _dumps({"type": next_type, "id": "0", "payload": RESULT}),
        _dumps({"type": end_type, "id": "0"}),
    ]
    got = server.data_to_send()
    assert got == expected, (got, expected)


def measure(case: Case, ops: int, repeat: int) -> tuple[float, float]:
    """Best-of-`repeat` frames/s of the machine and of bare JSON, interleaved."""
    best_machine = best_bare = float("inf")
    frames = 0
    case.machine(min(ops, 100))  # warm up both paths
    case.bare(min(ops, 100))
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            frames, elapsed = case.machine(ops)
            best_machine = min(best_machine, elapsed)
            frames, elapsed = case.bare(ops)
            best_bare = min(best_bare, elapsed)
            gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return frames / best_machine, frames / best_bare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds)")
    parser.add_argument("--ops", type=int, help="operations per repetition")
    parser.add_argument("--repeat", type=int, help="repetitions (best of N)")
    args = parser.parse_args(argv)
    # Short batches, many of them: the best of many is robust to a busy machine.
    ops: int = args.ops or 1_000
    repeat: int = args.repeat or (30 if args.quick else 300)

    print(
        f"gqlws-protocol {__version__}, {platform.python_implementation()} "
        f"{platform.python_version()}, {ops} operations x best of {repeat}"
    )
    header = f"{'case':<10} {'subprotocol':<21} {'machine f/s':>12} {'bare f/s':>12} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for subprotocol in Subprotocol:
        check_same_frames(subprotocol)
        for make in (operation_case, cancel_case, stream_case):
            case = make(subprotocol, ops)
            machine_fps, bare_fps = measure(case, ops, repeat)
            ratio = bare_fps / machine_fps
            worst = max(worst, ratio)
            print(
                f"{case.name:<10} {subprotocol.value:<21} {machine_fps:>12,.0f} "
                f"{bare_fps:>12,.0f} {ratio:>5.2f}x"
            )
    print(f"worst ratio (machine cost / bare JSON cost): {worst:.2f}x (target <= 2.00x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
