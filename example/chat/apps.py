"""The chat app."""

from __future__ import annotations

from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Messages, the GraphQL schema and the example's management commands."""

    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"
