"""A finding of the interop suite, reproduced in process and deterministically.

When a client stops a subscription (or disconnects) while the server executes
a result for it, the server's log gets `RuntimeWarning: coroutine 'run_sync'
was never awaited` (and `coroutine 'Subscription._publish_resolver.<locals>.
resolve' was never awaited`). Seen in the uvicorn process of the interop suite
during its cancel tests.

Why: the offload middleware (`gqlws_server_channels/_execution.py`,
`offload_sync_resolvers`) creates the `run_sync(...)` coroutine at once, while
graphql-core builds the execution; graphql-core then awaits the fields through
`asyncio.gather`, which wraps them in tasks that start one loop iteration
later. A cancel in between (`task.cancel()` in `GraphqlWsConsumer.
websocket_receive` on `complete`/`stop`, in `_end_subscription`, in
`websocket_disconnect`) cancels those tasks before they start, and the
coroutine the middleware made is dropped without ever being awaited.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from gqlws_server_channels._execution import make_offload_middleware
from graphql import MiddlewareManager, execute, parse

from tests.server.schema import schema


@pytest.mark.asyncio
async def test_cancelled_execution_leaves_no_unawaited_coroutine() -> None:
    executor = ThreadPoolExecutor(1)
    # What `GraphqlWsConsumer._middleware_managers` gives graphql-core.
    middleware = MiddlewareManager(make_offload_middleware(lambda: executor))
    document = parse("{ hello }")  # a sync resolver: offloaded to `executor`

    async def run() -> object:
        result = execute(schema.graphql_schema, document, middleware=middleware)
        assert inspect.isawaitable(result)
        return await result

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            task = asyncio.ensure_future(run())
            # One step: the task runs up to graphql-core's `gather`, whose
            # field task is scheduled but not started.
            await asyncio.sleep(0)
            # What a client `complete` or a disconnect does to the operation.
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            del task
            # Let the loop drop the cancelled field task, then collect.
            for _ in range(3):
                await asyncio.sleep(0)
                gc.collect()
    finally:
        executor.shutdown()
    unawaited = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert unawaited == []
