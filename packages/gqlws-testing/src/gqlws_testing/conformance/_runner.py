"""`run_conformance`: run the checklist against an application or a URL."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Sequence

from . import _legacy, _modern  # noqa: F401  (they register the items)
from ._options import SUBPROTOCOLS, ConformanceOptions, Target
from ._probe import ItemFailed, ItemSkipped, Opener, Probe
from ._registry import ITEMS, Item, item_ids
from ._report import ConformanceReport, ItemResult, Outcome
from ._sockets import open_asgi, open_url

__all__ = ["describe_target", "run_conformance", "select_items"]


def describe_target(target: Target, options: ConformanceOptions) -> str:
    """How a report names its target.

    Args:
        target: a URL or an ASGI application.
        options: the run's options (the path of an application).

    Returns:
        The URL, or "ASGI application <name> at <path>".
    """
    if isinstance(target, str):
        return target
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"ASGI application {name} at {options.path}"


def select_items(
    subprotocols: Iterable[str] = SUBPROTOCOLS, only: Iterable[str] | None = None
) -> list[Item]:
    """The items to run, in checklist order.

    Args:
        subprotocols: run the items of these subprotocols (C.1 is
            graphql-transport-ws, C.2 graphql-ws).
        only: item ids to keep; None keeps all.

    Returns:
        The items.

    Raises:
        ValueError: an unknown subprotocol or item id.
    """
    chosen = list(subprotocols)
    for subprotocol in chosen:
        if subprotocol not in SUBPROTOCOLS:
            raise ValueError(
                f"unknown subprotocol {subprotocol!r}; expected one of {SUBPROTOCOLS}"
            )
    wanted = None if only is None else set(only)
    if wanted is not None:
        unknown = sorted(wanted - set(ITEMS))
        if unknown:
            raise ValueError(f"unknown item ids {unknown}; known ids are C.1.1 to C.2.12")
    return [
        ITEMS[item_id]
        for item_id in item_ids()
        if ITEMS[item_id].subprotocol in chosen and (wanted is None or item_id in wanted)
    ]


def _opener(target: Target, options: ConformanceOptions) -> Opener:
    headers = dict(options.headers)
    if isinstance(target, str):
        return functools.partial(open_url, target, headers=headers, timeout=options.timeout)
    return functools.partial(
        open_asgi, target, options.path, headers=headers, timeout=options.timeout
    )


def _budget(options: ConformanceOptions) -> float:
    # The longest an item may take before it is failed: a few dozen waits.
    return (
        30 * options.timeout
        + 10 * options.quiet
        + 2 * (options.init_timeout or 0)
        + 6 * (options.keepalive or 0)
        + 5
    )


async def run_item(
    item: Item, opener: Opener, options: ConformanceOptions, earlier: Sequence[ItemResult]
) -> ItemResult:
    """Run one item; never raises for what the server does.

    Args:
        item: the item.
        opener: opens raw sockets to the target.
        options: the run's options.
        earlier: results of the items already run (C.1.24 reads their
            close reasons).

    Returns:
        Its result.
    """
    probe = Probe(opener, item.subprotocol, options, earlier)
    outcome, message = Outcome.PASS, ""
    budget = _budget(options)
    try:
        note = await asyncio.wait_for(item.check(probe), budget)
    except ItemFailed as exc:
        outcome, message = Outcome.FAIL, str(exc)
    except ItemSkipped as exc:
        outcome, message = Outcome.SKIP, str(exc)
    except asyncio.TimeoutError:
        outcome, message = Outcome.FAIL, f"the item did not finish within {budget:g} s"
    except OSError as exc:
        outcome, message = Outcome.FAIL, f"connection failed: {exc}"
    else:
        if probe.failures:
            outcome, message = Outcome.FAIL, "; ".join(probe.failures)
        elif probe.skips:
            outcome, message = Outcome.SKIP, "; ".join(probe.skips) + " (the rest passed)"
        else:
            message = note or ""
    finally:
        await probe.aclose()
    return ItemResult(
        id=item.id,
        title=item.title,
        subprotocol=item.subprotocol,
        outcome=outcome,
        message=message,
        frames=tuple(probe.frames),
        duration=probe.now(),
    )


async def run_conformance(
    target: Target,
    *,
    subprotocols: Iterable[str] = SUBPROTOCOLS,
    only: Iterable[str] | None = None,
    options: ConformanceOptions | None = None,
) -> ConformanceReport:
    """Run the server checklist (reference/protocols.md C.1 and C.2).

    Each item opens fresh sockets, sends its stimuli and compares what it
    receives with what the checklist expects; every wait is bounded by the
    options.

    Args:
        target: a ws:// or wss:// URL, or an ASGI application (run
            in-process; Django must be configured for a Channels one).
        subprotocols: which checklists to run: "graphql-transport-ws"
            (C.1), "graphql-ws" (C.2), or both (the default).
        only: run only these item ids, e.g. `["C.1.4", "C.2.3"]`.
        options: the server's settings and documented choices; the
            defaults describe `ConformanceConsumer`.

    Returns:
        The report, items in checklist order.

    Raises:
        ValueError: an unknown subprotocol or item id, or a string target
            that is not a ws:// or wss:// URL.
    """
    options = options or ConformanceOptions()
    if isinstance(target, str) and not target.startswith(("ws://", "wss://")):
        raise ValueError(f"a target string must be a ws:// or wss:// URL, got {target!r}")
    items = select_items(subprotocols, only)
    opener = _opener(target, options)
    results: dict[str, ItemResult] = {}
    finished: list[ItemResult] = []
    semaphore = asyncio.Semaphore(options.concurrency)

    async def run(entry: Item) -> None:
        async with semaphore:
            result = await run_item(entry, opener, options, tuple(finished))
        results[entry.id] = result
        finished.append(result)

    await asyncio.gather(*(run(entry) for entry in items))
    return ConformanceReport(
        describe_target(target, options), tuple(results[entry.id] for entry in items)
    )
