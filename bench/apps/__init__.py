"""The ASGI applications the benchmark serves, one module per server.

Each module is started by `uvicorn bench.apps.<module>:application` from the
repository root; the Django settings are `bench.apps.settings`.
"""

from __future__ import annotations
