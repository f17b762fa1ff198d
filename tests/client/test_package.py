"""The package surface, the exception tree and the reconnect policy (no event loop)."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import gqlws_client
import pytest
from gqlws_client import (
    FATAL_CLOSE_CODES,
    BufferOverflowError,
    ClientClosedError,
    ConnectionClosedError,
    ConnectionLostError,
    ConnectionRejectedError,
    ConnectionTimeoutError,
    GraphqlWsConnectionError,
    GraphqlWsError,
    GraphqlWsResponseError,
    GraphqlWsTimeoutError,
    backoff_delay,
    cookie_header,
    should_reconnect,
)
from gqlws_client._errors import clone_error
from gqlws_protocol import CloseCode

SOURCE = Path(gqlws_client.__file__).parent


def _ruff_sort_key(name: str) -> tuple[int, list[object]]:
    # RUF022 "isort-style": SCREAMING_SNAKE_CASE, then CamelCase, then the rest.
    category = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return category, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def test_all_is_sorted_and_documented() -> None:
    names = list(gqlws_client.__all__)
    assert names == sorted(names, key=_ruff_sort_key)
    assert len(set(names)) == len(names)
    assert set(names) <= set(dir(gqlws_client))
    for name in names:
        value = getattr(gqlws_client, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name
            for member_name, member in vars(value).items():
                if not member_name.startswith("_") and inspect.isfunction(member):
                    assert inspect.getdoc(member), f"{name}.{member_name}"


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        gqlws_client.Nope


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )


def test_imports_without_the_extras() -> None:
    # Block aiohttp, trio and trio-websocket as if the extras were missing.
    result = _run(
        "import sys\n"
        "for name in ('aiohttp', 'trio', 'trio_websocket'):\n"
        "    sys.modules[name] = None\n"
        "import gqlws_client\n"
        "assert gqlws_client.GraphqlWsClient\n"
        "for name in ('GraphqlWsTransportAiohttp', 'GraphqlWsTransportTrio'):\n"
        "    try:\n"
        "        getattr(gqlws_client, name)\n"
        "    except ImportError as exc:\n"
        "        print(exc)\n"
        "print(sorted(m for m, mod in sys.modules.items()\n"
        "    if mod is not None and m.split('.')[0] in ('aiohttp', 'trio')))\n"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "pip install 'gqlws-client[aiohttp]'" in lines[0]
    assert "pip install 'gqlws-client[trio]'" in lines[1]
    assert lines[2] == "[]"


def test_the_transports_are_imported_on_first_use() -> None:
    result = _run(
        "import sys, gqlws_client\n"
        "print('aiohttp' in sys.modules, 'trio_websocket' in sys.modules)\n"
        "gqlws_client.GraphqlWsTransportAiohttp\n"
        "gqlws_client.GraphqlWsTransportTrio\n"
        "print('aiohttp' in sys.modules, 'trio_websocket' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "True", "True"]


def test_client_logic_is_written_once_for_both_loops() -> None:
    # Only the transports may name an event loop or a WebSocket library.
    loop_specific = {"asyncio", "trio", "trio_websocket", "aiohttp", "sniffio"}
    for path in SOURCE.glob("*.py"):
        if path.name in ("_aiohttp.py", "_trio.py"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & loop_specific, (path.name, roots)


# The exception tree.


def test_exception_tree() -> None:
    tree = {
        GraphqlWsConnectionError: GraphqlWsError,
        ConnectionRejectedError: GraphqlWsConnectionError,
        ConnectionClosedError: GraphqlWsConnectionError,
        ClientClosedError: ConnectionClosedError,
        ConnectionLostError: ConnectionClosedError,
        ConnectionTimeoutError: ConnectionLostError,
        GraphqlWsTimeoutError: GraphqlWsError,
        GraphqlWsResponseError: GraphqlWsError,
        BufferOverflowError: GraphqlWsError,
    }
    for child, parent in tree.items():
        assert issubclass(child, parent), child
    assert issubclass(ConnectionTimeoutError, GraphqlWsTimeoutError)
    assert issubclass(GraphqlWsTimeoutError, TimeoutError)
    assert not issubclass(ConnectionRejectedError, ConnectionClosedError)


def test_connection_errors_carry_code_reason_and_more() -> None:
    error = ConnectionTimeoutError(
        "no ack", code=4504, reason="Connection acknowledgement timeout"
    )
    assert (str(error), error.code, error.reason) == (
        "no ack",
        4504,
        "Connection acknowledgement timeout",
    )
    rejected = ConnectionRejectedError("no", status=403, payload={"message": "x"})
    assert (rejected.code, rejected.status, rejected.payload) == (None, 403, {"message": "x"})


def test_clone_error_keeps_class_attributes_and_cause() -> None:
    cause = OSError("reset")
    try:
        raise ConnectionTimeoutError("gone", code=4499, reason="r") from cause
    except ConnectionTimeoutError as exc:
        original = exc
    copy = clone_error(original)
    assert copy is not original
    assert type(copy) is ConnectionTimeoutError
    assert (str(copy), copy.code, copy.reason) == ("gone", 4499, "r")
    assert copy.__cause__ is cause
    assert copy.__traceback__ is None


def test_response_error_keeps_the_old_constructor() -> None:
    result = {"data": None, "errors": [{"message": "a"}, {"message": "b"}]}
    error = GraphqlWsResponseError(result)
    assert error.response is result
    assert error.errors == result["errors"]
    assert error.message is None
    assert str(error) == "operation failed with 2 graphql error(s): a"
    error = GraphqlWsResponseError([{"message": "c"}], "custom text", operation_id="7")
    assert (str(error), error.errors, error.operation_id) == (
        "custom text",
        [{"message": "c"}],
        "7",
    )
    assert GraphqlWsResponseError({"data": 1}).errors == []


def test_cookie_header() -> None:
    assert cookie_header({"a": "1", "b": "two"}) == "a=1; b=two"


# The reconnect policy (reference/protocols.md A.4 and C.3 item 13).


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ClientClosedError("closed", code=1000), False),
        (ConnectionRejectedError("403", status=403), False),
        (ConnectionRejectedError("503", status=503), True),
        (ConnectionRejectedError("forbidden", code=4403), False),
        (ConnectionRejectedError("subprotocol", code=4406), False),
        (ConnectionTimeoutError("no handshake"), True),
        (ConnectionTimeoutError("no ack", code=4504), True),
        (ConnectionTimeoutError("no pong", code=4499), True),
        (ConnectionLostError("network", code=None), True),
        (GraphqlWsConnectionError("params raised", code=4005), False),
        (GraphqlWsResponseError([{"message": "x"}]), False),
        *[(ConnectionLostError("closed", code=code), False) for code in FATAL_CLOSE_CODES],
        *[
            (ConnectionLostError("closed", code=code), False)
            for code in (1002, 1003, 1007, 1008, 1009, 1010, 1011, 1015)
        ],
        *[
            (ConnectionLostError("closed", code=code), True)
            for code in (1000, 1001, 1005, 1006, 1012, 1013, 1014, 4408, 4499, 4504, 4000)
        ],
    ],
)
def test_should_reconnect(error: GraphqlWsError, expected: bool) -> None:
    assert should_reconnect(error) is expected


def test_fatal_codes_are_the_reference_list_plus_4403() -> None:
    assert {int(c) for c in FATAL_CLOSE_CODES} == {
        4400,
        4401,
        4403,
        4406,
        4409,
        4429,
        4500,
        4004,
        4005,
    }
    assert CloseCode.FORBIDDEN in FATAL_CLOSE_CODES


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    bounds = (1.0, 10.0)
    lows = [backoff_delay(n, bounds, rand=lambda: 0.0) for n in range(1, 7)]
    highs = [backoff_delay(n, bounds, rand=lambda: 0.999999) for n in range(1, 7)]
    assert lows == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert highs == pytest.approx([1.0, 2.0, 4.0, 8.0, 10.0, 10.0], rel=1e-5)
    delays = {backoff_delay(3, bounds) for _ in range(50)}
    assert len(delays) > 1
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert backoff_delay(10_000, bounds, rand=lambda: 0.5) == 7.5
