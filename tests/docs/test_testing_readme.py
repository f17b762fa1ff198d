"""packages/gqlws-testing/README.md: its Python blocks are verbatim parts of
the tests that run them (tests/testing), and the names it lists exist."""

from __future__ import annotations

import re

import gqlws_testing
import pytest
from gqlws_testing import plugin

from tests.docs.readme_blocks import ROOT, code_blocks

README = "packages/gqlws-testing/README.md"
TESTED = sorted((ROOT / "tests" / "testing").glob("test_*.py"))


@pytest.mark.parametrize("block", code_blocks(README), ids=lambda b: b.splitlines()[0][:40])
def test_python_blocks_are_verbatim_parts_of_tests(block: str) -> None:
    assert any(block in path.read_text() for path in TESTED), block


def test_the_fixture_table_names_the_plugin_fixtures() -> None:
    text = (ROOT / README).read_text()
    table = text.split("| fixture | what it gives |", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"^\| `(\w+)`", table, re.MULTILINE))
    named |= set(re.findall(r", `(\w+)` \|", table))
    fixtures = {n for n in plugin.__all__ if n.startswith(("gql", "gqlws_"))}
    assert named == fixtures | {"gqlws_subprotocol"}


def test_the_client_table_names_real_methods() -> None:
    text = (ROOT / README).read_text()
    table = text.split("| call | what it does |", 1)[1].split("\n\n", 1)[0]
    for name in re.findall(r"`(\w+)\(", table):
        assert callable(getattr(gqlws_testing.GraphqlWsClient, name)), name
