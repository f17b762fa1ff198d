"""The package README: its code runs, and its example programs work over a real socket.

Every Python block of packages/gqlws-protocol/README.md is either a verbatim
part of examples/server.py or examples/client.py, or runs here as it stands.
The example server then listens on 127.0.0.1 (a free port, stopped by the
test) and the example client talks to it in both subprotocols; raw
`websockets` clients check the loop's error paths and timers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import socket
import sys
import types
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from gqlws_protocol import ServerConfig, ServerConnection, Subprotocol
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol as Token

PACKAGE = Path(__file__).resolve().parents[2] / "packages" / "gqlws-protocol"
README = PACKAGE / "README.md"
EXAMPLES = {name: PACKAGE / "examples" / f"{name}.py" for name in ("server", "client")}

BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
BLOCKS = BLOCK.findall(README.read_text(encoding="utf-8"))

MODERN = Subprotocol.GRAPHQL_TRANSPORT_WS.value
LEGACY = Subprotocol.GRAPHQL_WS.value


def _load(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"gqlws_readme_{name}", EXAMPLES[name])
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first: dataclasses look their module up while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example_server = _load("server")
example_client = _load("client")


# README blocks.


def _example_texts() -> dict[str, str]:
    return {name: path.read_text(encoding="utf-8") for name, path in EXAMPLES.items()}


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_program_is_in_the_readme_in_full(name: str) -> None:
    assert _example_texts()[name] in BLOCKS


def _stand_in_orjson() -> types.ModuleType:
    # orjson is no dependency of the project; a module with its signatures
    # (`loads` takes str or bytes, `dumps` returns bytes) runs the snippet.
    module = types.ModuleType("orjson")
    module.loads = json.loads  # type: ignore[attr-defined]
    module.dumps = lambda obj: json.dumps(obj, separators=(",", ":")).encode()  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_readme_block_is_an_example_excerpt_or_runs(
    index: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block = BLOCKS[index]
    if any(block in text for text in _example_texts().values()):
        return
    if "import orjson" in block and importlib.util.find_spec("orjson") is None:
        monkeypatch.setitem(sys.modules, "orjson", _stand_in_orjson())
    namespace: dict[str, object] = {"__name__": f"readme_block_{index}"}
    exec(compile(block, f"{README}:block {index}", "exec"), namespace)
    # A configuration snippet must give configs a machine can work with.
    config = namespace.get("server_config")
    if isinstance(config, ServerConfig):
        server = ServerConnection(MODERN, config, now=0.0)
        assert server.receive_text('{"type":"ping","payload":{"n":1}}', 0.0)
        assert server.data_to_send() == ['{"type":"pong","payload":{"n":1}}']


# The example programs over a real socket.


@asynccontextmanager
async def running_server(config: ServerConfig | None = None) -> AsyncIterator[str]:
    """The example server on 127.0.0.1 and a free port; stopped on exit."""
    async with example_server.make_server("127.0.0.1", 0, config) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def _expected_results() -> dict[str, list[dict[str, object]]]:
    return {
        "1": [{"data": {"hello": "world"}}],
        "2": [{"data": {"count": 1}}, {"data": {"count": 2}}, {"data": {"count": 3}}],
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("subprotocol", [MODERN, LEGACY])
async def test_example_client_against_example_server(subprotocol: str) -> None:
    async with running_server() as url:
        outcome = await asyncio.wait_for(example_client.run_client(url, subprotocol), 10)
    assert outcome.results == _expected_results()
    assert outcome.errors == {"3": [{"message": "unknown query"}]}
    assert outcome.completed == ["1", "2"]
    # The default example config pings every 10 s: the legacy server's first
    # `ka` follows the ack at once, the modern server has not pinged yet.
    assert outcome.heartbeats == (1 if subprotocol == LEGACY else 0)
    assert outcome.closed is None  # the client closed, normally


@pytest.mark.asyncio
@pytest.mark.parametrize("subprotocol", [MODERN, LEGACY])
async def test_example_server_pings_on_its_timer(subprotocol: str) -> None:
    config = ServerConfig(init_timeout=5, ping_interval=0.004, pong_timeout=1)
    async with running_server(config) as url:
        outcome = await asyncio.wait_for(example_client.run_client(url, subprotocol), 10)
    assert outcome.results == _expected_results()
    # The count takes 30 ms: several pings (answered by the client machine)
    # or legacy `ka` went by, and the connection still ended normally.
    assert outcome.heartbeats >= 2
    assert outcome.closed is None


async def _closed_with(ws: object) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await ws.recv()  # type: ignore[attr-defined]
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


@pytest.mark.asyncio
async def test_no_common_subprotocol_closes_4406() -> None:
    async with running_server() as url, connect(url, subprotocols=[Token("graphql-nope")]) as ws:
        assert ws.subprotocol is None
        assert await _closed_with(ws) == (4406, "Bad subprotocol")


@pytest.mark.asyncio
async def test_invalid_message_closes_4400() -> None:
    async with running_server() as url, connect(url, subprotocols=[Token(MODERN)]) as ws:
        await ws.send("not json")
        code, reason = await _closed_with(ws)
    assert code == 4400
    assert reason.startswith("message is not valid JSON")


@pytest.mark.asyncio
async def test_binary_frame_closes_4400() -> None:
    async with running_server() as url, connect(url, subprotocols=[Token(MODERN)]) as ws:
        await ws.send(b'{"type":"connection_init"}')
        code, _ = await _closed_with(ws)
    assert code == 4400


@pytest.mark.asyncio
async def test_legacy_server_answers_a_bad_message_and_stays() -> None:
    async with running_server() as url, connect(url, subprotocols=[Token(LEGACY)]) as ws:
        assert ws.subprotocol == LEGACY
        await ws.send('{"type":"nope"}')
        reply = json.loads(await ws.recv())
        assert reply["type"] == "error"
        await ws.send('{"type":"connection_terminate"}')
        assert await _closed_with(ws) == (1000, "connection_terminate")


@pytest.mark.asyncio
async def test_init_timeout_closes_4408() -> None:
    config = ServerConfig(init_timeout=0.05)
    async with running_server(config) as url, connect(url, subprotocols=[Token(MODERN)]) as ws:
        assert await _closed_with(ws) == (4408, "Connection initialisation timeout")


@pytest.mark.asyncio
async def test_unanswered_pings_close_1001() -> None:
    config = ServerConfig(init_timeout=5, ping_interval=0.02, pong_timeout=0.05)
    async with running_server(config) as url, connect(url, subprotocols=[Token(MODERN)]) as ws:
        await ws.send('{"type":"connection_init"}')
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        assert json.loads(await ws.recv()) == {"type": "ping"}  # left unanswered
        code, reason = await _closed_with(ws)
    assert code == 1001
    assert "no pong" in reason


@pytest.mark.asyncio
async def test_client_stops_a_subscription_and_the_server_cancels_it() -> None:
    async with running_server() as url, connect(url, subprotocols=[Token(MODERN)]) as ws:
        await ws.send('{"type":"connection_init"}')
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        subscribe = {"query": "subscription { count(to: 1000) }"}
        await ws.send(json.dumps({"type": "subscribe", "id": "s", "payload": subscribe}))
        first = json.loads(await ws.recv())
        assert first == {"type": "next", "id": "s", "payload": {"data": {"count": 1}}}
        await ws.send('{"type":"complete","id":"s"}')
        await ws.send('{"type":"ping"}')
        in_flight = []
        while (message := json.loads(await ws.recv())) != {"type": "pong"}:
            in_flight.append(message)
        # Results already on their way, no `complete` (the client stopped it).
        assert len(in_flight) <= 2
        assert all(message["type"] == "next" for message in in_flight)
        with pytest.raises(asyncio.TimeoutError):  # a running count sends every 10 ms
            await asyncio.wait_for(ws.recv(), 0.1)


# The programs as scripts.


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def free_port() -> Iterator[int]:
    yield _free_port()


@pytest.mark.asyncio
async def test_server_main_and_client_script(free_port: int) -> None:
    server = asyncio.create_task(example_server.main("127.0.0.1", free_port))
    try:
        url = f"ws://127.0.0.1:{free_port}"
        for _ in range(100):  # until it listens
            try:
                async with connect(url, subprotocols=[Token(MODERN)]):
                    break
            except OSError:
                await asyncio.sleep(0.02)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLES["client"]),
            url,
            LEGACY,
            stdout=asyncio.subprocess.PIPE,
        )
        stdout, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    assert process.returncode == 0
    assert "'hello': 'world'" in stdout.decode()
    assert "completed=['1', '2']" in stdout.decode()
