"""Django settings for the test suite."""

from __future__ import annotations

import os

SECRET_KEY = "gqlws-tests-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "channels",
    "tests.testapp",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CHANNEL_LAYERS: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}
}
# The scale-out tests run server processes and a broadcaster on Redis: they
# name the layer class, the Redis URL and a prefix of their own.
if os.environ.get("GQLWS_TEST_REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": os.environ["GQLWS_TEST_LAYER"],
            "CONFIG": {
                "hosts": [os.environ["GQLWS_TEST_REDIS_URL"]],
                "prefix": os.environ["GQLWS_TEST_PREFIX"],
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF: list[object] = []
