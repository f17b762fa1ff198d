"""The package surface: imports without pytest, a curated sorted `__all__`,
docstrings, the entry point of the plugin."""

from __future__ import annotations

import importlib.metadata
import inspect
import subprocess
import sys

import gqlws_testing
from gqlws_testing import plugin


def test_everything_but_the_plugin_imports_without_pytest() -> None:
    code = (
        "import sys\n"
        "sys.modules['pytest'] = None  # as if it were not installed\n"
        "import gqlws_testing, gqlws_testing.conformance\n"
        "from gqlws_testing.conformance import run_conformance, conformance_tests\n"
        "try:\n"
        "    import gqlws_testing.plugin\n"
        "except ImportError:\n"
        "    print('plugin needs pytest')\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'_pytest', 'pytest_asyncio'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == ["plugin needs pytest", "[]"]


def test_all_is_sorted_and_documented() -> None:
    names = [n for n in gqlws_testing.__all__ if n != "__version__"]
    assert gqlws_testing.__all__ == sorted(
        gqlws_testing.__all__, key=lambda n: (not n[0].isupper(), n)
    )
    for name in names:
        obj = getattr(gqlws_testing, name)
        assert inspect.getdoc(obj), name


def test_the_plugin_is_registered_by_its_entry_point() -> None:
    (entry,) = [e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "gqlws"]
    assert entry.value == "gqlws_testing.plugin"
    assert entry.load() is plugin
    for name in plugin.__all__:
        assert inspect.getdoc(getattr(plugin, name)), name


def test_the_command_is_installed() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts")
    (entry,) = [e for e in scripts if e.name == "gqlws-conformance"]
    assert entry.value == "gqlws_testing.conformance.__main__:main"
    assert callable(entry.load())


def test_loading_the_plugin_imports_nothing_else() -> None:
    # pytest loads it before Django is configured and before coverage starts:
    # the packages it would import would be measured as never run.
    code = (
        "import sys, gqlws_testing.plugin\n"
        "heavy = ('gqlws_protocol', 'gqlws_client', 'gqlws_server_channels', 'django')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
