"""Django settings of the chat example.

Environment variables:

- `REDIS_URL` (e.g. `redis://127.0.0.1:6379/0`): use Channels' Redis layer, so
  broadcasts from other processes (`manage.py broadcast`) reach the server.
  Unset: Channels' in-memory layer, one process.
- `GRAPHIQL_ASSETS`: `cdn` (default) loads GraphiQL from jsDelivr; `local`
  serves the files `npm ci` installed in `example/frontend/node_modules`.
- `CHAT_DATABASE`: the sqlite file (default `example/db.sqlite3`).
- `ALLOWED_HOSTS`: comma-separated, for serving beyond localhost.
- `DJANGO_SECRET_KEY`, `DJANGO_DEBUG` (`1` or `0`, default `1`).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from chat.assets import ASSET_MODES, local_staticfiles_dirs

EXAMPLE_DIR = Path(__file__).resolve().parent.parent

# A development key: the example is not a deployment. Sessions stay valid
# across restarts because it does not change.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "gqlws-example-insecure-development-key")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "channels",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chat.urls"
ASGI_APPLICATION = "chat.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CHAT_DATABASE", str(EXAMPLE_DIR / "db.sqlite3")),
        # The server's worker threads and `manage.py broadcast` write at once.
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

GRAPHIQL_ASSETS = os.environ.get("GRAPHIQL_ASSETS", "cdn")
if GRAPHIQL_ASSETS not in ASSET_MODES:
    raise ImproperlyConfigured(
        f"GRAPHIQL_ASSETS must be one of {', '.join(ASSET_MODES)}, got {GRAPHIQL_ASSETS!r}"
    )

STATIC_URL = "static/"
STATICFILES_DIRS = local_staticfiles_dirs() if GRAPHIQL_ASSETS == "local" else []

USE_TZ = True
TIME_ZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s:     %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "chat": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gqlws_server_channels": {
            "handlers": ["console"],
            "level": "WARNING",
            "propagate": False,
        },
    },
}
