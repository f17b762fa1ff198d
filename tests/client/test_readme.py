"""Every Python block of packages/gqlws-client/README.md runs, against strawberry."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "packages" / "gqlws-client" / "README.md"
PLACEHOLDER = "ws://localhost:8000/graphql"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.M)


def test_the_readme_has_the_promised_examples() -> None:
    blocks = python_blocks()
    assert len(blocks) == 4
    assert "asyncio.run" in blocks[0]
    assert "trio.run" in blocks[1]
    assert "connect_and_init" in blocks[2]
    assert "class GraphqlWsTransportWebsockets(GraphqlWsTransport)" in blocks[3]
    assert all(PLACEHOLDER in block for block in blocks)


@pytest.mark.parametrize("index", range(4), ids=["asyncio", "trio", "step-by-step", "transport"])
def test_readme_block_runs(strawberry_url: str, index: int) -> None:
    block = python_blocks()[index]
    code = block.replace(PLACEHOLDER, f"{strawberry_url}/graphql")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "__readme__"})
    # The output matches the `# ...` comments of the printing lines.
    printed = out.getvalue().splitlines()
    expected = {
        0: [
            "{'data': {'hello': 'hello ann'}}",
            "{'data': {'count': 0}}",
            "{'data': {'count': 1}}",
            "{'data': {'count': 2}}",
        ],
        1: ["{'data': {'ticks': 0}}"],
        2: ["{'data': {'count': 0}}", "{'data': {'count': 1}}"],
        3: ["{'data': {'hello': 'hello world'}}"],
    }[index]
    assert printed == expected
