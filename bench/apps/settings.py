"""Django settings shared by every benchmarked server.

`BENCH_LAYER` picks the channel layer: `memory` (Channels' in-memory layer,
the default) or `redis` (channels_redis against `BENCH_REDIS_URL`, default
redis://127.0.0.1:6379, under the key prefix `BENCH_REDIS_PREFIX` so that
groups left behind by an earlier server process never receive messages).
"""

from __future__ import annotations

import os
from typing import Any

SECRET_KEY = "gqlws-bench-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["channels"]
DATABASES: dict[str, Any] = {}
ROOT_URLCONF: list[object] = []
LOGGING_CONFIG = None

_layer = os.environ.get("BENCH_LAYER", "memory")
if _layer == "memory":
    CHANNEL_LAYERS: dict[str, Any] = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    }
elif _layer == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")],
                "prefix": os.environ.get("BENCH_REDIS_PREFIX", "gqlws-bench"),
            },
        }
    }
else:
    raise ValueError(f"BENCH_LAYER must be memory or redis, got {_layer!r}")
