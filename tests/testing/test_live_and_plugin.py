"""The live server (a real socket, clients on asyncio and trio) and the
plugin seen from a user's test session."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import anyio
import pytest
from gqlws_client import GraphqlWsClient, GraphqlWsTransport
from gqlws_testing import LiveServer, make_consumer

from tests.server.schema import OnMessage, schema

Consumer = make_consumer(schema, confirm_subscriptions=True)

pytestmark = pytest.mark.gqlws_consumer(consumer=Consumer)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _transport(url: str, backend: str) -> GraphqlWsTransport:
    if backend == "asyncio":
        from gqlws_client import GraphqlWsTransportAiohttp

        return GraphqlWsTransportAiohttp(url)
    from gqlws_client import GraphqlWsTransportTrio

    return GraphqlWsTransportTrio(url)


@pytest.mark.anyio
@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
async def test_the_live_server_serves_real_clients(
    gqlws_live_server: LiveServer, anyio_backend: str, subprotocol: str
) -> None:
    """Query and a broadcast notification over a real socket, on both loops."""
    assert gqlws_live_server.url.startswith("ws://127.0.0.1:")
    transport = _transport(gqlws_live_server.url, anyio_backend)
    async with GraphqlWsClient(transport, subprotocol=subprotocol) as client:
        assert await client.execute('{ hello(name: "live") }') == {
            "data": {"hello": "Hello, live!"}
        }
        query = 'subscription { onMessage(room: "live") { text } }'
        with anyio.fail_after(10):
            async with client.subscribe(query) as results:
                confirmation = await results.__anext__()
                assert confirmation == {"data": None}
                payload = {"room": "live", "text": "over the wire", "sender": "t"}
                # The in-memory layer's queues belong to the server's loop.
                await anyio.to_thread.run_sync(
                    gqlws_live_server.call,
                    OnMessage.broadcast_async(group="live", payload=payload),
                )
                result = await results.__anext__()
        assert result == {"data": {"onMessage": {"text": "over the wire"}}}


def test_the_live_server_stops_listening() -> None:
    server = LiveServer(make_consumer(schema).as_asgi())
    with server:
        port = server.port
        with anyio.from_thread.start_blocking_portal() as portal:
            assert portal.call(_accepts, port)
    with anyio.from_thread.start_blocking_portal() as portal:
        assert not portal.call(_accepts, port)
    with pytest.raises(RuntimeError, match="not running"):
        server.call(OnMessage.broadcast_async(payload={}))


async def _accepts(port: int) -> bool:
    try:
        stream = await anyio.connect_tcp("127.0.0.1", port)
    except OSError:
        return False
    await stream.aclose()
    return True


@pytest.fixture
def user_tests(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    """A user's project: the repository's Django settings and test schema."""
    root = str(pytest.importorskip("tests").__path__[0]).rsplit("/tests", 1)[0]
    pytester.makeini(
        textwrap.dedent(
            f"""
            [pytest]
            DJANGO_SETTINGS_MODULE = tests.django_settings
            pythonpath = {root}
            asyncio_mode = strict
            asyncio_default_fixture_loop_scope = function
            """
        )
    )
    yield pytester


def test_the_plugin_in_a_user_session(user_tests: pytest.Pytester) -> None:
    """Loaded by its entry point: fixtures, markers, the teardown check."""
    user_tests.makepyfile(
        test_user="""
        import pytest
        from tests.server.schema import schema

        pytestmark = [pytest.mark.asyncio, pytest.mark.gqlws_consumer(schema=schema)]

        async def test_both(gqlws_client):
            assert await gqlws_client.execute("{ hello }") == {"data": {"hello": "Hello, world!"}}
            await gqlws_client.finalize()

        async def test_one(gqlws_client_graphql_ws):
            assert gqlws_client_graphql_ws.subprotocol == "graphql-ws"
            await gqlws_client_graphql_ws.finalize()

        async def test_left_connected(gqlws_client_transport_ws):
            assert gqlws_client_transport_ws.connected

        @pytest.mark.gqlws_consumer()
        async def test_no_consumer(gqlws_client):
            pass
        """
    )
    result = user_tests.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*test_left_connected*",
            "*left 1 gqlws client(s) connected*",
            "*the gqlws fixtures need a consumer*",
        ]
    )
