"""The client against a server no one in this project wrote.

strawberry-graphql's Channels consumer (`strawberry_app`) under uvicorn in a
subprocess; every test runs under asyncio (aiohttp) and trio
(trio-websocket), over both subprotocols.
"""

from __future__ import annotations

import anyio
import pytest
from gqlws_client import (
    ConnectionRejectedError,
    GraphqlWsClient,
    GraphqlWsResponseError,
)

from .conftest import TransportFactory

pytestmark = pytest.mark.anyio

TIMEOUT = 10
SUBPROTOCOLS = ["graphql-transport-ws", "graphql-ws"]


@pytest.fixture(params=SUBPROTOCOLS)
def subprotocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_query_mutation_subscription(
    make_transport: TransportFactory, strawberry_url: str, subprotocol: str
) -> None:
    transport = make_transport(f"{strawberry_url}/graphql")
    with anyio.fail_after(TIMEOUT):
        async with GraphqlWsClient(transport, subprotocol=subprotocol) as client:
            assert client.subprotocol == subprotocol
            results = [r async for r in client.subscribe("subscription { count(to: 4) }")]
            assert results == [{"data": {"count": i}} for i in range(4)]
            query = "query Hi($name: String!) { hello(name: $name) }"
            if subprotocol == "graphql-ws":
                # Strawberry's legacy handler runs subscriptions only.
                with pytest.raises(GraphqlWsResponseError, match="queries are not allowed"):
                    await client.execute(query, {"name": "ann"})
                return
            result = await client.execute(query, {"name": "ann"}, operation_name="Hi")
            assert result == {"data": {"hello": "hello ann"}}
            result = await client.execute("mutation { add(a: 2, b: 3) }")
            assert result == {"data": {"add": 5}}


async def test_cancel_stops_the_server_stream(
    make_transport: TransportFactory, strawberry_url: str, subprotocol: str
) -> None:
    transport = make_transport(f"{strawberry_url}/graphql")
    with anyio.fail_after(TIMEOUT):
        async with (
            GraphqlWsClient(transport, subprotocol=subprotocol) as client,
            client.subscribe("subscription { stopped }") as stopped,
        ):
            assert await stopped.__anext__() == {"data": {"stopped": "listening"}}
            ticks = []
            async for result in client.subscribe('subscription { ticks(name: "t1") }'):
                ticks.append(result)
                if len(ticks) == 3:
                    break
            assert ticks == [{"data": {"ticks": i}} for i in range(3)]
            # Leaving the loop sent `complete` / `stop`: the server closed
            # the stream (its `finally` ran).
            assert await stopped.__anext__() == {"data": {"stopped": "t1"}}


async def test_errors(
    make_transport: TransportFactory, strawberry_url: str, subprotocol: str
) -> None:
    transport = make_transport(f"{strawberry_url}/graphql")
    with anyio.fail_after(TIMEOUT):
        async with GraphqlWsClient(transport, subprotocol=subprotocol) as client:
            # Validation error: an `error` message (one object on graphql-ws).
            with pytest.raises(GraphqlWsResponseError) as info:
                async for _ in client.subscribe("subscription { nope }"):
                    pass
            assert len(info.value.errors) == 1
            assert "nope" in str(info.value.errors[0]["message"])
            # A stream that breaks after one event.
            results = []
            with pytest.raises(GraphqlWsResponseError) as info:
                async for result in client.subscribe("subscription { breaks }"):
                    results.append(result)
            assert results == [{"data": {"breaks": 1}}]
            assert "the stream broke" in str(info.value.errors[0]["message"])
            if subprotocol == "graphql-transport-ws":
                # Resolver error: a result carrying `errors` and partial data.
                with pytest.raises(GraphqlWsResponseError) as info:
                    await client.execute("{ partial fails }")
                assert info.value.errors[0]["message"] == "this field always fails"
                assert info.value.errors[0]["path"] == ["fails"]
            # The connection is still fine.
            assert [r async for r in client.subscribe("subscription { count(to: 1) }")]


async def test_connection_params_headers_cookies(
    make_transport: TransportFactory, strawberry_url: str, subprotocol: str
) -> None:
    transport = make_transport(
        f"{strawberry_url}/graphql", headers={"X-Token": "abc"}, cookies={"sessionid": "s1"}
    )
    client = GraphqlWsClient(
        transport, subprotocol=subprotocol, connection_params={"token": "t", "n": 1}
    )
    with anyio.fail_after(TIMEOUT):
        async with client:
            token = [
                r async for r in client.subscribe('subscription { context(header: "x-token") }')
            ]
            cookie = [
                r async for r in client.subscribe('subscription { context(header: "cookie") }')
            ]
    params = {"token": "t", "n": 1}
    assert token == [{"data": {"context": {"params": params, "header": "abc"}}}]
    assert cookie == [{"data": {"context": {"params": params, "header": "sessionid=s1"}}}]


async def test_rejection_and_ack_payload(
    make_transport: TransportFactory, strawberry_url: str, subprotocol: str
) -> None:
    url = f"{strawberry_url}/auth"
    with anyio.fail_after(TIMEOUT):
        client = GraphqlWsClient(
            make_transport(url),
            subprotocol=subprotocol,
            connection_params={"token": "wrong"},
            reconnect=True,
        )
        with pytest.raises(ConnectionRejectedError) as info:
            await client.__aenter__()
        if subprotocol == "graphql-transport-ws":
            assert (info.value.code, info.value.reason) == (4403, "Forbidden")
        else:
            assert info.value.payload == {"message": "bad token"}
        client = GraphqlWsClient(
            make_transport(url), subprotocol=subprotocol, connection_params={"token": "secret"}
        )
        async with client:
            assert client.ack_payload == {"user": "ann"}
            assert [r async for r in client.subscribe("subscription { count(to: 1) }")]


@pytest.mark.parametrize(
    ("offer", "spoken"),
    [
        (("graphql-transport-ws", "graphql-ws"), "graphql-transport-ws"),
        (("graphql-ws", "graphql-transport-ws"), "graphql-ws"),
    ],
)
async def test_both_offered(
    make_transport: TransportFactory,
    strawberry_url: str,
    offer: tuple[str, str],
    spoken: str,
) -> None:
    # Strawberry lets the client's order win.
    transport = make_transport(f"{strawberry_url}/graphql")
    with anyio.fail_after(TIMEOUT):
        async with GraphqlWsClient(transport, subprotocol=offer) as client:
            assert client.subprotocol == spoken
            results = [r async for r in client.subscribe("subscription { count(to: 2) }")]
            assert results == [{"data": {"count": 0}}, {"data": {"count": 1}}]


async def test_liveness_checks_pass_with_a_live_server(
    make_transport: TransportFactory, strawberry_url: str
) -> None:
    with anyio.fail_after(TIMEOUT):
        # graphql-transport-ws: client pings, strawberry answers pong.
        client = GraphqlWsClient(
            make_transport(f"{strawberry_url}/graphql"), ping_interval=0.01, pong_timeout=1
        )
        async with client:
            ticks = 0
            async for _ in client.subscribe('subscription { ticks(name: "p") }'):
                ticks += 1
                if ticks == 10:
                    break
            assert client.connected
        # graphql-ws: strawberry sends `ka` every 50 ms; the watchdog is fed.
        client = GraphqlWsClient(
            make_transport(f"{strawberry_url}/keepalive"),
            subprotocol="graphql-ws",
            keepalive_timeout=1,
        )
        async with client:
            ticks = 0
            async for _ in client.subscribe('subscription { ticks(name: "k") }'):
                ticks += 1
                if ticks == 15:
                    break
            assert client.connected
