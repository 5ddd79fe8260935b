"""The notifications' delivery log in the TUI (issue 14: "notifications' status, in the TUI").

A real promotion, made from the keyboard, is announced to a real HTTP server on 127.0.0.1
with two channels: one it accepts, one it refuses. The top bar then counts the failure,
`N` shows the same records `mlrelease notify log` prints (newest first, the reason of the
failure, untrusted text literally, secrets masked), and looking clears the count — which
is kept beside the journal, so a restart does not show old failures as new.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from mlrelease.notify import journal
from mlrelease.notify.journal import Delivery
from mlrelease.tui.screens.notifications import NotificationsScreen
from mlrelease.tui.screens.overview import OverviewScreen
from tests.builders import commit_all, config, write
from tests.cli_helpers import cli
from tests.local_http import respond, serving
from tests.tui.conftest import press, settle
from tests.tui.test_actions import at_model, confirm, fill, plan_for

TOKEN = "tok-9d2c5e71a4b8"  # the accepting channel's header secret: never shown


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[str]]]:
    """A webhook receiver that takes /ok and refuses /refused with a 503."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            paths.append(self.path)
            respond(self, 200 if self.path == "/ok" else 503, b"")

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url.split("://", 1)[1], paths


@pytest.fixture
def announced(repo: Path, receiver: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """The test registry announcing promotions to two channels of the receiver."""
    where, paths = receiver
    monkeypatch.setenv("OPS_URL", f"json://{where}/ok?+X-Token={TOKEN}")
    monkeypatch.setenv("PAGER_URL", f"json://{where}/refused")
    channels = {"ops": {"url_env": "OPS_URL"}, "pager": {"url_env": "PAGER_URL"}}
    write(repo, "mlrelease.yaml", config(notify={"timeout": 5, "channels": channels, "events": {"promoted": ["ops", "pager"]}}))
    commit_all(repo, "Announce promotions")
    return repo, paths


def top_bar(app: object) -> str:
    return str(app.screen.query_one(".topbar").render())  # type: ignore[attr-defined]


def rows(screen: NotificationsScreen) -> list[str]:
    table = screen.query_one("#notifications")
    return [" | ".join(c.plain for c in table.get_row_at(i)) for i in range(table.row_count)]  # type: ignore[attr-defined]


async def test_a_refused_delivery_is_counted_shown_with_its_reason_and_cleared_by_a_look(
    announced: tuple[Path, list[str]], make_app, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, paths = announced
    app = make_app(repo)
    async with at_model(app) as pilot:
        assert "notification" not in top_bar(app)  # nothing failed yet
        modal = await plan_for(pilot, app, "p", "staging")
        await fill(pilot, modal, reason="dev ran clean")
        await confirm(pilot, app, modal)
        assert isinstance(app.screen, OverviewScreen) and sorted(paths) == ["/ok", "/refused"]
        assert app.unseen_failures == 1
        assert "✗ 1 notification failed (N)" in top_bar(app)

        await press(pilot, app, "N")
        screen = app.screen
        assert isinstance(screen, NotificationsScreen)
        shown = rows(screen)
        assert len(shown) == 2
        by_channel = {r.split(" | ")[2]: r for r in shown}
        assert " | promoted | ops | ✓ sent | fraud-card staging | sent to json://127.0.0.1" in by_channel["ops"]
        refused = by_channel["pager"]
        assert " | promoted | pager | ✗ FAILED | fraud-card staging | json://127.0.0.1: " in refused
        assert "503" in refused or "unavailable" in refused.lower()  # Apprise's words for the refusal
        detail = str(screen.query_one("#notification-detail").render())
        assert detail.startswith(("✓ sent promoted → ops", "✗ FAILED promoted → pager"))
        note = str(screen.query_one("#notifications-note").render())
        assert "2 deliveries, newest first · 1 failed (1 since the last look)" in note
        assert app.unseen_failures == 0 and "notification" not in top_bar(app)  # looked at

        await press(pilot, app, "escape")
        assert isinstance(app.screen, OverviewScreen) and "notification" not in top_bar(app)

    # the same records as the CLI's log, in the same order (the app holds stdout while it runs)
    rc, out, _ = cli(capsys, repo, "notify", "log", "--json")
    logged = json.loads(out)["deliveries"]
    assert rc == 0 and [(d["channel"], d["ok"]) for d in logged] == [(r.split(" | ")[2], "✓" in r) for r in shown]
    assert TOKEN not in "\n".join(shown) + out

    again = make_app(repo)  # a restart: the look was kept
    async with again.run_test(size=(120, 30)) as pilot:
        await settle(pilot, again)
        assert again.unseen_failures == 0 and "notification" not in top_bar(again)


def _hostile(repo: Path, text: str) -> None:
    path = journal.journal_path(repo)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


async def test_the_log_is_shown_literally_newest_first_with_secrets_masked(repo: Path, make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    """A journal is only as trusted as the clone: markup, escapes and a known secret in it stay harmless."""
    from mlrelease.secrets import remember

    remember(TOKEN, "OPS_URL")
    at = "2026-03-10T11:00:00Z"
    lines = [
        {"event": "promoted", "channel": "ops", "ok": True, "detail": "sent to json://hooks.example.com", "at": "2026-03-10T10:00:00Z"},
        "not json at all",
        {"event": "[@click=app.quit]promoted", "channel": "ops\x1b[2J", "ok": False, "detail": f"[bold]boom[/] token {TOKEN}", "at": at},
        {"event": "no time"},
    ]
    _hostile(repo, "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines))
    app = make_app(repo)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        assert app.unseen_failures == 1 and "✗ 1 notification failed (N)" in top_bar(app)
        await press(pilot, app, "N")
        assert isinstance(app.screen, NotificationsScreen)  # the click markup did not quit the app
        shown = rows(app.screen)
        assert shown[0] == "2026-03-10 11:00 | [@click=app.quit]promoted | ops\\x1b[2J | ✗ FAILED | — | [bold]boom[/] token ***"
        assert shown[1].startswith("2026-03-10 10:00 | promoted | ops | ✓ sent")
        assert len(shown) == 2  # the lines that are not deliveries are left out
        assert TOKEN not in str(app.screen.query_one("#notification-detail").render())


async def test_an_empty_log_says_where_notifications_come_from(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "N")
        note = str(app.screen.query_one("#notifications-note").render())
        assert "no notifications recorded on this clone" in note and "docs/notifications.md" in note


def test_failures_count_from_the_last_look_even_when_the_seen_entry_rotated_away(repo: Path) -> None:
    def delivery(hour: int, ok: bool) -> Delivery:
        return Delivery("promoted", "ops", ok, "x", datetime(2026, 3, 10, hour, tzinfo=UTC), "fraud-card", "staging")

    assert journal.unseen_failures(repo) == 0  # no journal yet
    journal.append(repo, (delivery(1, False), delivery(2, True)))
    assert journal.unseen_failures(repo) == 1  # never looked: every failure counts
    journal.mark_seen(repo)
    assert journal.unseen_failures(repo) == 0
    journal.append(repo, (delivery(3, False), delivery(3, False)))
    assert journal.unseen_failures(repo) == 2
    journal.mark_seen(repo)
    path = journal.journal_path(repo)
    assert path is not None
    path.write_text(path.read_text().splitlines()[0] + "\n")  # the entry seen is gone (the journal keeps the newest 1,000)
    journal.append(repo, (delivery(4, False),))
    assert journal.unseen_failures(repo) == 1  # older entries than the one seen still do not count
    assert [d.at.hour for d in journal.read(repo, failed_only=True)] == [4, 1]
