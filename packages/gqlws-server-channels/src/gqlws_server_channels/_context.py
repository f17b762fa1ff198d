"""`info.context`: a dict usable as an object."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

__all__ = ["DictAsObject"]


class DictAsObject(MutableMapping[str, object]):
    """A dict whose keys are also attributes: `ctx["user"]` is `ctx.user`.

    Names starting with an underscore are real attributes of the wrapper and
    never enter the dict, so nothing private leaks into what resolvers see.

    Args:
        data: the dict to wrap (not copied); a new one when None.
    """

    # The two private slots are where the consumer keeps its own links, so
    # a context usually needs no `__dict__` at all.
    __slots__ = ("__dict__", "_data", "_gqlws_consumer", "_gqlws_op_id")

    _data: dict[str, object]

    def __init__(self, data: dict[str, object] | None = None) -> None:
        object.__setattr__(self, "_data", {} if data is None else data)

    def __getattr__(self, name: str) -> object:
        # Only called when normal lookup failed: private names and methods
        # are found before this.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"context has no key or attribute {name!r}") from None

    def __setattr__(self, name: str, value: object) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self._data[name] = value

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            object.__delattr__(self, name)
            return
        try:
            del self._data[name]
        except KeyError:
            raise AttributeError(f"context has no key or attribute {name!r}") from None

    def __getitem__(self, key: str) -> object:
        return self._data[key]

    def __setitem__(self, key: str, value: object) -> None:
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return repr(self._data)

    def __str__(self) -> str:
        return str(self._data)

    def _asdict(self) -> dict[str, object]:
        """The wrapped dict itself (not a copy)."""
        return self._data
