"""example/README.md tells the truth: its operations are the page's, its
Python client runs against the example, its commands are the tested ones."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import runpy
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse, print_ast

from tests.docs.readme_blocks import ROOT, code_blocks

from .conftest import ExampleServer

README = "example/README.md"


def _operations(*documents: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for document in documents:
        for definition in parse(document).definitions:
            assert isinstance(definition, OperationDefinitionNode)
            assert definition.name is not None
            found[definition.name.value] = print_ast(definition)
    return found


def test_graphql_blocks_are_the_pages_operations() -> None:
    page = runpy.run_path(str(ROOT / "example" / "chat" / "operations.py"))
    expected = _operations(page["CHAT"], page["SUBSCRIBE"])
    assert _operations(*code_blocks(README, "graphql")) == expected


def test_shell_commands_are_the_tested_ones() -> None:
    commands = [
        line.strip() for block in code_blocks(README, "sh") for line in block.splitlines() if line
    ]
    tests = "\n".join(p.read_text() for p in (ROOT / "tests" / "example").glob("*.py"))
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:
        if "npm ci" in command:
            assert "(cd example/frontend && npm ci" in ci
            continue
        match = re.search(r"uv run example/manage\.py (\w+)", command)
        assert match, command
        assert f'"{match[1]}"' in tests, f"no test runs `manage.py {match[1]}`"
        for variable in re.findall(r"\b([A-Z_]+)=", command):
            assert f"{variable}=" in tests, f"no test sets {variable}"


@pytest.mark.asyncio
async def test_the_python_client_receives_a_message(example_server: ExampleServer) -> None:
    (block,) = code_blocks(README)
    host = example_server.base_url.removeprefix("http://")
    source = block.replace("127.0.0.1:8000", host)
    assert source != block
    printed = io.StringIO()
    namespace: dict[str, Any] = {"__name__": "example_readme"}
    # The block ends with `asyncio.run(main())`; the test runs `main` itself.
    exec(compile(source.replace("asyncio.run(main())", ""), README, "exec"), namespace)

    from gql import Client, gql
    from gql.transport.websockets import WebsocketsTransport

    async def send_as_anonymous() -> None:
        transport = WebsocketsTransport(
            url=example_server.ws_url, headers={"Origin": example_server.base_url}
        )
        async with Client(transport=transport) as session:
            text = (
                'mutation { sendChatMessage(chatroom: "kittens", text: "from the test") { ok } }'
            )
            # Until the subscription of the README's client is there.
            for _ in range(100):
                await session.execute(gql(text))
                if "from the test" in printed.getvalue():
                    return
                await asyncio.sleep(0.1)

    with contextlib.redirect_stdout(printed):
        task = asyncio.ensure_future(namespace["main"]())
        try:
            await asyncio.wait_for(send_as_anonymous(), 20)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert "'text': 'from the test'" in printed.getvalue()
    assert "'sender': 'Anonymous'" in printed.getvalue()
