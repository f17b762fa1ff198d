"""The chat example (example/) as a real server process.

`example_server` runs `manage.py runexample` (the command README tells users
to type) on 127.0.0.1 and a free port, with Channels' in-memory layer, a fresh
sqlite file and, when `npm ci` installed them, the local GraphiQL assets.
`redis_server` is the same with `REDIS_URL` set, for the broadcast command.
Both are started once per session and terminated at its end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example"
MANAGE = EXAMPLE / "manage.py"
FRONTEND = EXAMPLE / "frontend"
HOST = "127.0.0.1"
START_DEADLINE = 30.0
STOP_GRACE = 5.0
REDIS_PORT = 6379
# A database of its own, so that nothing else on this Redis hears the tests.
REDIS_URL = f"redis://{HOST}:{REDIS_PORT}/13"
# The files the page loads in local mode, relative to node_modules.
ASSET_FILES = (
    "react/umd/react.production.min.js",
    "react-dom/umd/react-dom.production.min.js",
    "graphiql/graphiql.min.css",
    "graphiql/graphiql.min.js",
    "graphql-ws/umd/graphql-ws.min.js",
)


def local_assets_installed() -> bool:
    """Whether `npm ci` ran in example/frontend."""
    return all((FRONTEND / "node_modules" / name).is_file() for name in ASSET_FILES)


def example_env(database: Path, **extra: str) -> dict[str, str]:
    """The environment of an example process: this one's, minus what the
    test run sets for its own Django, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "GRAPHIQL_ASSETS", "CHAT_DATABASE", "ALLOWED_HOSTS"}
    }
    # pytest-django exported the test suite's settings module.
    env["DJANGO_SETTINGS_MODULE"] = "chat.settings"
    env["CHAT_DATABASE"] = str(database)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclasses.dataclass(frozen=True)
class ExampleServer:
    """A running `manage.py runexample`, and where its output goes."""

    port: int
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        """http://host:port, no trailing slash."""
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The GraphQL endpoint."""
        return f"ws://{HOST}:{self.port}/graphql/"

    def log(self) -> str:
        """Everything the server printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"<no log: {exc}>"

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run another `manage.py` command with this server's settings."""
        return manage(self.env, *args)


def manage(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a `manage.py` command of the example, its output captured."""
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def redis_running() -> bool:
    """Whether something answers on the Redis port."""
    return _accepts(REDIS_PORT)


@contextlib.contextmanager
def run_example(directory: Path, **env: str) -> Iterator[ExampleServer]:
    """Start `manage.py runexample` and stop it when the block ends."""
    port = _free_port()
    log_path = directory / "server.log"
    server_env = example_env(directory / "db.sqlite3", **env)
    command = [sys.executable, str(MANAGE), "runexample", "--port", str(port)]
    # A file, not a pipe: nobody reads while the tests run.
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT
        )
    server = ExampleServer(port, server_env, log_path, process)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not _accepts(port):
            if process.poll() is not None:
                pytest.fail(f"runexample exited with {process.returncode}:\n{server.log()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"runexample did not listen within {START_DEADLINE} s:\n{server.log()}"
                )
            time.sleep(0.05)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGINT: the second signal makes uvicorn stop waiting
    for connections to end (its "CTRL+C to force quit").

    Needed with the Redis layer: a consumer's end can wait up to 5 s for
    channels_redis's blocking read to time out, and uvicorn waits for it.
    """
    for number, signal_number in enumerate((signal.SIGTERM, signal.SIGINT)):
        if process.poll() is not None:
            return
        process.send_signal(signal_number)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(1.0 if number == 0 else STOP_GRACE)
    if process.poll() is None:
        process.kill()
        process.wait(STOP_GRACE)


@pytest.fixture(scope="session")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    """The example on the in-memory layer, local assets when installed."""
    assets = "local" if local_assets_installed() else "cdn"
    with run_example(tmp_path_factory.mktemp("example"), GRAPHIQL_ASSETS=assets) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    """The example on Channels' Redis layer."""
    if not redis_running():
        pytest.fail(f"no Redis on {HOST}:{REDIS_PORT} (.ci/run starts one)")
    with run_example(tmp_path_factory.mktemp("example-redis"), REDIS_URL=REDIS_URL) as server:
        yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in ("example_server", "redis_server"):
            server = funcargs.get(name)
            if isinstance(server, ExampleServer):
                tail = "\n".join(server.log().splitlines()[-60:])
                report.sections.append((f"{name} log (tail)", tail))
    return report
