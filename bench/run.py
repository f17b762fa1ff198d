"""GraphQL over WebSocket servers under load, beside a bare Channels consumer.

One command runs every scenario for every server, interleaved, and prints one
table of absolute figures and ratios to the bare consumer's row:

    uv run python bench/run.py [--quick] [--write] [--layer memory|redis]

Servers (bench/servers.py, apps in bench/apps/): the bare Channels consumer,
gqlws on each subprotocol (plus gqlws with a plain sync `hello`, run in worker
threads, for the query scenarios), and django-channels-graphql-ws 1.0.0rc7 from
a venv of its own. Each server gets a fresh uvicorn process per round; the
load generator (bench/load.py) is one separate process. A round runs every
scenario for every server, the servers in a rotated order, each run after the
machine went quiet; the table shows the median over rounds. What each scenario
measures is in bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from load import server_cpu as process_cpu
from servers import (
    ROOT,
    SERVERS,
    Server,
    ServerSpec,
    ensure_seed_venv,
    loop_name,
    seed_versions,
)

__all__ = ["main"]

BARE = SERVERS[0].name


@dataclass(frozen=True)
class Scenario:
    """One column of the issue's table.

    Args:
        name: short name, used by `--scenarios`.
        title: the row label in the table.
        unit: unit of the figure.
        higher_is_better: whether gqlws must reach at least (True) or at
            most (False) the bare consumer's figure.
        command: the load generator command, less the server fields.
    """

    name: str
    title: str
    unit: str
    higher_is_better: bool
    command: dict[str, Any]


def scenarios(quick: bool) -> list[Scenario]:
    """The scenarios, sized for `--quick` or the full run."""
    seconds = 1.5 if quick else 4.0
    warmup = 0.5 if quick else 1.0
    conns = 300 if quick else 500
    return [
        Scenario(
            "queries-1",
            "queries, 1 connection",
            "ops/s",
            True,
            {"scenario": "queries", "connections": 1, "seconds": seconds, "warmup": warmup},
        ),
        Scenario(
            "queries-50",
            "queries, 50 connections",
            "ops/s",
            True,
            {"scenario": "queries", "connections": 50, "seconds": seconds, "warmup": warmup},
        ),
        Scenario(
            "fanout-100",
            "fan-out to 100 subscribers",
            "notifications/s",
            True,
            {"scenario": "fanout", "subscribers": 100, "window": 8, "seconds": seconds},
        ),
        Scenario(
            "fanout-1000",
            "fan-out to 1000 subscribers",
            "notifications/s",
            True,
            {"scenario": "fanout", "subscribers": 1000, "window": 8, "seconds": seconds},
        ),
        Scenario(
            "memory",
            "memory per connection holding a subscription",
            "KiB",
            False,
            {"scenario": "memory", "base": 50, "connections": conns, "settle": 1.0},
        ),
        Scenario(
            "setup",
            "connections set up per second (connect, init, ack, subscribe, confirmation)",
            "conn/s",
            True,
            {"scenario": "setup", "connections": conns, "concurrency": 50},
        ),
    ]


class LoadGenerator:
    """The load generator process, driven one JSON line at a time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "load.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[str] = self.process.stdin
        self._out: IO[str] = self.process.stdout

    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        self._in.write(json.dumps(command) + "\n")
        self._in.flush()
        line = self._out.readline()
        if not line:
            raise RuntimeError(f"the load generator exited ({self.process.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        self._in.close()
        self.process.wait(10)


def wait_quiet(pids: list[int], *, longest: float) -> float:
    """Wait until the benchmark's own processes (`pids`: the servers, the
    load generator) are idle, so one run's teardown (closing a thousand
    connections) does not land in the next run; at most `longest` seconds.
    Returns the seconds waited."""
    started = time.monotonic()
    while True:
        before = [process_cpu(p) for p in pids]
        time.sleep(0.25)
        busy = sum(process_cpu(p) - b for p, b in zip(pids, before, strict=True)) / 0.25
        waited = time.monotonic() - started
        if busy < 0.05 or waited >= longest:
            return waited


def run_one(
    load: LoadGenerator,
    server: Server,
    scenario: Scenario,
    *,
    others: Sequence[Server] = (),
    max_wait: float = 10.0,
) -> dict[str, Any]:
    """One scenario against one server process (`others`: the other servers
    alive, idle, whose teardown must be over first)."""
    pids = [load.process.pid, server.pid, *(s.pid for s in others)]
    waited = wait_quiet(pids, longest=max_wait)
    command = {
        **scenario.command,
        "url": server.url,
        "subprotocol": server.spec.subprotocol,
        "server_pid": server.pid,
        "timeout": 120,
    }
    result = load.run(command)
    if server.process.poll() is not None:
        result = {"ok": False, "error": f"server exited ({server.process.returncode})"}
    result["waited"] = waited
    if not result["ok"]:
        output = server.output().strip()
        if output:
            # The last exception the server logged, for the table.
            raised = [
                line.strip()
                for line in output.splitlines()
                if re.match(r"\s*[\w.]+(Error|Exception|Exit)\b.*:", line)
            ]
            if raised:
                result["error"] += f" (server: {raised[-1]})"
            result["error"] += "\n  server said:\n    " + output[-2000:].replace("\n", "\n    ")
    return result


# Memory first: a process that already served and dropped connections has
# free memory to reuse, which would hide what new connections cost.
EXECUTION_ORDER = ("memory", "setup", "queries-1", "queries-50", "fanout-100", "fanout-1000")


def _fmt(value: float, unit: str) -> str:
    if unit == "KiB":
        return f"{value / 1024:,.1f}"
    return f"{value:,.0f}"


def table(
    plan: list[Scenario],
    specs: list[ServerSpec],
    results: dict[tuple[str, str], list[dict[str, Any]]],
) -> str:
    """The markdown table: medians, ratios to the bare row, CPU of both sides."""
    lines = [
        "| scenario | server | figure | vs bare | target | server CPU | load CPU | other CPU "
        "| spread |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for scenario in plan:
        bare = _median(results.get((scenario.name, BARE), []))
        for spec in specs:
            runs = results.get((scenario.name, spec.name))
            if not runs:
                continue
            good = [r for r in runs if r["ok"]]
            if not good:
                error = runs[-1]["error"].splitlines()[0]
                lines.append(f"| {scenario.title} | {spec.name} | failed: {error} | | | | | | |")
                continue
            value = _median(good)
            assert value is not None
            ratio = "" if bare is None else f"{value / bare:.2f}x"
            target = ""
            if spec.name.startswith("gqlws") and bare is not None:
                met = value >= bare if scenario.higher_is_better else value <= bare
                target = ("met" if met else "missed") + (
                    " (≥ 1.0x)" if scenario.higher_is_better else " (≤ 1.0x)"
                )
            server_cpu = statistics.median(r["server_cpu"] for r in good)
            load_cpu = statistics.median(r["load_cpu"] for r in good)
            other_cpu = statistics.median(r["other_cpu"] for r in good)
            load_note = " saturated" if load_cpu >= 0.9 else ""
            values = [r["value"] for r in good]
            spread = (max(values) - min(values)) / value if len(values) > 1 else 0.0
            failed = f", {len(runs) - len(good)} failed" if len(good) < len(runs) else ""
            lines.append(
                f"| {scenario.title} | {spec.name} | {_fmt(value, scenario.unit)} "
                f"{scenario.unit} | {ratio} | {target} | {server_cpu:.0%} | "
                f"{load_cpu:.0%}{load_note} | {other_cpu:.0%} | ±{spread / 2:.0%}{failed} |"
            )
    return "\n".join(lines)


def _median(runs: list[dict[str, Any]]) -> float | None:
    values = [r["value"] for r in runs if r["ok"]]
    return statistics.median(values) if values else None


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


_AUTOGROUP = Path("/proc/self/autogroup")


def _renice(nice: int) -> int:
    """Set this process's nice value, which the servers and the load
    generator inherit, and that of its autogroup; returns the value in force.

    With the kernel's autogroup scheduling (sched_autogroup_enabled), CPU is
    first shared between sessions, so a nice value alone does not put the
    benchmark ahead of other sessions' work; the autogroup's nice does. The
    autogroup's old value comes back at exit.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        print(f"cannot set nice {nice} (not root): left as is", file=sys.stderr)
    try:
        old = _AUTOGROUP.read_text().split()[-1]
        _AUTOGROUP.write_text(str(nice))
    except (OSError, IndexError):
        pass
    else:
        atexit.register(_restore_autogroup, old)
    return os.getpriority(os.PRIO_PROCESS, 0)


def _restore_autogroup(old: str) -> None:
    with contextlib.suppress(OSError):
        _AUTOGROUP.write_text(old)


def _revision() -> str:
    """The commit the packages were measured at, and whether they differ."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "packages"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "revision unknown"
    return f"commit {head}" + (", with uncommitted changes in packages/" if dirty else "")


def machine_note(layer: str, quick: bool, rounds: int, elapsed: float, priority: int) -> str:
    """CPU, cores, Python, package versions, settings of the run."""
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    seed = seed_versions()
    layer_name = "Redis (channels_redis, 127.0.0.1:6379)" if layer == "redis" else "in-memory"
    packages = ", ".join(
        f"{name} {_version(name)}"
        for name in (
            "gqlws-server-channels",
            "gqlws-protocol",
            "channels",
            "django",
            "graphene",
            "graphql-core",
            "uvicorn",
            "websockets",
            "uvloop",
            "httptools",
            "aiohttp",
        )
    )
    if layer == "redis":
        packages += f", channels-redis {_version('channels-redis')}, redis-py {_version('redis')}"
    return "\n".join(
        [
            f"- gqlws: {_revision()}.",
            f"- Machine: {model}, {os.cpu_count()} cores, Linux {platform.release()}; "
            f"Python {platform.python_version()}.",
            f"- Workspace: {packages}.",
            f"- django-channels-graphql-ws {seed['django-channels-graphql-ws']} in its own "
            f"venv: Django {seed['django']}, graphql-core {seed['graphql-core']}, the rest at "
            "the workspace's versions.",
            f"- uvicorn: one process per run, `--loop {loop_name()} --ws websockets`; "
            f"channel layer: {layer_name}.",
            f"- Servers and load generator at nice {priority} (their autogroup too), ahead of "
            "whatever else ran on the machine; `other CPU` is what the rest of the machine "
            "used during the measured window.",
            f"- {'--quick' if quick else 'full'} run, {rounds} round(s), medians; "
            f"{elapsed:.0f} s in all; {datetime.date.today().isoformat()}.",
        ]
    )


def main() -> None:
    """Parse the options, run the rounds, print (and maybe write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one short round (under 2 min)")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md")
    parser.add_argument("--layer", choices=("memory", "redis"), default="memory")
    parser.add_argument("--rounds", type=int, help="rounds (default: 1 quick, 3 full)")
    parser.add_argument(
        "--scenarios", help="comma-separated scenario names (default: all)", default=""
    )
    parser.add_argument(
        "--servers", help="comma-separated substrings of server names (default: all)", default=""
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=10.0,
        help="seconds to wait at most, before each run, for the previous run's teardown",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="scheduling priority of the servers and the load generator (default -10: "
        "ahead of whatever else runs on the machine; needs root, else left as is)",
    )
    args = parser.parse_args()
    started = time.monotonic()
    priority = _renice(args.nice)
    plan = scenarios(args.quick)
    if args.scenarios:
        wanted = set(args.scenarios.split(","))
        unknown = wanted - {s.name for s in plan}
        if unknown:
            parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
        plan = [s for s in plan if s.name in wanted]
    specs = list(SERVERS)
    if args.servers:
        keys = args.servers.split(",")
        specs = [s for s in specs if s.name == BARE or any(k in s.name for k in keys)]
    rounds = args.rounds or (1 if args.quick else 3)
    ensure_seed_venv()
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    load = LoadGenerator()
    try:
        for round_no in range(rounds):
            # A fresh process per server and round, started at its first run.
            servers: dict[str, Server] = {}
            try:
                for scenario in sorted(plan, key=lambda s: EXECUTION_ORDER.index(s.name)):
                    members = [
                        s for s in specs if s.scenarios is None or scenario.name in s.scenarios
                    ]
                    # Rotate the order so no server always runs first.
                    shift = round_no % len(members)
                    for spec in members[shift:] + members[:shift]:
                        server = servers.get(spec.name)
                        if server is None:
                            server = servers[spec.name] = Server(spec, layer=args.layer)
                        others = [s for s in servers.values() if s is not server]
                        result = run_one(
                            load, server, scenario, others=others, max_wait=args.max_wait
                        )
                        if not result["ok"]:
                            # Whatever state it was left in, the next run gets a new one.
                            del servers[spec.name]
                            server.stop()
                        results.setdefault((scenario.name, spec.name), []).append(result)
                        _progress(
                            started,
                            round_no=round_no,
                            rounds=rounds,
                            scenario=scenario,
                            spec=spec,
                            result=result,
                        )
            finally:
                for server in servers.values():
                    server.stop()
    finally:
        load.close()
    elapsed = time.monotonic() - started
    text = table(plan, specs, results)
    note = machine_note(args.layer, args.quick, rounds, elapsed, priority)
    print(text)
    print()
    print(note)
    if args.write:
        path = ROOT / "bench" / ("RESULTS.md" if args.layer == "memory" else "RESULTS-redis.md")
        _write(path, text, note, args.layer)
        print(f"\nwritten to {path.relative_to(ROOT)}", file=sys.stderr)


def _progress(
    started: float,
    *,
    round_no: int,
    rounds: int,
    scenario: Scenario,
    spec: ServerSpec,
    result: dict[str, Any],
) -> None:
    shown = (
        f"{_fmt(result['value'], scenario.unit)} {scenario.unit}, "
        f"server CPU {result['server_cpu']:.0%}, "
        f"load CPU {result['load_cpu']:.0%}, "
        f"other CPU {result['other_cpu']:.0%}"
        if result["ok"]
        else f"FAILED: {result['error']}"
    )
    print(
        f"[{time.monotonic() - started:5.0f} s] round {round_no + 1}/{rounds} "
        f"{scenario.name:<11} {spec.name:<37} {shown}",
        file=sys.stderr,
        flush=True,
    )


def _write(path: Path, text: str, note: str, layer: str) -> None:
    title = "in-memory channel layer" if layer == "memory" else "Redis channel layer"
    path.write_text(
        f"# Benchmark results ({title})\n\n"
        "Made by `uv run python bench/run.py --write"
        f"{' --layer redis' if layer == 'redis' else ''}`; what each scenario measures is "
        "in bench/README.md. `vs bare` is the ratio to the bare Channels consumer of the "
        "same run; `target` is the issue's (at least 1.0x; memory at most 1.0x). CPU is "
        "the share of one core each process used over the measured window (the server "
        "can pass 100% with its worker threads); `spread` is half the range over the "
        "rounds, relative to the median.\n\n"
        f"{text}\n\n{note}\n"
    )


if __name__ == "__main__":
    main()
