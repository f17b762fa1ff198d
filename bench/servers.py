"""The servers under test, each a fresh uvicorn process on 127.0.0.1.

Every server runs the same way: `python -m uvicorn bench.apps.<module>:application`
from the repository root, one process, `--ws websockets`, `--loop uvloop` when
uvloop is installed (else asyncio; the same for all), access log off. The
workspace's servers use the workspace's interpreter; django-channels-graphql-ws
runs from a virtual environment of its own (`bench/.venvs/seed`), made on first
use with `uv`, with the same versions of uvicorn, websockets, uvloop, httptools,
channels, channels_redis, redis and graphene as the workspace: only Django (below
5, which that release pins) and graphql-core (3.2.3, pinned too) differ.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ROOT",
    "SEED_PYTHON",
    "SERVERS",
    "Server",
    "ServerSpec",
    "ensure_seed_venv",
    "loop_name",
    "seed_versions",
]

ROOT = Path(__file__).resolve().parent.parent
SEED_VENV = ROOT / "bench" / ".venvs" / "seed"
SEED_PYTHON = SEED_VENV / "bin" / "python"
SEED_REQUIREMENT = "django-channels-graphql-ws==1.0.0rc7"
# Installed into the seed's venv at the workspace's versions.
_SHARED = (
    "uvicorn",
    "websockets",
    "uvloop",
    "httptools",
    "channels",
    "channels-redis",
    "redis",
    "graphene",
    "msgpack",
)


@dataclass(frozen=True)
class ServerSpec:
    """One row of the table: an ASGI app, the subprotocol the load speaks.

    Args:
        name: the row's label.
        module: the module under `bench.apps` holding `application`.
        subprotocol: what the load generator asks for.
        seed: run from the django-channels-graphql-ws venv.
        env: extra environment variables for the server.
        scenarios: the scenarios this row takes part in; None: all.
    """

    name: str
    module: str
    subprotocol: str = "graphql-transport-ws"
    seed: bool = False
    env: dict[str, str] = field(default_factory=dict)
    scenarios: frozenset[str] | None = None


BARE = "bare Channels consumer"

SERVERS = (
    ServerSpec(BARE, "bare"),
    ServerSpec("gqlws graphql-transport-ws", "gqlws_app"),
    ServerSpec("gqlws graphql-ws", "gqlws_app", subprotocol="graphql-ws"),
    ServerSpec(
        "gqlws, hello in a thread",
        "gqlws_app",
        env={"BENCH_HELLO": "sync"},
        scenarios=frozenset({"queries-1", "queries-50"}),
    ),
    ServerSpec("django-channels-graphql-ws 1.0.0rc7", "seed_app", seed=True),
)


def loop_name() -> str:
    """uvloop when the workspace has it, else asyncio (the same for all)."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def _workspace_versions() -> dict[str, str]:
    versions = {}
    for name in _SHARED:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def seed_versions() -> dict[str, str]:
    """Versions of the packages in the seed's venv that differ by design."""
    script = (
        "import importlib.metadata as m, json; print(json.dumps({n: m.version(n) for n in "
        "('django-channels-graphql-ws', 'django', 'graphql-core')}))"
    )
    out = subprocess.run(
        [str(SEED_PYTHON), "-c", script], check=True, capture_output=True, text=True
    ).stdout
    versions: dict[str, str] = json.loads(out)
    return versions


def ensure_seed_venv() -> None:
    """Make (or bring up to date) the venv of django-channels-graphql-ws."""
    pins = [f"{name}=={version}" for name, version in sorted(_workspace_versions().items())]
    requirements = [SEED_REQUIREMENT, "django<5", *pins]
    stamp = SEED_VENV / "bench-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if SEED_PYTHON.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is not on PATH: it makes the django-channels-graphql-ws venv")
    print(f"making {SEED_VENV.relative_to(ROOT)} ({SEED_REQUIREMENT})", file=sys.stderr)
    subprocess.run(
        [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(SEED_VENV)],
        check=True,
    )
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(SEED_PYTHON), *requirements],
        check=True,
    )
    stamp.write_text(wanted)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A running uvicorn process serving one `ServerSpec`.

    Args:
        spec: what to serve.
        layer: `memory` or `redis`.
    """

    def __init__(self, spec: ServerSpec, *, layer: str) -> None:
        self.spec = spec
        self.port = _free_port()
        self.url = f"ws://127.0.0.1:{self.port}/graphql/"
        python = str(SEED_PYTHON) if spec.seed else sys.executable
        env = {
            **os.environ,
            **spec.env,
            "BENCH_LAYER": layer,
            "BENCH_REDIS_PREFIX": f"gqlws-bench-{uuid.uuid4().hex[:12]}",
            "DJANGO_SETTINGS_MODULE": "bench.apps.settings",
            "PYTHONPATH": str(ROOT),
        }
        # The seed's venv must not see the workspace's packages.
        env.pop("VIRTUAL_ENV", None)
        # Kept open for `output()`; closed with the object.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                python,
                "-m",
                "uvicorn",
                f"bench.apps.{spec.module}:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                loop_name(),
                "--ws",
                "websockets",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited at start:\n{self.output()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.spec.name} did not listen within {timeout} s")

    def output(self) -> str:
        """What the server printed so far, less uvicorn's deprecation notice."""
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        lines = [
            line
            for line in text.splitlines()
            if "UvicornDeprecationWarning" not in line and "warnings.warn(" not in line
        ]
        return "\n".join(lines)

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 5 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
