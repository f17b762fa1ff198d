"""HTTP routes: the GraphiQL page. GraphQL itself is served over WebSocket
(see `chat.asgi`); plain HTTP requests to `graphql/` are told so."""

from __future__ import annotations

from django.urls import path

from chat import views

urlpatterns = [
    path("", views.graphiql, name="graphiql"),
    path("graphql/", views.websocket_only, name="graphql"),
]
