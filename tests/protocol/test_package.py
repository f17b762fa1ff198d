"""The package surface: no IO imports, a curated sorted `__all__`, docstrings."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys

import gqlws_protocol

FORBIDDEN = ("asyncio", "trio", "aiohttp", "channels", "django", "graphql")
PRIVATE_MODULES = (
    "_client",
    "_codec",
    "_config",
    "_errors",
    "_events",
    "_machine",
    "_negotiate",
    "_server",
)


def test_importing_the_core_imports_no_io_or_graphql_library() -> None:
    code = (
        "import sys, json\n"
        "import gqlws_protocol\n"
        f"bad = {FORBIDDEN!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "    if m.split('.')[0] in bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_the_forbidden_check_would_see_an_import() -> None:
    # The subprocess check above can fail: the same probe sees asyncio when
    # it is imported.
    code = "import sys, asyncio, gqlws_protocol; print('asyncio' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"


def _ruff_sort_key(name: str) -> tuple[int, list[object]]:
    # RUF022 "isort-style": SCREAMING_SNAKE_CASE first, then CamelCase, then
    # the rest; a natural sort (runs of digits compare as numbers) within each.
    if name.isupper():
        category = 0
    elif name[:1].isupper():
        category = 1
    else:
        category = 2
    parts: list[object] = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]
    return category, parts


def test_all_is_sorted_like_ruff_wants_it() -> None:
    names = list(gqlws_protocol.__all__)
    assert names == sorted(names, key=_ruff_sort_key)
    assert len(set(names)) == len(names)


def test_all_names_exist_and_every_private_export_is_re_exported() -> None:
    public = set(gqlws_protocol.__all__)
    for name in public:
        assert hasattr(gqlws_protocol, name), name
    for module_name in PRIVATE_MODULES:
        module = importlib.import_module(f"gqlws_protocol.{module_name}")
        exported = set(module.__all__)
        assert exported <= public, (module_name, exported - public)
        for name in exported:
            assert getattr(gqlws_protocol, name) is getattr(module, name)


def test_public_names_are_exactly_what_the_package_defines() -> None:
    defined = {
        name
        for name, value in vars(gqlws_protocol).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert defined | {"__version__"} == set(gqlws_protocol.__all__)


def test_every_exported_class_and_function_has_a_docstring() -> None:
    for name in gqlws_protocol.__all__:
        value = getattr(gqlws_protocol, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            doc = inspect.getdoc(value)
            assert doc, f"{name} has no docstring"
            if inspect.isclass(value):
                _check_method_docstrings(name, value)


def _check_method_docstrings(name: str, cls: type) -> None:
    # Public methods and properties, inherited ones included (the machines
    # share theirs), are documented too.
    for klass in cls.__mro__:
        if not klass.__module__.startswith("gqlws_protocol"):
            continue
        for attr, member in vars(klass).items():
            if attr.startswith("_"):
                continue
            if inspect.isfunction(member) or isinstance(member, property):
                assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def test_version_is_a_string() -> None:
    assert isinstance(gqlws_protocol.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", gqlws_protocol.__version__)
