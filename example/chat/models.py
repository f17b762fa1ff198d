"""Chat messages, kept in the database so every process sees the history."""

from __future__ import annotations

from django.db import models

__all__ = ["Message"]

CHATROOM_MAX_LENGTH = 100
TEXT_MAX_LENGTH = 2000


class Message(models.Model):
    """One message sent to a chat room.

    `sender` is what others see (a username or "Anonymous"); `sender_key`
    tells senders apart, so subscribers skip their own messages, and is
    never shown: for anonymous senders it derives from the session key.
    """

    chatroom = models.CharField(max_length=CHATROOM_MAX_LENGTH, db_index=True)
    text = models.CharField(max_length=TEXT_MAX_LENGTH)
    sender = models.CharField(max_length=150)
    sender_key = models.CharField(max_length=100)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.chatroom}: {self.sender}: {self.text}"
