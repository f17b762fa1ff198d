"""`manage.py broadcast <chatroom> <text>`: send a chat message from outside
the server, through the Redis channel layer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from chat import models
from chat.schema import OnNewChatMessage

SENDER_KEY = "broadcast"


class Command(BaseCommand):
    help = (
        "Store a chat message and notify the room's subscribers in the running "
        "server. Needs REDIS_URL, the same as the server's."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("chatroom")
        parser.add_argument("text")
        parser.add_argument(
            "--sender", default="broadcast", help="the name shown (default: broadcast)"
        )

    def handle(self, *args: Any, chatroom: str, text: str, sender: str, **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is not set: the in-memory channel layer lives inside one process, "
                "so nothing would reach the server. Start the server and this command with "
                "the same REDIS_URL, e.g. redis://127.0.0.1:6379/0"
            )
        try:
            message = models.Message.objects.create(
                chatroom=chatroom, text=text, sender=sender, sender_key=SENDER_KEY
            )
        except DatabaseError as exc:
            raise CommandError(
                f"cannot store the message ({exc}); start the example once "
                "(manage.py runexample) to create the database"
            ) from exc
        # No event loop in this process: the sync variant runs one briefly.
        OnNewChatMessage.broadcast_sync(group=chatroom, payload=message)
        self.stdout.write(f"sent to {chatroom!r} as {sender!r}: {text}")
