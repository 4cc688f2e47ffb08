"""Browser-test helpers shared by the page tests: where Debian's headless Chromium is, when to skip,
a free port, and polling without eval (the app's CSP forbids it). The ``server`` and ``page``
fixtures that use them are in conftest.py."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest

from quartet.web.app import node_modules

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

SKIP = [
    pytest.mark.skipif(not CHROMIUM.exists() and not shutil.which("chromium"),
                       reason="Debian chromium is not installed (apt-get install chromium; .ci/run does it)"),
    pytest.mark.skipif(not (node_modules() / "cytoscape").is_dir(), reason="node_modules missing: run `npm ci`"),
]


def wait_js(page, expression: str, timeout: float = 20.0) -> None:
    """Poll ``expression`` with evaluate (page.wait_for_function needs eval, which the app's CSP forbids)."""
    end = time.time() + timeout
    while not page.evaluate(expression):
        if time.time() > end:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
