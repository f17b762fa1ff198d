"""README.md tells the truth: its code is code that runs elsewhere, its
commands are the ones CI and the tests run, its links lead somewhere."""

from __future__ import annotations

import re

import pytest
import tomllib  # type: ignore[import-not-found,unused-ignore]  # mypy targets 3.10; tests run on 3.11+

from tests.docs.readme_blocks import ROOT, code_blocks

README = "README.md"

# Files whose code is executed by tests: the package READMEs (their blocks
# run in tests/docs, tests/client, tests/protocol) and the example.
TESTED_SOURCES = [
    *sorted(ROOT.glob("packages/*/README.md")),
    *sorted(ROOT.glob("example/**/*.py")),
]


@pytest.mark.parametrize("block", code_blocks(README), ids=lambda b: b.splitlines()[0][:40])
def test_python_blocks_are_verbatim_parts_of_tested_files(block: str) -> None:
    sources = {path: path.read_text() for path in TESTED_SOURCES}
    assert any(block in text for text in sources.values()), (
        "this README block is not a verbatim part of a tested file:\n" + block
    )


def _shell_lines() -> list[str]:
    lines = []
    for block in code_blocks(README, language=""):
        for line in block.splitlines():
            command = line.split("#")[0].strip()
            if command:
                lines.append(command)
    return lines


def test_the_two_commands_run_in_ci_or_in_a_test() -> None:
    commands = _shell_lines()
    assert "uv run example/manage.py runexample" in commands
    assert "bash .ci/run" in commands
    example_tests = "\n".join(p.read_text() for p in (ROOT / "tests" / "example").glob("*.py"))
    assert '"runexample"' in example_tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^uv run pytest$", ci, re.MULTILINE)


def _pip_lines(readme: str) -> list[str]:
    lines = []
    for language in ("", "console", "sh"):
        for block in code_blocks(readme, language=language):
            for line in block.splitlines():
                command = line.split("#")[0].strip()
                if command.startswith("pip install"):
                    lines.append(command)
    return lines


@pytest.mark.parametrize(
    "readme",
    [README, *(str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("packages/*/README.md")))],
)
def test_pip_lines_name_real_distributions_and_extras(readme: str) -> None:
    projects = {}
    for path in ROOT.glob("packages/*/pyproject.toml"):
        project = tomllib.loads(path.read_text())["project"]
        projects[project["name"]] = set(project.get("optional-dependencies", {}))
    pip_lines = _pip_lines(readme)
    assert pip_lines, readme
    if readme == README:
        assert len(pip_lines) == 4
    for line in pip_lines:
        requirement = line.removeprefix("pip install").strip().strip("'")
        name, _, extras = requirement.partition("[")
        assert name in projects, line
        for extra in filter(None, extras.rstrip("]").split(",")):
            assert extra in projects[name], line


def test_links_lead_to_files() -> None:
    text = (ROOT / README).read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if target.startswith("http"):
            continue
        assert (ROOT / target).exists(), target
