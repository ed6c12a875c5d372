"""Real Chromium (Debian's package) driven by Playwright; installed with apt if missing. Never `playwright install`."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _ensure_chromium() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False, capture_output=True, timeout=600)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing and `apt-get install -y chromium` did not provide it")
    return CHROMIUM


# Package scope, not session: Playwright's sync API runs an event loop on the main thread while it is
# open, and every later test that calls asyncio.run() would fail with "cannot be called from a running
# event loop". Closing it when the browser tests are done keeps the rest of the suite independent.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = _ensure_chromium()
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
