"""`mlrelease serve` in a real headless browser: Debian's chromium, driven by Playwright.

The server runs as a user would start it (the venv's `mlrelease serve`) on a free port of
127.0.0.1. The page draws the terminal on a canvas, so what it shows is read from the bytes
it receives over its websocket, replayed into a terminal emulator (pyte) of the size the
page asked for; a screenshot of each test's page is kept in the test's folder.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builders import git, make_registry
from tests.local_http import free_port
from tests.processes import stop_group, wait_for_200

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
# No browser download works here: Debian's chromium, with nothing that reaches out.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def serving(root: Path, *args: str) -> Iterator[str]:
    port = free_port()
    log = root.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "mlrelease"), "--repo", str(root), "serve", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            if not wait_for_200(url, proc, 60):
                assert proc.poll() is None, f"mlrelease serve exited with {proc.returncode}: {log.read_text()}"
                raise AssertionError(f"mlrelease serve did not answer within 60 s: {log.read_text()}")
            yield url
        finally:
            stop_group(proc)  # it starts one app process per tab: stop them all


class Tab:
    """A browser tab on the dashboard, and the terminal it draws, as text."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.received: list[bytes] = []
        self.size = (80, 24)
        page.on("websocket", self._watch)

    def _watch(self, ws: Any) -> None:
        ws.on("framereceived", lambda payload: self.received.append(payload) if isinstance(payload, bytes) else None)
        ws.on("framesent", self._sent)

    def _sent(self, payload: str | bytes) -> None:
        if isinstance(payload, str) and payload.startswith('["resize"'):
            size = json.loads(payload)[1]
            self.size = (size["width"], size["height"])

    def screen(self) -> str:
        import pyte

        screen = pyte.Screen(*self.size)
        pyte.ByteStream(screen).feed(b"".join(self.received))
        return "\n".join(line.rstrip() for line in screen.display)

    def wait_for(self, check: Callable[[str], bool], what: str, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed {what}; it shows:\n{text}")
            self.page.wait_for_timeout(200)  # Playwright's sync API delivers events only while it waits

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)


@pytest.fixture
def browser_tab(tmp_path: Path) -> Iterator[Tab]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is not installed: scripts/test installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=str(CHROMIUM),
            args=FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield Tab(context.new_page())
        finally:
            context.close()


def open_dashboard(tab: Tab, url: str) -> str:
    tab.page.goto(url)
    text = tab.wait_for(lambda t: "Overview" in t and "fraud-card" in t and "churn" in t, "the overview with both models")
    tab.page.focus(".xterm-helper-textarea")  # where xterm.js takes the keyboard
    return text


def test_the_dashboard_in_a_browser_is_read_only_by_default(tmp_path: Path, browser_tab: Tab) -> None:
    root = make_registry(tmp_path / "registry")
    head = git(root, "rev-parse", "HEAD")
    with serving(root) as url:
        overview = open_dashboard(browser_tab, url)
        assert "READ-ONLY" in overview.splitlines()[0]
        # Open the selected model (churn sorts first), then fraud-card after moving down.
        browser_tab.press("j", "Enter")
        model = browser_tab.wait_for(lambda t: "Versions" in t and "1.2.0" in t, "fraud-card's model view")
        assert "fraud-card" in model.splitlines()[0]
        browser_tab.press("p")
        refused = browser_tab.wait_for(lambda t: "read-only" in t.lower() and "refused" in t.lower(), "the read-only refusal")
        assert "plan" not in refused.splitlines()[0].lower()
        shot = tmp_path / "serve-read-only.png"
        browser_tab.page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
    assert git(root, "rev-parse", "HEAD") == head


def test_actions_allowed_still_go_through_the_plan_and_its_gates(tmp_path: Path, browser_tab: Tab) -> None:
    root = make_registry(tmp_path / "registry")
    head = git(root, "rev-parse", "HEAD")
    with serving(root, "--allow-actions") as url:
        overview = open_dashboard(browser_tab, url)
        assert "READ-ONLY" not in overview
        browser_tab.press("j", "p")
        browser_tab.wait_for(lambda t: "which environment?" in t and "staging" in t, "the environment chooser")
        browser_tab.press("Enter")  # staging, the next one up
        plan = browser_tab.wait_for(lambda t: "gate" in t.lower() and "Cancel" in t, "the plan with its gates")
        assert "fraud-card" in plan and "staging" in plan
        browser_tab.page.screenshot(path=str(tmp_path / "serve-plan.png"))
        browser_tab.press("Escape")
        browser_tab.wait_for(lambda t: "Cancel" not in t, "the plan closed")
    assert git(root, "rev-parse", "HEAD") == head  # cancelled: nothing recorded


def test_serve_refuses_bad_arguments_before_listening(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "registry")
    for args, message in (
        (["--port", "0"], "--port must be between 1 and 65535"),
        (["--public-url", "ftp://example.com"], "--public-url must be an http(s) address"),
    ):
        proc = subprocess.run(
            [str(VENV_BIN / "mlrelease"), "--repo", str(root), "serve", *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr
    proc = subprocess.run(
        [str(VENV_BIN / "mlrelease"), "--repo", str(tmp_path / "nowhere"), "serve"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1 and "mlrelease.yaml" in proc.stderr
