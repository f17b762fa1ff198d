"""The ASGI application: Django over HTTP, GraphQL over WebSocket, one port.

WebSocket connections go through the checks a deployment has: the origin
must be one of ALLOWED_HOSTS (`AllowedHostsOriginValidator`), and the
session and user come from the cookie (`AuthMiddlewareStack`).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat.settings")
# Sets Django up, before anything imports models.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import path  # noqa: E402

from chat.consumer import ChatConsumer  # noqa: E402

__all__ = ["application"]

application = ProtocolTypeRouter(
    {
        # Static files too (the local GraphiQL assets): no separate server.
        "http": ASGIStaticFilesHandler(django_application),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([path("graphql/", ChatConsumer.as_asgi())]))
        ),
    }
)
