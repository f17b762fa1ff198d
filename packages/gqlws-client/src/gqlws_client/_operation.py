"""One operation's results, and the async iterator over a subscription."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
from gqlws_protocol import JsonObject, Subscribe

from ._errors import GraphqlWsError, GraphqlWsResponseError, clone_error

if TYPE_CHECKING:
    from ._client import GraphqlWsClient
    from ._session import Session

__all__ = ["GraphqlWsSubscription", "Operation", "has_errors"]


def has_errors(result: JsonObject) -> bool:
    """Whether an execution result carries a non-empty `errors` list."""
    errors = result.get("errors")
    return isinstance(errors, list) and bool(errors)


class Operation:
    """An operation the client started: its request and its result buffer.

    Results wait in a bounded buffer until someone takes them with `get()`;
    the end (complete, error, cancel) is kept apart so it is never dropped
    and is seen after the results that came before it.

    Args:
        subscribe: the request, sent again on every new connection while
            the operation is active and `resend` is true.
        resend: whether a new connection sends it again (subscriptions);
            otherwise losing the connection fails it.
        limit: how many results the buffer holds.
    """

    __slots__ = (
        "_done",
        "_error",
        "_limit",
        "_results",
        "_waiter",
        "dropped",
        "resend",
        "sent_on",
        "subscribe",
    )

    def __init__(self, subscribe: Subscribe, *, resend: bool, limit: int) -> None:
        self.subscribe = subscribe
        self.resend = resend
        #: The connection that last carried the request, if any.
        self.sent_on: Session | None = None
        #: How many results were dropped because the buffer was full.
        self.dropped = 0
        self._limit = limit
        self._results: deque[JsonObject] = deque()
        self._done = False
        self._error: BaseException | None = None
        self._waiter: anyio.Event | None = None

    @property
    def id(self) -> str:
        """The operation id."""
        return self.subscribe.id

    @property
    def buffered(self) -> int:
        """How many results wait, unread, in the buffer."""
        return len(self._results)

    @property
    def done(self) -> bool:
        """Whether the operation ended (completed, failed or cancelled)."""
        return self._done

    def push(self, result: JsonObject) -> bool:
        """Buffer one result; False (and nothing buffered) when full."""
        if self._done:
            return True
        if len(self._results) >= self._limit:
            return False
        self._results.append(result)
        self._wake()
        return True

    def drop_oldest(self) -> None:
        """Drop the oldest buffered result to make room."""
        if self._results:
            self._results.popleft()
            self.dropped += 1

    def finish(self) -> None:
        """Mark the operation completed; buffered results stay readable."""
        self._done = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        """End the operation with `error`, raised after the buffered results."""
        if self._done:
            return
        self._error = error
        self._done = True
        self._wake()

    def cancel(self) -> None:
        """End the operation on our side; its results are discarded."""
        self._results.clear()
        self.finish()

    async def get(self) -> JsonObject | None:
        """The next result, or None once the operation completed.

        Raises:
            GraphqlWsError: the operation failed (a copy of its error).
        """
        while True:
            if self._results:
                return self._results.popleft()
            if self._error is not None:
                raise clone_error(self._error)
            if self._done:
                return None
            # Shared by every task waiting here; `_wake` sets and drops it.
            if self._waiter is None:
                self._waiter = anyio.Event()
            await self._waiter.wait()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()


class GraphqlWsSubscription:
    """The results of one operation, as an async iterator.

    Made by `GraphqlWsClient.subscribe()`. The operation starts at the first
    `__anext__` (or on entering `async with`) and the iterator yields each
    result until the server completes it. Leaving a loop early cancels the
    operation (one `complete` / `stop` goes out): right away on CPython,
    where the iterator is released at the end of the loop; call `aclose()` or
    use `async with` to be explicit.

    A result carrying GraphQL `errors`, or an `error` message, raises
    `GraphqlWsResponseError` and ends the iteration. Connection failures
    raise the client's connection errors; while the client reconnects, the
    subscription is sent again and the iteration just waits.
    """

    def __init__(
        self,
        client: GraphqlWsClient,
        query: str,
        *,
        variables: Mapping[str, object] | None = None,
        operation_name: str | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        self._client = client
        self._request = (query, variables, operation_name, extensions)
        self._operation: Operation | None = None
        self._closed = False

    @property
    def id(self) -> str | None:
        """The operation id, or None before the operation started."""
        return None if self._operation is None else self._operation.id

    @property
    def dropped(self) -> int:
        """How many results the full buffer dropped (`overflow="drop_oldest"`)."""
        return 0 if self._operation is None else self._operation.dropped

    def _start(self) -> Operation:
        if self._operation is None:
            query, variables, operation_name, extensions = self._request
            self._operation = self._client._start_operation(
                query,
                variables=variables,
                operation_name=operation_name,
                extensions=extensions,
                msg_id=None,
                resend=True,
            )
        return self._operation

    def __aiter__(self) -> GraphqlWsSubscription:
        return self

    async def __anext__(self) -> JsonObject:
        if self._closed:
            raise StopAsyncIteration
        operation = self._start()
        try:
            result = await operation.get()
        except GraphqlWsError:
            self._closed = True
            raise
        if result is None:
            self._closed = True
            raise StopAsyncIteration
        if has_errors(result):
            self._cancel()
            raise GraphqlWsResponseError(result, operation_id=operation.id)
        return result

    def _cancel(self) -> None:
        self._closed = True
        operation = self._operation
        if operation is not None and not operation.done:
            self._client._cancel_operation(operation.id)

    async def aclose(self) -> None:
        """Stop the subscription: send `complete` (`stop`) if it is active.

        Idempotent; the iteration ends.
        """
        self._cancel()

    async def __aenter__(self) -> GraphqlWsSubscription:
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # A loop left early drops the last reference here; everything
        # `_cancel` does is synchronous, so it works from a finalizer.
        with contextlib.suppress(Exception):
            self._cancel()
