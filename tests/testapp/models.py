"""Models the server tests store, broadcast and serialise."""

from __future__ import annotations

from django.db import models


class Book(models.Model):
    """A model with a few field types worth round-tripping."""

    title = models.CharField(max_length=200)
    published = models.DateField(null=True)
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True)

    class Meta:
        app_label = "testapp"
