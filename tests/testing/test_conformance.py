"""The conformance suite, in-process: our `ConformanceConsumer` passes
every item of both checklists, through the pytest factory; the API, the
report, the options and the package surface."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any, ClassVar

import pytest
from gqlws_testing import conformance
from gqlws_testing.conformance import (
    SDL,
    ConformanceConsumer,
    ConformanceOptions,
    Outcome,
    conformance_application,
    conformance_schema,
    conformance_tests,
    run_conformance,
)


class FastConsumer(ConformanceConsumer):
    """Shorter timers than the defaults, declared in `FAST` below."""

    connection_init_wait_timeout: ClassVar[float | None] = 0.5
    send_ping_every: ClassVar[float | None] = 0.15
    max_operations: ClassVar[int | None] = 3


FAST = ConformanceOptions(init_timeout=0.5, keepalive=0.15, max_operations=3, quiet=0.15)

# One test per item and subprotocol: test_in_process[C.1.1] ... [C.2.12].
test_in_process = conformance_tests(conformance_application(consumer=FastConsumer), options=FAST)

# A callable without arguments is called in the test (here: the defaults).
test_in_process_defaults = conformance_tests(
    conformance_application, subprotocols=["graphql-ws"], only=["C.2.2", "C.2.3"]
)


@pytest.mark.asyncio
async def test_report_lists_every_item_in_order_and_renders() -> None:
    report = await run_conformance(conformance_application(consumer=FastConsumer), options=FAST)
    ids = [item.id for item in report.items]
    assert ids == [f"C.1.{n}" for n in range(1, 25)] + [f"C.2.{n}" for n in range(1, 13)]
    assert report.ok and len(report.passed) == 36 and not report.failed and not report.skipped
    assert {item.subprotocol for item in report.items[:24]} == {"graphql-transport-ws"}
    assert {item.subprotocol for item in report.items[24:]} == {"graphql-ws"}
    text = report.to_text()
    lines = text.splitlines()
    assert lines[0] == "gqlws conformance: ASGI application URLRouter at /graphql/"
    assert lines[-1] == "36 items: 36 passed, 0 failed, 0 skipped"
    assert all(re.match(r"PASS  C\.[12]\.\d+ ", line) for line in lines[1:-1])
    data = json.loads(report.to_json())
    assert data["ok"] is True and data["passed"] == 36
    first = data["items"][0]
    assert first["id"] == "C.1.1" and first["outcome"] == "pass"
    assert first["frames"][0] == {
        "socket": 1,
        "at": first["frames"][0]["at"],
        "direction": "sent",
        "kind": "handshake",
        "text": "graphql-transport-ws",
    }
    assert report.item("C.2.3").message.startswith("ka gaps ")


@pytest.mark.asyncio
async def test_undeclared_capabilities_skip_with_the_reason() -> None:
    options = ConformanceOptions(
        init_timeout=None,
        keepalive=None,
        max_operations=None,
        reject_payload=None,
        slow_init_payload=None,
        legacy_start_before_init=None,
    )
    report = await run_conformance(
        conformance_application(),
        only=["C.1.4", "C.1.8", "C.1.9", "C.1.24", "C.2.2", "C.2.3", "C.2.4", "C.2.5"],
        options=options,
    )
    assert [item.outcome for item in report.items] == [Outcome.SKIP] * 8
    messages = {item.id: item.message for item in report.items}
    assert messages["C.1.4"] == "no init timeout declared (option init_timeout)"
    # Partly checked items say what passed and what was not checked.
    assert messages["C.1.9"] == (
        "while the auth hook runs: no slow payload declared (option slow_init_payload) "
        "(the rest passed)"
    )
    assert "operation limit: no operation limit declared" in messages["C.1.24"]
    assert messages["C.2.2"].startswith("the ack came; ka not checked")
    assert report.ok


@pytest.mark.asyncio
async def test_wrong_declarations_fail() -> None:
    # The server's real values are 1 s, 0.3 s and 5: declared otherwise,
    # the items that measure them fail.
    options = ConformanceOptions(init_timeout=2.0, keepalive=0.1, max_operations=7, quiet=0.1)
    report = await run_conformance(
        conformance_application(), only=["C.1.4", "C.1.24", "C.2.3"], options=options
    )
    assert [item.id for item in report.failed] == ["C.1.4", "C.1.24", "C.2.3"]
    assert "before the declared init timeout 2 s" in report.item("C.1.4").message
    assert "expected ka about 0.1 s apart" in report.item("C.2.3").message
    assert report.item("C.1.24").message.startswith(
        "operation limit: expected a 'next' message for id 'op5', observed "
        '{"type":"error","id":"op5"'
    )


@pytest.mark.asyncio
async def test_documented_choices_are_options() -> None:
    # Our server answers a modern syntax error and a legacy validation
    # error with `error` messages; a suite told otherwise fails them.
    options = ConformanceOptions(
        modern_syntax_error="close", legacy_validation_error="data", dual_winner="graphql-ws"
    )
    report = await run_conformance(
        conformance_application(), only=["C.1.2", "C.1.22", "C.2.8"], options=options
    )
    assert [item.id for item in report.failed] == ["C.1.2", "C.1.22", "C.2.8"]
    assert report.item("C.1.2").message == (
        "offering graphql-ws, graphql-transport-ws: expected subprotocol 'graphql-ws', "
        "observed 'graphql-transport-ws'"
    )
    assert report.item("C.1.22").message.startswith("syntax error: expected close 4400, observed")


@pytest.mark.asyncio
async def test_only_and_subprotocols_select_items() -> None:
    report = await run_conformance(
        conformance_application(), subprotocols=["graphql-ws"], only=["C.1.1", "C.2.1"]
    )
    assert [item.id for item in report.items] == ["C.2.1"]
    with pytest.raises(ValueError, match=r"unknown item ids \['C\.9\.9'\]"):
        await run_conformance(conformance_application(), only=["C.9.9"])
    with pytest.raises(ValueError, match="unknown subprotocol 'graphql-sse'"):
        await run_conformance(conformance_application(), subprotocols=["graphql-sse"])
    with pytest.raises(ValueError, match="must be a ws:// or wss:// URL"):
        await run_conformance("http://127.0.0.1/graphql/")


@pytest.mark.asyncio
async def test_unreachable_url_fails_every_item_with_the_reason() -> None:
    report = await run_conformance(
        "ws://127.0.0.1:9/graphql/", only=["C.1.1", "C.2.6"], options=ConformanceOptions()
    )
    assert [item.outcome for item in report.items] == [Outcome.FAIL, Outcome.FAIL]
    assert all(item.message.startswith("connection failed: ") for item in report.items)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timeout", 0, "timeout must be a positive number of seconds, got 0"),
        ("keepalive", -1.0, "keepalive must be a positive number of seconds, got -1.0"),
        ("max_operations", 0, "max_operations must be at least 1, got 0"),
        ("concurrency", 0, "concurrency must be at least 1, got 0"),
        ("dual_winner", "graphql-sse", "dual_winner must be one of"),
        ("legacy_bad_frame", "close", "legacy_bad_frame must be 'error', 'ignore' or 'any'"),
        ("path", "graphql/", "path must start with '/'"),
    ],
)
def test_options_are_validated(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ConformanceOptions(**{field: value})


@pytest.mark.asyncio
async def test_items_may_run_concurrently() -> None:
    options = ConformanceOptions(concurrency=6)
    report = await run_conformance(
        conformance_application(),
        only=[f"C.1.{n}" for n in range(10, 17)],
        options=options,
    )
    assert [item.id for item in report.items] == [f"C.1.{n}" for n in range(10, 17)]
    assert report.ok, report.to_text()


def test_schema_matches_the_documented_sdl() -> None:
    printed = str(conformance_schema)
    for line in SDL.splitlines():
        if line.strip() and line.strip() != "}":
            assert line.strip() in printed, line


def _ruff_sort_key(name: str) -> tuple[int, list[object]]:
    category = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return category, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def test_package_surface_is_sorted_and_documented() -> None:
    names = list(conformance.__all__)
    assert names == sorted(names, key=_ruff_sort_key)
    assert len(set(names)) == len(names)
    for name in names:
        value = getattr(conformance, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def test_importing_the_suite_does_not_import_pytest_plugins_of_its_own() -> None:
    # pytest is imported only by `conformance_tests()`: the module that
    # defines it does not import it at module level.
    from gqlws_testing.conformance import _pytest

    source = inspect.getsource(_pytest)
    assert "\nimport pytest" not in source and "\nfrom pytest" not in source
