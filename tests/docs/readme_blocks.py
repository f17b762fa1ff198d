"""Reading the code blocks of a README, for the tests that run them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_blocks(readme: str, language: str = "python") -> list[str]:
    """The fenced blocks of `readme` (a path from the repository root)."""
    text = (ROOT / readme).read_text()
    return [body for lang, body in _BLOCK.findall(text) if lang == language]
