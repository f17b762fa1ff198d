"""Real ASGI server processes for the integration tests.

`server` gives a uvicorn and a daphne (the fixture is parametrized over
both) serving `tests.integration.asgi_app` on 127.0.0.1 and a free port.
Both processes start together at first use and stop at the end of the test
session (terminate, then kill after a grace period). A failing test gets
the tail of that server's log in its report.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.integration.asgi_app:application"
HOST = "127.0.0.1"
START_DEADLINE = 30.0
STOP_GRACE = 5.0
KINDS = ["uvicorn", "daphne"]


@dataclasses.dataclass(frozen=True)
class LiveServer:
    """A server process serving `asgi_app`, and where its log goes."""

    kind: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The ws:// URL of the GraphQL endpoint."""
        return f"ws://{HOST}:{self.port}/graphql/"

    def log_tail(self, lines: int = 60) -> str:
        """The last lines the server wrote (stdout and stderr)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"<no log: {exc}>"
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _command(kind: str, port: int) -> list[str]:
    if kind == "uvicorn":
        # No lifespan: Channels' router has no handler for it.
        return [
            *(sys.executable, "-m", "uvicorn", APP),
            *("--host", HOST, "--port", str(port), "--lifespan", "off"),
        ]
    assert kind == "daphne", kind
    return [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), APP]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """Terminate the processes, kill those still alive after a grace period."""
    # All at once: the grace periods overlap.
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_GRACE)


def start_server(
    kind: str,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    name: str | None = None,
    port: int | None = None,
) -> LiveServer:
    """Start a `kind` server process serving `asgi_app` (call
    `wait_listening` before using it).

    Args:
        kind: "uvicorn" or "daphne".
        log_dir: where its log file goes.
        env: extra environment variables (the scale-out tests pick the
            channel layer this way).
        name: the log file's name; `kind` by default.
        port: the port to listen on; a free one by default (the client's
            reconnect test starts a server again on the port of one it
            killed).
    """
    port = _free_port() if port is None else port
    log_path = log_dir / f"{name or kind}.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.django_settings",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    # A file, not a pipe: nobody reads while the tests run, and a full pipe
    # would block the server.
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _command(kind, port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return LiveServer(kind, port, log_path, process)


def wait_listening(live: LiveServer) -> None:
    """Return once `live` accepts connections; fail the test if it never does."""
    deadline = time.monotonic() + START_DEADLINE
    while not _accepts(live.port):
        if live.process.poll() is not None:
            pytest.fail(
                f"{live.kind} exited with {live.process.returncode} before listening on "
                f"{HOST}:{live.port}:\n{live.log_tail()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(
                f"{live.kind} did not listen on {HOST}:{live.port} within "
                f"{START_DEADLINE} s:\n{live.log_tail()}"
            )
        time.sleep(0.05)


@pytest.fixture(scope="session")
def server_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveServer]]:
    """Every server kind, started together so that their start-ups (Django,
    graphene) overlap, and stopped at the end of the session."""
    log_dir = tmp_path_factory.mktemp("servers")
    started: dict[str, LiveServer] = {}
    try:
        for kind in KINDS:
            started[kind] = start_server(kind, log_dir)
        yield started
    finally:
        stop_processes([live.process for live in started.values()])


@pytest.fixture(scope="session", params=KINDS)
def server(request: pytest.FixtureRequest, server_processes: dict[str, LiveServer]) -> LiveServer:
    """A live server of each kind on 127.0.0.1, once it accepts connections."""
    live = server_processes[request.param]
    wait_listening(live)
    return live


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and isinstance(item, pytest.Function):
        live = item.funcargs.get("server")
        if isinstance(live, LiveServer):
            report.sections.append((f"{live.kind} server log (tail)", live.log_tail()))
    return report
