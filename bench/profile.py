"""Where a server's time goes in one scenario: py-spy attached to uvicorn.

    uv run --with py-spy python bench/profile.py SERVER SCENARIO [--quick]

SERVER is a substring of a server name of bench/run.py (`gqlws
graphql-transport-ws`, `bare`, ...), SCENARIO a scenario name (`queries-50`,
`fanout-1000`, ...). It starts a fresh server, attaches `py-spy record` to it
while the scenario runs (the set-up of its connections included), and prints
three lists from the samples: the functions holding the most samples
themselves ("self"); the samples charged to the innermost gqlws function on
their stack, what it called included (samples with no gqlws frame go to the
package of their leaf); and, for gqlws and the libraries it drives, the share
of samples in each function and below ("total"). The raw collapsed stacks are
kept in bench/.venvs/profile-<server>-<scenario>.txt (git-ignored) for a
flame graph. With `--memory`, the memory scenario runs against the app under
tracemalloc instead (bench/apps/traced.py) and the allocation sites that grew
with the connections are listed.
py-spy is not a dependency of the project; `uv run --with py-spy` brings it.
"""

from __future__ import annotations

import argparse
import ast
import collections
import dataclasses
import functools
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from run import LoadGenerator, _renice, run_one, scenarios
from servers import ROOT, SERVERS, Server, ServerSpec

__all__ = ["main"]

# Frames worth a "total" line: the server package, the core, and what the
# consumer calls into.
_INTERESTING = re.compile(
    r"gqlws_server_channels|gqlws_protocol|channels/|graphql/|graphene/|"
    r"uvicorn/|websockets/|asyncio/|asgiref/"
)


def _frame_name(frame: str) -> str:
    # py-spy raw frames: "function (path/to/file.py:line)"; drop the line.
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if match is None:
        return frame
    function, path = match.groups()
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{function} ({path})"


def _package(frame: str) -> str:
    path = frame.rsplit("(", 1)[-1].rstrip(")")
    return path.split("/", 1)[0] if "/" in path else path


def summarize(raw: str, *, top: int = 25) -> str:
    """Self and total shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    # Each sample charged to the innermost gqlws function on its stack (the
    # libraries it called included), else to the package of its leaf.
    charged: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";")]
        # The first frame is the thread ("process 123:..." / "thread ...").
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        ours = [f for f in frames if "gqlws_" in f]
        if ours:
            charged[ours[-1]] += count
        else:
            charged[f"(outside gqlws) {_package(frames[-1])}"] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return "no samples"
    lines = [f"{samples} samples", "", "self:"]
    lines += [f"  {n / samples:6.1%}  {f}" for f, n in own.most_common(top)]
    lines += ["", "charged to the innermost gqlws function (what it called included):"]
    lines += [f"  {n / samples:6.1%}  {f}" for f, n in charged.most_common(top)]
    lines += ["", "total (gqlws and the libraries it drives):"]
    interesting = [(f, n) for f, n in total.most_common() if _INTERESTING.search(f)]
    lines += [f"  {n / samples:6.1%}  {f}" for f, n in interesting[: top * 2]]
    return "\n".join(lines)


def _short(line: str) -> str:
    where = line.split(": size=", 1)[0]
    function = _function_at(where)
    for marker in ("site-packages/", "/src/", "/lib/python3.11/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{where} ({function})" if function else where


@functools.cache
def _functions(path: str) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function in `path`."""
    try:
        tree = ast.parse(Path(path).read_text())
    except (OSError, SyntaxError, ValueError):
        return []
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.")

    visit(tree, "")
    return found


def _function_at(where: str) -> str:
    path, _, line_text = where.rpartition(":")
    if not line_text.isdigit():
        return ""
    line = int(line_text)
    # The innermost function holding the line: the latest start among them.
    holding = [f for f in _functions(path) if f[0] <= line <= f[1]]
    return max(holding)[2] if holding else ""


