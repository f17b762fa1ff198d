"""The checklist items: id, title, subprotocol, and the check itself."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from ._probe import Probe

__all__ = ["ITEMS", "Item", "item", "item_ids"]

Check = Callable[[Probe], Awaitable["str | None"]]


@dataclasses.dataclass(frozen=True)
class Item:
    """One item of reference/protocols.md section C.

    Attributes:
        id: "C.1.n" (graphql-transport-ws) or "C.2.n" (graphql-ws).
        title: what it checks, in a few words.
        subprotocol: the subprotocol it runs on.
        check: the coroutine function running it; it raises `ItemFailed`
            or `ItemSkipped`, or returns a note for a pass.
    """

    id: str
    title: str
    subprotocol: str
    check: Check

    @property
    def number(self) -> tuple[int, ...]:
        """The id as numbers, for sorting."""
        return tuple(int(part) for part in self.id[2:].split("."))


ITEMS: dict[str, Item] = {}


def item(item_id: str, title: str, subprotocol: str) -> Callable[[Check], Check]:
    """Register a check as the item `item_id`.

    Raises:
        ValueError: the id is registered already.
    """

    def register(check: Check) -> Check:
        if item_id in ITEMS:
            raise ValueError(f"item {item_id!r} is registered twice")
        ITEMS[item_id] = Item(item_id, title, subprotocol, check)
        return check

    return register


def item_ids() -> list[str]:
    """Every registered item id, in checklist order."""
    return [entry.id for entry in sorted(ITEMS.values(), key=lambda entry: entry.number)]
