"""The GraphiQL page in a real browser: headless Chromium (Debian's
`chromium`) driven by playwright-core from Node, against `runexample` serving
the GraphiQL assets from local files.

Page A subscribes in GraphiQL, page B (another browser context, so another
session) sends a message, page A shows it. The screenshot of page A is kept
in artifacts/example-browser.png.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT, ExampleServer, local_assets_installed

pytestmark = pytest.mark.timeout(60)

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "browser.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOT = ROOT / "artifacts" / "example-browser.png"


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no {CHROMIUM} (.ci/run installs Debian's chromium)"
    if shutil.which("node") is None:
        return "no node"
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        return "run `npm ci` in tests/example"
    if not local_assets_installed():
        return "run `npm ci` in example/frontend"
    return None


def test_subscription_notification_shows_in_graphiql(example_server: ExampleServer) -> None:
    missing = _missing()
    assert missing is None, f"the browser test cannot run: {missing}"
    assert "local files" in example_server.log()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    completed = subprocess.run(
        ["node", str(SCRIPT), example_server.base_url, str(SCREENSHOT)],
        cwd=HERE,
        env={**os.environ, "CHROMIUM": CHROMIUM},
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    # Everything came from the example server: no CDN.
    assert report["external"] == []
    assert json.loads(report["pageB"]) == {"data": {"sendChatMessage": {"ok": True}}}
    assert json.loads(report["pageA"]) == {
        "data": {
            "onNewChatMessage": {
                "chatroom": "browser-test",
                "text": "Hello from page B",
                "sender": "Anonymous",
            }
        }
    }
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")
    # A first visit opens the old README's operations.
    assert report["tabs"] == ["read", "s"]
    assert 'history(chatroom: "kittens")' in report["firstTab"]
