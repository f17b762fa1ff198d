"""Command line: `python -m gqlws_testing.conformance TARGET [options]`.

TARGET is a ws:// or wss:// URL, or `module:attribute` naming an ASGI
application to run in-process (with `--factory`, a callable returning
one). For an application, set `DJANGO_SETTINGS_MODULE`; without it, a
minimal configuration (Channels, its in-memory layer) is used. The exit
status is 0 when no item failed, 1 otherwise, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence

from ._options import SUBPROTOCOLS, ConformanceOptions, Target
from ._registry import ITEMS
from ._runner import run_conformance

__all__ = ["main"]

_NONE = ("none", "off", "0")


def _seconds_or_none(text: str) -> float | None:
    if text.lower() in _NONE:
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or 'none', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _seconds(text: str) -> float:
    value = _seconds_or_none(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _count_or_none(text: str) -> int | None:
    if text.lower() in _NONE:
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or 'none', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a count of at least 1, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gqlws-conformance",
        description="Run the GraphQL-over-WebSocket server checklist (C.1 graphql-transport-ws, "
        "C.2 graphql-ws) against a ws:// URL or an ASGI application.",
    )
    parser.add_argument("target", help="ws://host:port/path, or module:attribute (ASGI app)")
    parser.add_argument(
        "--subprotocol",
        action="append",
        choices=SUBPROTOCOLS,
        help="run this subprotocol's checklist (repeatable; default both)",
    )
    parser.add_argument(
        "--init-timeout",
        type=_seconds_or_none,
        default=ConformanceOptions.init_timeout,
        metavar="S",
        help="the server's connection_init wait time, or 'none' (default %(default)s)",
    )
    parser.add_argument(
        "--keepalive",
        type=_seconds_or_none,
        default=ConformanceOptions.keepalive,
        metavar="S",
        help="seconds between the server's ka on graphql-ws, or 'none' (default %(default)s)",
    )
    parser.add_argument(
        "--max-operations",
        type=_count_or_none,
        default=ConformanceOptions.max_operations,
        metavar="N",
        help="the server's operations-per-connection limit, or 'none' (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=ConformanceOptions.timeout,
        metavar="S",
        help="wait for an expected frame (default %(default)s)",
    )
    parser.add_argument(
        "--quiet",
        type=_seconds,
        default=ConformanceOptions.quiet,
        metavar="S",
        help="watch that nothing arrives (default %(default)s)",
    )
    parser.add_argument(
        "--confirmations",
        action="store_true",
        help="the server confirms each subscription with an extra first result",
    )
    parser.add_argument("--only", metavar="IDS", help="comma-separated item ids, e.g. C.1.4,C.2.3")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="an extra handshake header (repeatable)",
    )
    parser.add_argument(
        "--path",
        default=ConformanceOptions.path,
        help="the endpoint path of an ASGI application (default %(default)s)",
    )
    parser.add_argument(
        "--factory", action="store_true", help="module:attribute is a callable returning the app"
    )
    parser.add_argument("--frames", action="store_true", help="show the frames of every item")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _load_application(spec: str, *, factory: bool) -> Target:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected a ws:// URL or module:attribute, got {spec!r}")
    from django.conf import settings

    if not os.environ.get("DJANGO_SETTINGS_MODULE") and not settings.configured:
        settings.configure(
            INSTALLED_APPS=["channels"],
            CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
        )
    import django

    django.setup(set_prefix=False)
    if os.getcwd() not in sys.path:
        # As `python -m` and uvicorn do: the current directory's modules.
        sys.path.insert(0, os.getcwd())
    target: object = importlib.import_module(module_name)
    for name in attribute.split("."):
        target = getattr(target, name)
    if factory:
        target = target()  # type: ignore[operator]
    if not callable(target):
        raise ValueError(f"{spec} is not an ASGI application: {target!r}")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite from the command line.

    Args:
        argv: the arguments (without the program name); `sys.argv[1:]` by
            default.

    Returns:
        0 when no item failed, 1 when one did, 2 for a usage error.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    headers: dict[str, str] = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            parser.error(f"--header expects NAME:VALUE, got {header!r}")
        headers[name.strip()] = value.strip()
    only = None
    if args.only:
        only = [part.strip() for part in args.only.split(",") if part.strip()]
        unknown = [part for part in only if part not in ITEMS]
        if unknown:
            parser.error(f"unknown item ids: {', '.join(unknown)}")
    try:
        options = ConformanceOptions(
            timeout=args.timeout,
            quiet=args.quiet,
            init_timeout=args.init_timeout,
            keepalive=args.keepalive,
            max_operations=args.max_operations,
            subscription_confirmations=args.confirmations,
            path=args.path,
            headers=headers,
        )
        target: Target
        if args.target.startswith(("ws://", "wss://")):
            target = args.target
        else:
            target = _load_application(args.target, factory=args.factory)
    except (ValueError, ImportError, AttributeError) as exc:
        parser.error(str(exc))
    report = asyncio.run(
        run_conformance(
            target, subprotocols=args.subprotocol or SUBPROTOCOLS, only=only, options=options
        )
    )
    if args.json:
        print(report.to_json())
    else:
        print(report.to_text(frames=True if args.frames else None))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
