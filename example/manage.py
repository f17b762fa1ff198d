#!/usr/bin/env python
"""Django's command-line utility for the gqlws chat example.

`uv run example/manage.py runexample` from the repository root starts it; see
README.md beside this file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    """Run a management command with `chat.settings`."""
    # Importable as `chat` from any working directory.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
