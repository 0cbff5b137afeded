"""A headless Chromium for the explorer's tests, through Playwright; skips when none can be had.

The browser is Debian's ``chromium`` (``$LOOPNET_CHROMIUM`` to use another), launched without a
sandbox, GPU or network services so it runs in containers and CI.
"""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_ENV = "LOOPNET_CHROMIUM"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """$LOOPNET_CHROMIUM, else chromium or chromium-browser on PATH, else /usr/bin/chromium."""
    candidates = [os.environ.get(CHROMIUM_ENV), shutil.which("chromium"),
                  shutil.which("chromium-browser"), "/usr/bin/chromium"]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    """A launched headless Chromium (closed after the module); skips with the reason."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install loopnet[test])")
    path = chromium_path()
    if path is None:
        pytest.skip(f"no chromium found (apt-get install chromium, or set {CHROMIUM_ENV})")
    manager = sync_playwright().start()
    try:
        instance = manager.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    except Error as exc:
        manager.stop()
        pytest.skip(f"chromium at {path} did not start: {str(exc).splitlines()[0]}")
    yield instance
    instance.close()
    manager.stop()


class Page:
    """A page opened from file://, with its console errors and uncaught exceptions collected."""

    def __init__(self, browser, path, width: int = 1400, height: int = 1000) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function("window.loopnetExplorer && window.loopnetExplorer.timing.firstRender")

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def panel_equations(self) -> list[str]:
        """The trace-format text of every equation in the side panel."""
        return self.js("() => Array.from(document.querySelectorAll('#panel .eq'), e => e.dataset.text)")

    def close(self) -> None:
        self.page.close()
