"""Fixtures of the client tests: every test runs under asyncio and trio."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from gqlws_client import GraphqlWsTransport

TransportFactory = Callable[..., GraphqlWsTransport]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each `@pytest.mark.anyio` test once per event loop."""
    return str(request.param)


@pytest.fixture
def make_transport(anyio_backend: str) -> TransportFactory:
    """The shipped transport of the running loop: aiohttp or trio-websocket."""

    def make(url: str, **options: Any) -> GraphqlWsTransport:
        if anyio_backend == "asyncio":
            from gqlws_client import GraphqlWsTransportAiohttp

            return GraphqlWsTransportAiohttp(url, **options)
        from gqlws_client import GraphqlWsTransportTrio

        return GraphqlWsTransportTrio(url, **options)

    return make
