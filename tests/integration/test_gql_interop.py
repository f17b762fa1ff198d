"""Interop: the third-party `gql` client against a real server process.

Every test runs against uvicorn and daphne (the `server` fixture) and over
each transport and subprotocol gql has: `WebsocketsTransport` and
`AIOHTTPWebsocketsTransport`, each with graphql-transport-ws and with the
legacy graphql-ws. The server confirms subscriptions with `{"data": null}`;
gql's session API drops results without data, so the tests that must know
when a subscription is live iterate the transport's own `subscribe()`, which
yields every result, the confirmation first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any, TypeVar

import pytest
from gql import Client, GraphQLRequest, gql
from gql.client import AsyncClientSession
from gql.transport.aiohttp_websockets import AIOHTTPWebsocketsTransport
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from gql.transport.websockets_protocol import WebsocketsProtocolTransportBase
from graphql import ExecutionResult, GraphQLError

from .conftest import LiveServer

T = TypeVar("T")

MODERN = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL  # "graphql-transport-ws"
LEGACY = WebsocketsTransport.APOLLO_SUBPROTOCOL  # "graphql-ws"
STEP = 10.0  # seconds any single exchange may take

pytestmark = pytest.mark.timeout(60)


class _Recording(WebsocketsProtocolTransportBase):
    """Keeps every frame the server sent, decoded, in `received`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()

    async def _receive(self) -> str:
        answer = await super()._receive()
        self.received.append(json.loads(answer))
        self._arrived.set()
        return answer

    async def wait_frame(self, kind: str, op_id: int) -> dict[str, Any]:
        """The first frame of type `kind` for `op_id`, once it arrived."""
        while not (found := self.frames(kind, op_id)):
            self._arrived.clear()
            await self._arrived.wait()
        return found[0]

    def frames(self, kind: str, op_id: int) -> list[dict[str, Any]]:
        """The frames of type `kind` the server sent for operation `op_id`."""
        return [f for f in self.received if f.get("type") == kind and f.get("id") == str(op_id)]


class RecordingWebsocketsTransport(_Recording, WebsocketsTransport):
    """`WebsocketsTransport` keeping the frames it received."""


class RecordingAiohttpTransport(_Recording, AIOHTTPWebsocketsTransport):
    """`AIOHTTPWebsocketsTransport` keeping the frames it received."""


TRANSPORTS: dict[str, type[_Recording]] = {
    "websockets": RecordingWebsocketsTransport,
    "aiohttp": RecordingAiohttpTransport,
}


@dataclasses.dataclass
class Connector:
    """Opens gql sessions to one server with one transport and subprotocol."""

    url: str
    transport_name: str
    subprotocol: str

    def transport(self) -> _Recording:
        cls = TRANSPORTS[self.transport_name]
        return cls(
            self.url,
            subprotocols=[self.subprotocol],
            connect_timeout=STEP,
            ack_timeout=STEP,
            close_timeout=STEP,
        )

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[tuple[AsyncClientSession, _Recording]]:
        transport = self.transport()
        client = Client(transport=transport, execute_timeout=STEP)
        async with client as session:
            assert isinstance(session, AsyncClientSession)
            # The server took the one subprotocol offered.
            assert transport.subprotocol == self.subprotocol
            yield session, transport


