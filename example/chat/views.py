"""The GraphiQL page, talking GraphQL over WebSocket only."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from chat.assets import ASSETS
from chat.operations import DEFAULT_TABS

__all__ = ["graphiql", "websocket_only"]

GRAPHQL_PATH = "/graphql/"


@require_GET
def graphiql(request: HttpRequest) -> HttpResponse:
    """GraphiQL with a fetcher that sends every operation over WebSocket.

    The page starts a session first: its cookie goes with the WebSocket
    handshake, so the socket has a session to log in to, and anonymous
    senders are told apart by their session.
    """
    if request.session.session_key is None:
        # Saves the session and has SessionMiddleware set the cookie.
        request.session.create()
    local = settings.GRAPHIQL_ASSETS == "local"
    stylesheets: list[dict[str, str]] = []
    scripts: list[dict[str, str]] = []
    for asset in ASSETS:
        entry = {
            "url": static(asset.static_path) if local else asset.cdn_url,
            # Same-origin files need no integrity check.
            "integrity": "" if local else asset.integrity,
        }
        (stylesheets if asset.is_css else scripts).append(entry)
    context = {
        "stylesheets": stylesheets,
        "scripts": scripts,
        "config": {"graphqlPath": GRAPHQL_PATH, "defaultTabs": DEFAULT_TABS},
    }
    return render(request, "chat/graphiql.html", context)


def websocket_only(request: HttpRequest) -> HttpResponse:
    """Plain HTTP at the GraphQL endpoint: 426, it speaks WebSocket."""
    response = HttpResponse(
        "GraphQL is served over WebSocket here (subprotocols graphql-transport-ws "
        "and graphql-ws). Open / for GraphiQL.\n",
        status=426,
        content_type="text/plain; charset=utf-8",
    )
    response["Upgrade"] = "websocket"
    return response
