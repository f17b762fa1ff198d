"""A small GraphQL-over-WebSocket client on `websockets`, for the example
tests: both subprotocols, results per operation id, nothing hidden.

It sends an `Origin` header like a browser does; the example checks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

MODERN = "graphql-transport-ws"
LEGACY = "graphql-ws"
STEP = 10.0  # seconds any single exchange may take


class OperationError(Exception):
    """The server answered an operation with an `error` message."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


class GraphqlWs:
    """One connection; `open()` connects and initialises it."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.subprotocol = socket.subprotocol
        self._ids = itertools.count(1)
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._acked = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        url: str,
        *,
        origin: str | None,
        subprotocol: str = MODERN,
        cookie: str | None = None,
    ) -> AsyncIterator[GraphqlWs]:
        """Connect, send `connection_init`, wait for the ack."""
        headers = {"Cookie": cookie} if cookie else None
        async with connect(
            url,
            subprotocols=[Subprotocol(subprotocol)],
            origin=Origin(origin) if origin else None,
            additional_headers=headers,
            open_timeout=STEP,
        ) as socket:
            client = cls(socket)
            try:
                await client._send({"type": "connection_init", "payload": {}})
                await asyncio.wait_for(asyncio.shield(client._acked), STEP)
                yield client
            finally:
                client._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await client._reader

    async def _send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def _read(self) -> None:
        try:
            async for text in self.socket:
                message = json.loads(text)
                kind = message.get("type")
                if kind == "connection_ack":
                    self._acked.set_result(None)
                elif kind == "ping":
                    await self._send({"type": "pong"})
                elif "id" in message:
                    self._queue(message["id"]).put_nowait(message)
        except ConnectionClosed:
            pass
        finally:
            if not self._acked.done():
                self._acked.set_exception(ConnectionError("closed before connection_ack"))

    def _queue(self, op_id: str) -> asyncio.Queue[dict[str, Any]]:
        return self._queues.setdefault(op_id, asyncio.Queue())

    async def start(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        operation_name: str | None = None,
    ) -> str:
        """Send an operation; its id."""
        op_id = str(next(self._ids))
        kind = "subscribe" if self.subprotocol == MODERN else "start"
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        if operation_name is not None:
            payload["operationName"] = operation_name
        self._queue(op_id)
        await self._send({"type": kind, "id": op_id, "payload": payload})
        return op_id

    async def stop(self, op_id: str) -> None:
        """End an operation from this side."""
        await self._send(
            {"type": "complete" if self.subprotocol == MODERN else "stop", "id": op_id}
        )

    async def receive(self, op_id: str, timeout: float = STEP) -> dict[str, Any]:
        """The next message for an operation (`next`/`data`, `error`, `complete`)."""
        return await asyncio.wait_for(self._queue(op_id).get(), timeout)

    async def result(self, op_id: str, timeout: float = STEP) -> dict[str, Any]:
        """The next result of an operation; `OperationError` on `error`."""
        message = await self.receive(op_id, timeout)
        if message["type"] == "error":
            payload = message["payload"]
            raise OperationError(payload if isinstance(payload, list) else [payload])
        assert message["type"] in {"next", "data"}, message
        result: dict[str, Any] = message["payload"]
        return result

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        """Run a query or mutation; its `data` (errors raise)."""
        op_id = await self.start(query, variables, operation_name=operation_name)
        result = await self.result(op_id)
        assert not result.get("errors"), result
        end = await self.receive(op_id)
        assert end["type"] == "complete", end
        data: dict[str, Any] = result["data"]
        return data

    def pending(self, op_id: str) -> int:
        """Messages received for an operation and not read yet."""
        return self._queue(op_id).qsize()
