"""`conformance_tests`: the checklist as parametrized pytest tests."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable

from ._options import SUBPROTOCOLS, ConformanceOptions, Target
from ._registry import ITEMS
from ._runner import run_conformance, select_items

__all__ = ["conformance_tests"]


def _is_factory(target: object) -> bool:
    # An ASGI application takes (scope, receive, send); a factory nothing.
    if isinstance(target, str) or not callable(target):
        return False
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )


def conformance_tests(
    target: Target | Callable[[], Target],
    *,
    subprotocols: Iterable[str] = SUBPROTOCOLS,
    only: Iterable[str] | None = None,
    options: ConformanceOptions | None = None,
) -> Callable[..., None]:
    """A pytest test function parametrized over the checklist items.

    Assign it to a `test_` name in a test module::

        test_conformance = conformance_tests(conformance_application())
        test_live = conformance_tests("live_server_url", subprotocols=["graphql-ws"])

    Each item is one test (`test_conformance[C.1.4]`): it fails with the
    item's message and frames, or is skipped with the reason. Each test
    runs its item on an event loop of its own.

    Args:
        target: an ASGI application, a ws:// or wss:// URL, the name of a
            fixture giving either, or a callable without arguments giving
            either (called in the test).
        subprotocols: which checklists: "graphql-transport-ws" (C.1),
            "graphql-ws" (C.2), or both (the default).
        only: only these item ids.
        options: the server's settings and documented choices.

    Returns:
        The test function.

    Raises:
        ValueError: an unknown subprotocol or item id.
    """
    import pytest

    items = select_items(subprotocols, only)

    def test_conformance(conformance_item: str, request: pytest.FixtureRequest) -> None:
        resolved: object = target
        if isinstance(resolved, str) and not resolved.startswith(("ws://", "wss://")):
            resolved = request.getfixturevalue(resolved)
        elif _is_factory(resolved):
            resolved = resolved()  # type: ignore[operator]
        entry = ITEMS[conformance_item]
        loop = asyncio.new_event_loop()
        try:
            report = loop.run_until_complete(
                run_conformance(
                    resolved,  # type: ignore[arg-type]
                    subprotocols=[entry.subprotocol],
                    only=[entry.id],
                    options=options,
                )
            )
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        result = report.items[0]
        if result.skipped:
            pytest.skip(f"{result.id} {result.title}: {result.message}")
        if result.failed:
            pytest.fail(f"{result.subprotocol}\n{result.render(frames=True)}", pytrace=False)

    parametrize = pytest.mark.parametrize("conformance_item", [entry.id for entry in items])
    return parametrize(test_conformance)
