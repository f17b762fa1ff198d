"""The schema the conformance suite expects a server to serve.

The suite needs a few fields to provoke each behaviour of the checklist. A
server under test serves this schema (or one with the same fields; other
fields may exist beside them)::

    type Query {
      "Raises: the result carries `errors` beside `data`."
      fail: String
      "Sleeps `seconds`, then returns \\"done\\"."
      slow(seconds: Float!): String
      "Whether the `count` source started with this tag was closed (its
      generator's `finally` ran); null when no such source started."
      closed(tag: String!): Boolean
    }

    type Subscription {
      "Yields 0 .. to-1, `interval` seconds apart (the first at once), then ends."
      count(to: Int!, interval: Float = 0, tag: String): Int
      "Yields 0, then the source raises."
      oneThenFail: Int
    }

`{ __typename }` is asked too; every schema answers it. `closed(tag)` lets
the suite observe, through GraphQL and so over a live URL too, that a
client's `complete` (or close) reached the source of a subscription. Tags
are random per run; the registry keeps the latest `MAX_TAGS` of them.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator

import graphene

__all__ = ["MAX_TAGS", "SDL", "conformance_schema", "source_closed"]

#: How many tagged sources `closed(tag)` remembers.
MAX_TAGS = 10_000

#: The schema in SDL, as the suite expects it.
SDL = """\
type Query {
  fail: String
  slow(seconds: Float!): String
  closed(tag: String!): Boolean
}

type Subscription {
  count(to: Int!, interval: Float = 0, tag: String): Int
  oneThenFail: Int
}
"""

# tag -> whether the source's `finally` ran. Module state on purpose: the
# query that reads it may run on another connection than the subscription.
_sources: collections.OrderedDict[str, bool] = collections.OrderedDict()


def _remember(tag: str, closed: bool) -> None:
    _sources[tag] = closed
    _sources.move_to_end(tag)
    while len(_sources) > MAX_TAGS:
        _sources.popitem(last=False)


def source_closed(tag: str) -> bool | None:
    """Whether the `count` source tagged `tag` was closed.

    Args:
        tag: the `tag` argument the subscription was started with.

    Returns:
        True once the source's `finally` ran, False while it runs, None
        when no source with this tag started (in this process).
    """
    return _sources.get(tag)


class _Query(graphene.ObjectType):  # type: ignore[misc]
    class Meta:
        name = "Query"

    fail = graphene.String()
    slow = graphene.String(seconds=graphene.Float(required=True))
    closed = graphene.Boolean(tag=graphene.String(required=True))

    @staticmethod
    def resolve_fail(root: None, info: object) -> str:
        raise RuntimeError("fail: this resolver always raises")

    @staticmethod
    async def resolve_slow(root: None, info: object, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    @staticmethod
    def resolve_closed(root: None, info: object, tag: str) -> bool | None:
        return source_closed(tag)


class _Subscription(graphene.ObjectType):  # type: ignore[misc]
    class Meta:
        name = "Subscription"

    count = graphene.Int(
        to=graphene.Int(required=True),
        interval=graphene.Float(default_value=0),
        tag=graphene.String(),
    )
    one_then_fail = graphene.Int()

    @staticmethod
    async def subscribe_count(
        root: None, info: object, to: int, interval: float = 0, tag: str | None = None
    ) -> AsyncIterator[int]:
        if tag is not None:
            _remember(tag, False)
        try:
            for i in range(to):
                if i and interval:
                    await asyncio.sleep(interval)
                yield i
        finally:
            # Runs on the end of the stream, on cancellation (the client's
            # `complete` / `stop`, a close) and on `aclose()`.
            if tag is not None:
                _remember(tag, True)

    @staticmethod
    def resolve_count(root: int, info: object, **kwargs: object) -> int:
        return root

    @staticmethod
    async def subscribe_one_then_fail(root: None, info: object) -> AsyncIterator[int]:
        yield 0
        raise RuntimeError("oneThenFail: the source raised after one event")

    @staticmethod
    def resolve_one_then_fail(root: int, info: object) -> int:
        return root


#: The schema as a `graphene.Schema`.
conformance_schema = graphene.Schema(query=_Query, subscription=_Subscription)
