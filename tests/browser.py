"""Debian's headless Chromium for the page tests: one way to launch it and to watch what a page does."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from typing import Iterator, Optional

BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class PageLog:
    """What a page did: console errors and uncaught exceptions, every URL it asked for, the ones that failed."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def unexpected(self, allowed: tuple[str, ...] = ("file:", "data:")) -> list[str]:
        """Errors, failed requests and requests to any URL not starting with ``allowed``: [] for a clean page."""
        return (
            self.errors
            + [f"request failed: {url}" for url in self.failed]
            + [f"request: {url}" for url in self.requests if not url.startswith(allowed)]
        )


@contextlib.contextmanager
def chromium_page(viewport: Optional[dict] = None) -> Iterator[tuple[object, PageLog]]:
    """A fresh page in headless Chromium and its ``PageLog``; the browser is closed on leaving."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed for this test: apt-get install chromium (scripts/test.sh does)"
    from playwright.sync_api import sync_playwright

    log = PageLog()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_FLAGS)
        try:
            page = browser.new_page(viewport=viewport) if viewport else browser.new_page()
            page.on("console", lambda message: log.errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: log.errors.append(str(error)))
            page.on("request", lambda request: log.requests.append(request.url))
            page.on("requestfailed", lambda request: log.failed.append(request.url))
            yield page, log
        finally:
            browser.close()
