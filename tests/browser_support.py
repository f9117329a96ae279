"""A real browser for the kedro-viz tests: the system's Chromium, driven by Playwright.

Chromium is Debian's ``chromium`` (``make browser`` installs it when missing; ``CHROMIUM``
names another binary). Playwright only drives it: it never downloads a browser of its own.
The page may reach the site under test and nothing else: any other request (kedro-viz links
Google Fonts) is aborted and reported, so the test neither needs nor touches the network.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Screenshots and console logs of the browser tests, kept after the run (build/ is git-ignored).
ARTIFACT_DIR = REPO_ROOT / "build" / "test-artifacts"
VIEWPORT = {"width": 1600, "height": 1400}
RENDER_TIMEOUT_MS = 60_000
# Root in a container needs --no-sandbox; the rest keeps a headless run quiet and offline.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> Path:
    """The Chromium binary to use, or a test failure that says how to install it."""
    path = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {path}: the kedro-viz browser test needs it. Run `make browser` "
            "(as root it runs `apt-get install -y chromium`), or set CHROMIUM=/path/to/chromium.",
            pytrace=False,
        )
    return path


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on a free loopback port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """No access log on stderr: the browser's own record of failures is what tests read."""


@dataclass
class ConsoleEntry:
    kind: str  # console message type ("error", "warning", ...), "pageerror" or "http"
    text: str
    url: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.text} ({self.url})"


@dataclass
class Rendered:
    """What the browser showed: visible text, node and layer labels, console, screenshot."""

    text: str
    node_labels: list[str]
    layer_labels: list[str]
    console: list[ConsoleEntry]
    blocked: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    def errors(self, ignore: set[tuple[str, str]] = frozenset()) -> list[ConsoleEntry]:
        """Console errors, uncaught exceptions and HTTP errors of the site under test.

        Args:
            ignore: ``(url, text prefix)`` pairs of known, explained messages to leave out.

        Messages about requests that were blocked (other sites) are left out: they say only
        that this machine is offline.
        """
        found = []
        for entry in self.console:
            if entry.kind not in ("error", "pageerror", "http"):
                continue
            if entry.url in self.blocked:
                continue
            if any(entry.url == url and entry.text.startswith(text) for url, text in ignore):
                continue
            found.append(entry)
        return found


def render(url: str, screenshot: Path, wait_for: str = ".pipeline-node") -> Rendered:
    """Open ``url`` in headless Chromium, wait for ``wait_for`` and a quiet network, record all.

    The screenshot is written to ``screenshot`` and copied to ``build/test-artifacts/``; the
    console is written beside it as ``<name>.console.txt``.
    """
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    executable = chromium_path()
    console: list[ConsoleEntry] = []
    blocked: list[str] = []

    def block(route) -> None:
        blocked.append(route.request.url)
        route.abort()

    with sync_playwright() as playwright:
        # A fresh, temporary profile for every launch (Playwright's default).
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.route(lambda request_url: not request_url.startswith(url), block)
            page.on(
                "console",
                lambda msg: console.append(ConsoleEntry(msg.type, msg.text, msg.location["url"])),
            )
            page.on(
                "pageerror", lambda exc: console.append(ConsoleEntry("pageerror", str(exc), url))
            )
            page.on(
                "response",
                lambda response: (
                    console.append(ConsoleEntry("http", f"HTTP {response.status}", response.url))
                    if response.status >= 400
                    else None
                ),
            )
            page.goto(url, wait_until="load", timeout=RENDER_TIMEOUT_MS)
            page.locator(wait_for).first.wait_for(timeout=RENDER_TIMEOUT_MS)
            page.wait_for_load_state("networkidle", timeout=RENDER_TIMEOUT_MS)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
            rendered = Rendered(
                text=page.inner_text("body"),
                node_labels=page.locator(".pipeline-node__text").all_text_contents(),
                layer_labels=page.locator(".pipeline-layer-name").all_text_contents(),
                console=console,
                blocked=blocked,
                screenshot=screenshot,
            )
        finally:
            browser.close()
    _keep(rendered, screenshot)
    return rendered


def _keep(rendered: Rendered, screenshot: Path) -> None:
    """Copy the screenshot and the console log to build/test-artifacts/ for people to look at."""
    log = screenshot.with_suffix(".console.txt")
    lines = [str(entry) for entry in rendered.console]
    lines += [f"[blocked] {request}" for request in rendered.blocked]
    log.write_text("\n".join(lines) + "\n")
    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy2(screenshot, ARTIFACT_DIR / screenshot.name)
    shutil.copy2(log, ARTIFACT_DIR / log.name)
