"""A conformance suite for GraphQL-over-WebSocket servers.

`run_conformance(target)` runs the server checklist of both subprotocols
(C.1: graphql-transport-ws, 24 items; C.2: the legacy graphql-ws, 12
items) against an ASGI application in-process or a ws:// URL, and returns
a `ConformanceReport`: each item passed, failed or was skipped, with what
was expected, what was observed, and every frame. `conformance_tests()`
makes the checklist a parametrized pytest test;
`python -m gqlws_testing.conformance URL` runs it from the command line.

The server must serve the small schema in `SDL` (see `_schema` for what
each field does); `ConformanceConsumer` is this project's server set up
for the suite, and `conformance_application()` mounts it.
"""

from __future__ import annotations

from ._consumer import ConformanceConsumer, conformance_application
from ._options import ConformanceOptions
from ._pytest import conformance_tests
from ._report import ConformanceReport, Frame, ItemResult, Outcome
from ._runner import run_conformance
from ._schema import SDL, conformance_schema, source_closed

__all__ = [
    "SDL",
    "ConformanceConsumer",
    "ConformanceOptions",
    "ConformanceReport",
    "Frame",
    "ItemResult",
    "Outcome",
    "conformance_application",
    "conformance_schema",
    "conformance_tests",
    "run_conformance",
    "source_closed",
]
