"""`manage.py runexample`: set the example up and serve it on one port."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.assets import FRONTEND_DIR, missing_local_files

DEMO_USERNAME = "user"
DEMO_PASSWORD = "pass"
APPLICATION = "chat.asgi:application"


def ensure_demo_user() -> bool:
    """Create the demo user unless it exists; whether it was created."""
    users = get_user_model()
    if users.objects.filter(username=DEMO_USERNAME).exists():
        return False
    users.objects.create_user(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    return True


class Command(BaseCommand):
    help = (
        "Apply migrations, create the demo user, then serve the chat example "
        "(GraphiQL over HTTP, GraphQL over WebSocket) with uvicorn or daphne."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="default: 8000")
        parser.add_argument(
            "--server",
            choices=("uvicorn", "daphne"),
            default="uvicorn",
            help="the ASGI server (default: uvicorn)",
        )

    def handle(self, *args: Any, host: str, port: int, server: str, **options: Any) -> None:
        if settings.GRAPHIQL_ASSETS == "local":
            missing = missing_local_files()
            if missing:
                raise CommandError(
                    f"GRAPHIQL_ASSETS=local but {missing[0]} is missing: "
                    f"run `npm ci` in {FRONTEND_DIR}"
                )
        call_command("migrate", interactive=False, verbosity=0)
        created = ensure_demo_user()
        self._banner(host, port, created=created)
        if server == "uvicorn":
            import uvicorn

            # Channels' router has no lifespan handler.
            uvicorn.run(APPLICATION, host=host, port=port, lifespan="off", log_level="info")
        else:
            from daphne.cli import CommandLineInterface

            CommandLineInterface().run(["--bind", host, "--port", str(port), APPLICATION])

    def _banner(self, host: str, port: int, *, created: bool) -> None:
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host
        if ":" in shown:
            shown = f"[{shown}]"
        layer = (
            f"Redis at {settings.REDIS_URL} (manage.py broadcast reaches this server)"
            if settings.REDIS_URL
            else "in-memory (this process only; set REDIS_URL for Redis)"
        )
        assets = (
            "local files from example/frontend/node_modules"
            if settings.GRAPHIQL_ASSETS == "local"
            else "jsDelivr CDN (GRAPHIQL_ASSETS=local serves local files)"
        )
        user = "created now" if created else "exists"
        lines = [
            "",
            "gqlws chat example",
            f"  GraphiQL:      http://{shown}:{port}/",
            f"  GraphQL:       ws://{shown}:{port}/graphql/ (graphql-transport-ws, graphql-ws)",
            f"  Login:         username {DEMO_USERNAME!r}, password {DEMO_PASSWORD!r} ({user})",
            f"  Channel layer: {layer}",
            f"  Assets:        {assets}",
            f"  Database:      {settings.DATABASES['default']['NAME']}",
            "",
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
