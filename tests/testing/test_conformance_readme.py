"""The conformance suite's Python example of packages/gqlws-testing/README.md
(verbatim below), run against `conformance_application()` on a live server."""

from __future__ import annotations

import pytest
from gqlws_testing import LiveServer
from gqlws_testing.conformance import (
    ConformanceOptions,
    conformance_application,
    run_conformance,
)


async def check_my_server(url: str) -> bool:
    report = await run_conformance(
        url,
        subprotocols=["graphql-transport-ws"],  # the default: both
        options=ConformanceOptions(init_timeout=1.0, keepalive=0.3, max_operations=5),
        only=["C.1.1", "C.1.10", "C.1.15"],  # the default: every item
    )
    print(report.to_text())  # one line per item, frames under failures
    print(report.item("C.1.10").message)
    return report.ok  # no failure; skips allowed


@pytest.mark.asyncio
async def test_the_readme_example(capsys: pytest.CaptureFixture[str]) -> None:
    with LiveServer(conformance_application()) as server:
        assert await check_my_server(server.url)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"gqlws conformance: {server.url}"
    assert [line.split()[:2] for line in printed[1:4]] == [
        ["PASS", "C.1.1"],
        ["PASS", "C.1.10"],
        ["PASS", "C.1.15"],
    ]
    assert printed[4] == "3 items: 3 passed, 0 failed, 0 skipped"
