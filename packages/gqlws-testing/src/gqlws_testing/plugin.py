"""The pytest plugin of gqlws-testing: fixtures for servers and clients.

Registered through the `pytest11` entry point, so installing gqlws-testing
is enough: no `conftest.py` import. The in-process fixtures are async
(pytest-asyncio: mark the tests `@pytest.mark.asyncio`); the live server is
a plain fixture, so a client under trio (anyio's pytest plugin) can use it.

Fixtures:

- `gqlws_consumer`: the consumer class under test. Override it in your
  `conftest.py`, or name it per test with the `gqlws_consumer` marker:
  `@pytest.mark.gqlws_consumer(consumer=MyConsumer, confirm_subscriptions=True)`
  (or `schema=` a `graphene.Schema`; other keywords are settings).
- `gqlws_client_factory`: `await gqlws_client_factory(...)` returns a
  connected `gqlws_testing.GraphqlWsClient` for a schema, root types or a
  consumer (see `ClientFactory`); every client is closed at teardown and
  the test errors if one was left connected.
- `gqlws_client`: a connected client of `gqlws_consumer`, once for each
  subprotocol (the test runs twice; restrict with
  `@pytest.mark.gqlws_subprotocols("graphql-ws")`).
- `gqlws_client_transport_ws`, `gqlws_client_graphql_ws`: one client for
  one subprotocol.
- `gqlws_subprotocol`: the subprotocol of the current parametrization.
- `gqlws_asgi_application`: the ASGI application the live server serves:
  `gqlws_consumer` at `graphql/` (override it to serve your project's).
- `gqlws_live_server`: that application under uvicorn on 127.0.0.1 and a
  free port: a `gqlws_testing.LiveServer` (`.url` is the ws:// URL).
- `gqlws_broadcast_and_wait`: `gqlws_testing.broadcast_and_wait`.
- `gql`: the fixture of django-channels-graphql-ws's own suite: a factory
  of unconnected clients for root types with `auto_camelcase=False`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import gqlws_server_channels as gqlws

    from ._client import GraphqlWsClient
    from ._live import LiveServer

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover (the `pytest` extra installs it)
    _async_fixture: Callable[..., Any] = pytest.fixture
else:
    _async_fixture = pytest_asyncio.fixture

__all__ = [
    "ClientFactory",
    "gql",
    "gqlws_asgi_application",
    "gqlws_broadcast_and_wait",
    "gqlws_client",
    "gqlws_client_factory",
    "gqlws_client_graphql_ws",
    "gqlws_client_transport_ws",
    "gqlws_consumer",
    "gqlws_live_server",
    "pytest_configure",
    "pytest_generate_tests",
]

SUBPROTOCOLS = ("graphql-transport-ws", "graphql-ws")


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's markers."""
    config.addinivalue_line(
        "markers",
        "gqlws_consumer(consumer=None, schema=None, **settings): the consumer the gqlws "
        "fixtures test (a GraphqlWsConsumer subclass, or one built for a graphene.Schema)",
    )
    config.addinivalue_line(
        "markers",
        "gqlws_subprotocols(*subprotocols): the subprotocols `gqlws_client` runs "
        "the test with (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests using `gqlws_subprotocol` once per subprotocol."""
    if "gqlws_subprotocol" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("gqlws_subprotocols")
    chosen = tuple(marker.args) if marker is not None else SUBPROTOCOLS
    unknown = [p for p in chosen if p not in SUBPROTOCOLS]
    if not chosen or unknown:
        raise pytest.UsageError(
            f"gqlws_subprotocols takes subprotocols out of {list(SUBPROTOCOLS)}, "
            f"got {list(chosen)!r}"
        )
    metafunc.parametrize("gqlws_subprotocol", chosen, ids=list(chosen))


@pytest.fixture
def gqlws_consumer(request: pytest.FixtureRequest) -> type[gqlws.GraphqlWsConsumer]:
    """The consumer class under test: from the `gqlws_consumer` marker.

    Override this fixture in a `conftest.py` to test your project's
    consumer everywhere.
    """
    import gqlws_server_channels as gqlws
    import graphene

    from ._helpers import make_consumer

    marker = request.node.get_closest_marker("gqlws_consumer")
    settings = dict(marker.kwargs) if marker is not None else {}
    consumer = settings.pop("consumer", None)
    schema = settings.pop("schema", None)
    if marker is None or marker.args or (consumer is None) == (schema is None):
        raise pytest.UsageError(
            "the gqlws fixtures need a consumer: override the `gqlws_consumer` fixture, or "
            "mark the test @pytest.mark.gqlws_consumer(consumer=MyConsumer or schema=schema, "
            "**settings)"
        )
    if schema is not None:
        if not isinstance(schema, graphene.Schema):
            raise pytest.UsageError(
                f"gqlws_consumer: schema must be a graphene.Schema, got {schema!r}"
            )
        return make_consumer(schema, **settings)
    if not (isinstance(consumer, type) and issubclass(consumer, gqlws.GraphqlWsConsumer)):
        raise pytest.UsageError(
            f"gqlws_consumer: consumer must be a GraphqlWsConsumer subclass, got {consumer!r}"
        )
    return make_consumer(consumer=consumer, **settings) if settings else consumer


class ClientFactory:
    """Builds in-process clients for one test and closes them at its end.

    `await factory(...)` returns a connected client; `factory.build(...)`
    the same client before `connect_and_init()` (synchronously). Keywords:
    `schema`, or root types `query` / `mutation` / `subscription` (with
    `auto_camelcase`), or `consumer` (a class); `consumer_attrs` (settings
    for a subclass); `subprotocol`; `path`; `communicator_kwds` (headers
    and more for Channels' communicator); the rest are options of
    `GraphqlWsClient`. With none of schema, root types or consumer, the
    consumer is the `gqlws_consumer` fixture's.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self.clients: list[GraphqlWsClient] = []

    def build(
        self,
        schema: Any = None,
        *,
        query: Any = None,
        mutation: Any = None,
        subscription: Any = None,
        consumer: Any = None,
        consumer_attrs: dict[str, object] | None = None,
        subprotocol: str = SUBPROTOCOLS[0],
        path: str = "graphql/",
        communicator_kwds: dict[str, object] | None = None,
        auto_camelcase: bool = True,
        **client_options: Any,
    ) -> GraphqlWsClient:
        """A client, not connected yet."""
        from ._client import GraphqlWsClient
        from ._helpers import make_application, make_consumer
        from ._transport import GraphqlWsTransport

        attrs = dict(consumer_attrs or {})
        roots = bool(query or mutation or subscription)
        if schema is None and not roots and consumer is None:
            consumer = self._request.getfixturevalue("gqlws_consumer")
        if schema is not None or roots or attrs:
            consumer = make_consumer(
                schema,
                query=query,
                mutation=mutation,
                subscription=subscription,
                auto_camelcase=auto_camelcase,
                consumer=consumer,
                **attrs,
            )
        transport = GraphqlWsTransport(
            make_application(consumer, path=path),
            "/" + path.lstrip("/"),
            subprotocol=subprotocol,
            communicator_kwds=communicator_kwds,
        )
        client = GraphqlWsClient(transport, subprotocol=subprotocol, **client_options)
        self.clients.append(client)
        return client

    async def __call__(self, *args: Any, connect: bool = True, **kwargs: Any) -> GraphqlWsClient:
        """A client, connected and acknowledged unless `connect=False`."""
        client = self.build(*args, **kwargs)
        if connect:
            await client.connect_and_init()
        return client

    async def close_all(self) -> list[GraphqlWsClient]:
        """Close every client; return those that were still connected."""
        left = [client for client in self.clients if client.connected]
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.finalize()
        return left


@_async_fixture
async def gqlws_client_factory(request: pytest.FixtureRequest) -> AsyncIterator[ClientFactory]:
    """A `ClientFactory`: `await gqlws_client_factory(...)` gives a connected client.

    The test errors at teardown if it left a client connected (every
    client is closed either way).
    """
    factory = ClientFactory(request)
    yield factory
    left = await factory.close_all()
    if left:
        pytest.fail(
            f"the test left {len(left)} gqlws client(s) connected: "
            "call `await client.finalize()` at its end",
            pytrace=False,
        )


@_async_fixture
async def gqlws_client(
    gqlws_client_factory: ClientFactory, gqlws_subprotocol: str
) -> GraphqlWsClient:
    """A connected client of `gqlws_consumer`, once per subprotocol."""
    client: GraphqlWsClient = await gqlws_client_factory(subprotocol=gqlws_subprotocol)
    return client


@_async_fixture
async def gqlws_client_transport_ws(gqlws_client_factory: ClientFactory) -> GraphqlWsClient:
    """A connected client of `gqlws_consumer` on `graphql-transport-ws`."""
    client: GraphqlWsClient = await gqlws_client_factory(subprotocol="graphql-transport-ws")
    return client


@_async_fixture
async def gqlws_client_graphql_ws(gqlws_client_factory: ClientFactory) -> GraphqlWsClient:
    """A connected client of `gqlws_consumer` on the legacy `graphql-ws`."""
    client: GraphqlWsClient = await gqlws_client_factory(subprotocol="graphql-ws")
    return client


@pytest.fixture
def gqlws_asgi_application(gqlws_consumer: type[gqlws.GraphqlWsConsumer]) -> object:
    """The ASGI application of the live server: `gqlws_consumer` at `graphql/`."""
    from ._helpers import make_application

    return make_application(gqlws_consumer)


@pytest.fixture
def gqlws_live_server(gqlws_asgi_application: object) -> Iterator[LiveServer]:
    """`gqlws_asgi_application` under uvicorn on 127.0.0.1, for one test."""
    from ._live import LiveServer

    with LiveServer(gqlws_asgi_application) as server:
        yield server


@pytest.fixture
def gqlws_broadcast_and_wait() -> Callable[..., Any]:
    """`gqlws_testing.broadcast_and_wait`: broadcast, then await the notification."""
    from ._helpers import broadcast_and_wait

    return broadcast_and_wait


@pytest.fixture
def gql(gqlws_client_factory: ClientFactory) -> Callable[..., GraphqlWsClient]:
    """The `gql` fixture of django-channels-graphql-ws's own suite.

    `gql(query=..., mutation=..., subscription=..., consumer_attrs=...,
    communicator_kwds=..., subprotocol=...)` returns a client that is not
    connected yet (the test calls `connect_and_init()`), for a schema built
    with `auto_camelcase=False` as that suite expects.
    """

    def build(**kwargs: Any) -> GraphqlWsClient:
        kwargs.setdefault("auto_camelcase", False)
        return gqlws_client_factory.build(**kwargs)

    return build
