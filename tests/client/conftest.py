"""Fixtures of the client tests: every test runs under asyncio and trio."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gqlws_client import GraphqlWsTransport

TransportFactory = Callable[..., GraphqlWsTransport]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each `@pytest.mark.anyio` test once per event loop."""
    return str(request.param)


@pytest.fixture
def make_transport(anyio_backend: str) -> TransportFactory:
    """The shipped transport of the running loop: aiohttp or trio-websocket."""

    def make(url: str, **options: Any) -> GraphqlWsTransport:
        if anyio_backend == "asyncio":
            from gqlws_client import GraphqlWsTransportAiohttp

            return GraphqlWsTransportAiohttp(url, **options)
        from gqlws_client import GraphqlWsTransportTrio

        return GraphqlWsTransportTrio(url, **options)

    return make


@pytest.fixture(scope="session")
def strawberry_url() -> Iterator[str]:
    """A strawberry Channels server under uvicorn, in a subprocess, on 127.0.0.1.

    The listening socket is made here and handed to the child, so the port
    is known and taken before the server starts; the child exits when its
    stdin closes, so it never outlives the test run.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.client.strawberry_app", str(sock.fileno())],
            pass_fds=[sock.fileno()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=root,
            env=env,
        )
        sock.close()
        assert proc.stdout is not None and proc.stdin is not None
        try:
            line = proc.stdout.readline()
            if line.strip() != b"ready":
                proc.wait(5)
                stderr.seek(0)
                pytest.fail(f"the strawberry server did not start:\n{stderr.read().decode()}")
            yield f"ws://127.0.0.1:{port}"
        finally:
            proc.stdin.close()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()
            proc.stdout.close()