def memory(spec: ServerSpec, quick: bool) -> None:
    """The memory scenario against the app under tracemalloc."""
    scenario = next(s for s in scenarios(quick) if s.name == "memory")
    slug = re.sub(r"[^a-z0-9]+", "-", f"{spec.name}-memory".lower()).strip("-")
    out = ROOT / "bench" / ".venvs" / f"tracemalloc-{slug}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    traced = dataclasses.replace(
        spec,
        module="traced",
        env={**spec.env, "BENCH_APP": spec.module, "BENCH_TRACE_OUT": str(out)},
    )
    _renice(-10)
    load = LoadGenerator()
    server = Server(traced, layer="memory")
    try:
        command = {
            **scenario.command,
            "url": server.url,
            "subprotocol": spec.subprotocol,
            "server_pid": server.pid,
            "trace": str(out),
        }
        result = load.run(command)
    finally:
        server.stop()
        load.close()
    if not result["ok"]:
        print(f"{spec.name}: FAILED {result['error']}\n{server.output()}", file=sys.stderr)
        return
    count = scenario.command["connections"]
    sites: list[tuple[float, float, str]] = []
    for line in out.read_text().splitlines():
        # "path:line: size=... (+N KiB), count=... (+M), average=..."
        match = re.search(r"\(([+-]\d+(?:\.\d+)?) (B|KiB|MiB)\), count=\d+ \(([+-]\d+)\)", line)
        if match is None:
            continue
        size = float(match.group(1)) * {"B": 1, "KiB": 1024, "MiB": 1024 * 1024}[match.group(2)]
        sites.append((size / count, int(match.group(3)) / count, _short(line)))
    by_package: dict[str, float] = collections.defaultdict(float)
    for size, _, where in sites:
        by_package[where.split("/", 1)[0] if "/" in where else where.split(":", 1)[0]] += size
    print(
        f"{spec.name}: {result['value'] / 1024:.1f} KiB of RSS per connection under "
        f"tracemalloc (inflated by the tracing); Python allocations grown over {count} "
        f"connections, per connection: {sum(s for s, _, _ in sites):,.0f} B"
    )
    print("\nby package:")
    for package, size in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {size:8.0f} B  {package}")
    print("\nby line:")
    for size, blocks, where in sites[:30]:
        print(f"  {size:8.0f} B  {blocks:5.1f} blocks  {where}")
    print(f"\nfull list: {out.relative_to(ROOT)}")


def main() -> None:
    """Start the server, profile one scenario, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("server")
    parser.add_argument("scenario")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="the memory scenario under tracemalloc instead of py-spy: the allocation "
        "sites that grew with the connections",
    )
    args = parser.parse_args()
    spec = next((s for s in SERVERS if args.server in s.name), None)
    if spec is None:
        parser.error(f"no server named like {args.server!r}")
    scenario = next((s for s in scenarios(args.quick) if s.name == args.scenario), None)
    if scenario is None:
        parser.error(f"no scenario {args.scenario!r}")
    if args.memory:
        memory(spec, args.quick)
        return
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        parser.error("py-spy is not on PATH: run with `uv run --with py-spy`")
    slug = re.sub(r"[^a-z0-9]+", "-", f"{spec.name}-{scenario.name}".lower()).strip("-")
    out = ROOT / "bench" / ".venvs" / f"profile-{slug}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    _renice(-10)
    load = LoadGenerator()
    server = Server(spec, layer="memory")
    try:
        recorder = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(server.pid),
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        result = run_one(load, server, scenario)
        recorder.send_signal(signal.SIGINT)
        recorder.wait(30)
    finally:
        server.stop()
        load.close()
    if result["ok"]:
        print(
            f"{spec.name}, {scenario.name}: {result['value']:,.0f} {scenario.unit}, "
            f"server CPU {result['server_cpu']:.0%}, load CPU {result['load_cpu']:.0%}, "
            f"other CPU {result['other_cpu']:.0%}"
        )
    else:
        print(f"{spec.name}, {scenario.name}: FAILED {result['error']}", file=sys.stderr)
    print(summarize(out.read_text()))
    print(f"\nraw stacks: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