@pytest.fixture(
    params=[
        ("websockets", MODERN),
        ("websockets", LEGACY),
        ("aiohttp", MODERN),
        ("aiohttp", LEGACY),
    ],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def connector(request: pytest.FixtureRequest, server: LiveServer) -> Connector:
    transport_name, subprotocol = request.param
    return Connector(server.url, transport_name, subprotocol)


async def within(aw: Awaitable[T], seconds: float = STEP) -> T:
    return await asyncio.wait_for(aw, seconds)


def room() -> str:
    """A room no other test uses: the server process is shared."""
    return f"room-{uuid.uuid4().hex}"


def send_mutation(room_name: str, text: str, sender: str = "tester") -> GraphQLRequest:
    return GraphQLRequest(
        "mutation Send($room: String!, $text: String!, $sender: String) "
        "{ send(room: $room, text: $text, sender: $sender) { ok } }",
        variable_values={"room": room_name, "text": text, "sender": sender},
    )


def on_message(room_name: str) -> GraphQLRequest:
    return GraphQLRequest(
        "subscription OnMessage($room: String!) { onMessage(room: $room) { room text sender } }",
        variable_values={"room": room_name},
    )


class RawRequest(GraphQLRequest):
    """A request whose text goes to the server as is: gql parses documents
    itself and would refuse a syntax error before sending it."""

    def __init__(self, text: str) -> None:
        super().__init__("{ __typename }")
        self.text = text

    @property
    def payload(self) -> dict[str, Any]:
        return {"query": self.text}


async def live(
    transport: _Recording, request: GraphQLRequest
) -> AsyncGenerator[ExecutionResult, None]:
    """Subscribe and return once the server confirmed the subscription live."""
    results = transport.subscribe(request)
    confirmation = await within(anext(results))
    assert confirmation.data is None
    assert confirmation.errors is None
    return results


async def take(results: AsyncIterator[ExecutionResult], count: int) -> list[ExecutionResult]:
    async def collect() -> list[ExecutionResult]:
        got = []
        async for result in results:
            got.append(result)
            if len(got) == count:
                break
        return got

    return await within(collect())


# Queries and mutations.


@pytest.mark.asyncio
async def test_query(connector: Connector) -> None:
    async with connector.session() as (session, _):
        assert await session.execute(gql('{ hello(name: "x") }')) == {"hello": "Hello, x!"}
        assert await session.execute(gql("{ hello asyncHello }")) == {
            "hello": "Hello, world!",
            "asyncHello": "Hello, world!",
        }
        request = GraphQLRequest(
            "query A { hello } query B($n: String) { asyncHello(name: $n) }",
            variable_values={"n": "vars"},
            operation_name="B",
        )
        assert await session.execute(request) == {"asyncHello": "Hello, vars!"}


@pytest.mark.asyncio
async def test_mutation(connector: Connector) -> None:
    async with connector.session() as (session, _):
        result = await session.execute(send_mutation(room(), "hi"))
        assert result == {"send": {"ok": True}}


@pytest.mark.asyncio
async def test_queries_run_concurrently(connector: Connector) -> None:
    async with connector.session() as (session, _):
        request = gql("{ slow(seconds: 0.3) }")
        started = time.monotonic()
        results = await within(asyncio.gather(*(session.execute(request) for _ in range(10))))
        elapsed = time.monotonic() - started
        assert results == [{"slow": "done"}] * 10
        # Ten operations of 0.3 s on one connection, not one after the other.
        assert elapsed < 2.0, elapsed


# Subscriptions.


@pytest.mark.asyncio
async def test_subscription_completes(connector: Connector) -> None:
    async with connector.session() as (session, transport):
        request = gql("subscription { count(upto: 5) }")
        # The session API hides the `{"data": null}` confirmation.
        got = [r async for r in session.subscribe(request)]
        assert got == [{"count": i} for i in range(5)]
        # The transport shows it, before the results, and the stream ends.
        results = [r async for r in transport.subscribe(request)]
        assert [r.data for r in results] == [None, *({"count": i} for i in range(5))]
        assert all(r.errors is None for r in results)


@pytest.mark.asyncio
@pytest.mark.parametrize("sender", ["same-session", "other-session"])
async def test_hundred_broadcasts_in_order(connector: Connector, sender: str) -> None:
    name = room()
    texts = [f"message {i}" for i in range(100)]
    async with connector.session() as (session, transport):
        results = await live(transport, on_message(name))
        try:
            async with contextlib.AsyncExitStack() as stack:
                if sender == "same-session":
                    sending = session
                else:
                    sending, _ = await stack.enter_async_context(connector.session())
                for text in texts:
                    result = await sending.execute(send_mutation(name, text))
                    assert result == {"send": {"ok": True}}
            got = await take(results, 100)
        finally:
            await results.aclose()
        assert [r.errors for r in got] == [None] * 100
        assert [r.data for r in got] == [
            {"onMessage": {"room": name, "text": text, "sender": "tester"}} for text in texts
        ]


@pytest.mark.asyncio
async def test_cancel_then_query_and_restart(connector: Connector) -> None:
    name = room()
    async with connector.session() as (session, transport):
        results = await live(transport, on_message(name))
        for i in range(5):
            await session.execute(send_mutation(name, f"first {i}"))
        got = []
        # Breaking out stops the subscription: gql sends `complete` (stop).
        async with contextlib.aclosing(results):
            async for result in results:
                assert result.data is not None
                got.append(result.data["onMessage"]["text"])
                if len(got) == 3:
                    break
        assert got == ["first 0", "first 1", "first 2"]
        first_id = 1  # gql numbers the operations of a connection from 1

        # The connection still serves a query.
        assert await session.execute(gql("{ hello }")) == {"hello": "Hello, world!"}
        if connector.subprotocol == LEGACY:
            # graphql-ws answers `stop` with `complete`.
            await within(transport.wait_frame("complete", first_id))

        # A new subscription to the same room starts and gets what is sent now.
        results = await live(transport, on_message(name))
        try:
            await session.execute(send_mutation(name, "second"))
            (result,) = await take(results, 1)
            assert result.data == {
                "onMessage": {"room": name, "text": "second", "sender": "tester"}
            }
        finally:
            await results.aclose()
        # A round trip, so that a late notification would have arrived.
        assert await session.execute(gql("{ hello }")) == {"hello": "Hello, world!"}
        # The first subscription got nothing after it was cancelled but what
        # was already on its way (5 sent, 3 read): never "second".
        first = [f["payload"]["data"] for f in transport.frames(_next(connector), first_id)]
        assert first[0] is None  # the confirmation
        texts = [d["onMessage"]["text"] for d in first[1:]]
        assert texts == [f"first {i}" for i in range(len(texts))]
        assert 3 <= len(texts) <= 5


@pytest.mark.asyncio
async def test_break_out_of_long_stream(connector: Connector) -> None:
    upto = 1_000_000
    async with connector.session() as (session, transport):
        got = []
        # No aclosing: gql stops the operation when the generator is dropped.
        async for data in session.subscribe(gql(f"subscription {{ count(upto: {upto}) }}")):
            got.append(data["count"])
            if len(got) == 3:
                break
        assert got == [0, 1, 2]
        assert await within(session.execute(gql('{ hello(name: "again") }'))) == {
            "hello": "Hello, again!"
        }
        if connector.subprotocol == LEGACY:
            # The `stop` gql sent when the generator was dropped arrived.
            await within(transport.wait_frame("complete", 1))

        # The server stopped producing: the count of frames for the first
        # operation settles well before `upto`.
        async def settled() -> int:
            seen = -1
            while (now := len(transport.frames(_next(connector), 1))) != seen:
                seen = now
                await asyncio.sleep(0.3)
            return seen

        assert await within(settled()) < upto

        restarted = [d async for d in session.subscribe(gql("subscription { count(upto: 3) }"))]
        assert restarted == [{"count": 0}, {"count": 1}, {"count": 2}]


# Errors.


@pytest.mark.asyncio
@pytest.mark.parametrize("transport_name", sorted(TRANSPORTS))
async def test_unknown_subprotocol_refused(server: LiveServer, transport_name: str) -> None:
    transport = TRANSPORTS[transport_name](
        server.url, subprotocols=["graphql-nonsense"], connect_timeout=STEP
    )
    with pytest.raises(TransportConnectionFailed):
        await within(Client(transport=transport).connect_async())


@pytest.mark.asyncio
async def test_validation_error(connector: Connector) -> None:
    async with connector.session() as (session, _):
        with pytest.raises(TransportQueryError) as info:
            await session.execute(gql("{ nope }"))
        message = "Cannot query field 'nope' on type 'Query'."
        assert info.value.errors is not None
        assert info.value.errors[0]["message"] == message
        assert message in str(info.value)
        # An `error` ends the operation, not the connection.
        assert await session.execute(gql("{ hello }")) == {"hello": "Hello, world!"}


@pytest.mark.asyncio
async def test_resolver_error(connector: Connector) -> None:
    async with connector.session() as (session, _):
        with pytest.raises(TransportQueryError) as info:
            await session.execute(gql("{ fail hello }"))
        # A result with data and errors, not an `error` message.
        assert info.value.data == {"fail": None, "hello": "Hello, world!"}
        assert info.value.errors is not None
        (error,) = info.value.errors
        assert error["message"] == "resolver exploded"
        assert error["path"] == ["fail"]
        assert await session.execute(gql("{ hello }")) == {"hello": "Hello, world!"}


@pytest.mark.asyncio
async def test_syntax_error(connector: Connector) -> None:
    # gql refuses it before sending anything.
    with pytest.raises(GraphQLError, match="Syntax Error"):
        gql("{ hello(")
    async with connector.session() as (session, _):
        with pytest.raises(TransportQueryError) as info:
            await session.execute(RawRequest("{ hello("))
        assert info.value.errors is not None
        assert info.value.errors[0]["message"] == "Syntax Error: Expected Name, found <EOF>."
        assert await session.execute(gql("{ hello }")) == {"hello": "Hello, world!"}


@pytest.mark.asyncio
async def test_subscription_error(connector: Connector) -> None:
    async with connector.session() as (session, _):
        with pytest.raises(TransportQueryError) as info:
            async for _ in session.subscribe(gql("subscription { badGroups { value } }")):
                pytest.fail("a subscription whose subscribe() failed sent a result")
        assert info.value.errors is not None
        assert info.value.errors[0]["message"].startswith(
            "subscribe() of BadGroups must return a list or tuple of group names"
        )
        assert await session.execute(gql("{ hello }")) == {"hello": "Hello, world!"}


def _next(connector: Connector) -> str:
    return "next" if connector.subprotocol == MODERN else "data"
