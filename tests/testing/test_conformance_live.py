"""The conformance suite against a live uvicorn on 127.0.0.1 serving
`ConformanceConsumer`: through the pytest factory (a URL fixture) and the
command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from gqlws_testing.conformance import conformance_tests

# The integration tests' helpers for server processes on 127.0.0.1.
from tests.integration.conftest import HOST, ROOT, START_DEADLINE, _accepts, _free_port


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving `conformance_application()`; stopped after the module."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("conformance") / "uvicorn.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.django_settings"}
    command = [
        *(sys.executable, "-m", "uvicorn", "--factory"),
        "gqlws_testing.conformance:conformance_application",
        *("--host", HOST, "--port", str(port), "--lifespan", "off"),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        yield f"ws://{HOST}:{port}/graphql/"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# Every item of both checklists against the live server, by fixture name.
test_live = conformance_tests("live_url")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gqlws_testing.conformance", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_passes_and_prints_the_table(live_url: str) -> None:
    result = _cli(live_url)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"gqlws conformance: {live_url}"
    assert lines[1].startswith("PASS  C.1.1   handshake offering graphql-transport-ws selects it")
    assert lines[-1] == "36 items: 36 passed, 0 failed, 0 skipped"
    assert len(lines) == 38


def test_cli_json(live_url: str) -> None:
    result = _cli(live_url, "--json", "--subprotocol", "graphql-ws")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["target"] == live_url
    assert (data["ok"], data["passed"], data["failed"], data["skipped"]) == (True, 12, 0, 0)
    assert [item["id"] for item in data["items"]] == [f"C.2.{n}" for n in range(1, 13)]
    assert all(item["frames"] for item in data["items"])


def test_cli_exits_1_on_a_failure_and_shows_frames(live_url: str) -> None:
    # The server waits 1 s for connection_init; declared 0.4 s, C.1.4 fails.
    result = _cli(live_url, "--only", "C.1.4,C.1.15", "--init-timeout", "0.4")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("FAIL  C.1.4 ")
    assert "expected close 4408, observed nothing within" in lines[1]
    assert "> handshake offering [graphql-transport-ws]" in lines[2]
    assert lines[-2].startswith("PASS  C.1.15 ")
    assert lines[-1] == "2 items: 1 passed, 1 failed, 0 skipped"


def test_cli_declarations_of_none_skip(live_url: str) -> None:
    result = _cli(
        live_url, "--only", "C.1.4,C.2.3", "--init-timeout", "none", "--keepalive", "none"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SKIP  C.1.4 " in result.stdout and "SKIP  C.2.3 " in result.stdout


def test_cli_runs_an_asgi_application_in_process() -> None:
    result = _cli(
        "gqlws_testing.conformance:conformance_application",
        "--factory",
        "--only",
        "C.1.1,C.1.15,C.2.6",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        "gqlws conformance: ASGI application URLRouter at /graphql/"
    )
    assert result.stdout.splitlines()[-1] == "3 items: 3 passed, 0 failed, 0 skipped"


def test_cli_usage_errors_exit_2() -> None:
    result = _cli("ws://127.0.0.1:9/graphql/", "--only", "C.7.1")
    assert result.returncode == 2
    assert "unknown item ids: C.7.1" in result.stderr
    result = _cli("not-a-target")
    assert result.returncode == 2
    assert "expected a ws:// URL or module:attribute" in result.stderr
