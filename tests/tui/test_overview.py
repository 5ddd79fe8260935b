"""The overview: rows from the registry, background status, filter, sort, open, reload."""

from __future__ import annotations

import time
from pathlib import Path

from mlrelease.tui.screens.model import ModelScreen
from mlrelease.tui.screens.overview import OverviewScreen
from mlrelease.tui.widgets.rowlist import RowList
from tests.builders import commit_all, model, release, version, write
from tests.tui.conftest import press, settle


def texts(screen: OverviewScreen) -> list[str]:
    return [" | ".join(c.plain for c in row.cells) for row in screen.shown]


async def test_rows_show_live_versions_candidate_and_status(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        rows = texts(screen)
        # The fixture's release states were committed by hand (no Mlrelease-Action): verify says so, and so do the cells.
        assert rows[0].startswith("churn | team-crm | — | — | 0.2.0 ⚠ | f1 0.650")
        assert rows[0].endswith("⚠ hand-edited")
        fraud = rows[1]
        assert "◆ 1.2.0→staging" in fraud  # candidate and where it goes next (from the planner)
        assert "fraud-card | team-fraud | 1.2.0 ⚠ | 1.1.0 ⚠ | 1.0.0 ⚠" in fraud
        assert "f1 0.800 ▁▅█↗" in fraud  # headline of production's version, with its trend
        assert app.statuses["fraud-card"].failing_gates == ()
        assert "read at 12:00:00" in app.status_line().plain


async def test_status_names_failing_gates_approvals_pending_and_pin(tmp_path: Path, make_app) -> None:
    from tests.builders import config, make_registry

    root = make_registry(tmp_path / "r", commit=False)
    cfg = config()
    cfg["environments"][1]["gates"] = {"thresholds": {"f1": {"min": 0.9}}, "approvals": 2}
    write(root, "mlrelease.yaml", cfg)
    write(
        root,
        "releases/production/churn.yaml",
        release("churn", "production", "0.2.0", pin={"by": "Bob <bob@example.com>", "at": "2026-03-03T10:00:00Z"}),
    )
    write(root, "releases/dev/churn.yaml", release("churn", "dev", "0.2.0", phase="Pending"))
    commit_all(root, "all")
    app = make_app(root)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot, app)
        rows = texts(app.screen)
        assert "✗ 1 gate" in rows[1] and "◇ 0/2 approvals" in rows[1]
        assert app.statuses["fraud-card"].failing_gates == ("threshold:f1",)
        assert "… pending" in rows[0] and "⚑ pinned" in rows[0]
        assert "⚑0.2.0" in rows[0]  # the pin shows in the environment's cell too
        await pilot.press("j")
        detail = str(app.screen.query_one("#overview-detail").render())
        assert detail.startswith("1.2.0→staging fails: threshold:f1 · approvals 0 of 2")


async def test_filter_is_fuzzy_inverts_with_bang_and_clears_with_escape(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        await pilot.press("slash", "f", "r", "c")  # f…r…c: fraud-card, not churn
        assert [r.summary.name for r in screen.shown] == ["fraud-card"]
        for _ in range(3):
            await pilot.press("backspace")
        await pilot.press("exclamation_mark", "f", "r", "d")
        assert [r.summary.name for r in screen.shown] == ["churn"]
        assert "1 of 2 models match !'frd'" in str(screen.query_one("#overview-note").render())
        await pilot.press("escape")
        assert [r.summary.name for r in screen.shown] == ["churn", "fraud-card"]
        assert screen.query_one("#filter").has_class("hidden")


async def test_sort_cycles_columns_reverses_and_header_click_sorts(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        names = lambda: [r.summary.name for r in screen.shown]  # noqa: E731
        await pilot.press("S")  # model name, descending
        assert names() == ["fraud-card", "churn"]
        await pilot.press("s")  # owner
        assert names() == ["churn", "fraud-card"]  # team-crm < team-fraud
        table = screen.query_one(RowList)
        assert table.labels[1].plain == "Owner ▲"
        await pilot.press("s")  # dev: churn has nothing there, so it sorts last
        assert names() == ["fraud-card", "churn"]
        await pilot.click(RowList, offset=(3, 0))  # the Model header
        assert table.labels[0].plain == "Model ▲"
        await pilot.click(RowList, offset=(3, 0))  # again: reversed
        assert table.labels[0].plain == "Model ▼" and names() == ["fraud-card", "churn"]


async def test_enter_and_j_k_open_the_selected_model(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "j", "k", "j", "enter")
        assert isinstance(app.screen, ModelScreen) and app.screen.model_name == "fraud-card"
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_reload_key_and_the_watcher_pick_up_changes(repo: Path, make_app) -> None:
    from mlrelease.tui.config import UserConfig

    app = make_app(repo, watch=True, user_config=UserConfig(refresh_seconds=0.1))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        write(repo, "models/scoring/model.yaml", model("scoring", owner="team-risk"))
        write(repo, "models/scoring/versions/1.0.0.yaml", version("scoring", "1.0.0"))
        # The watcher polls every 0.1 s here; under load a poll and its re-read can take
        # seconds, so wait on the outcome with a generous wall-clock bound, not a count.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await pilot.pause(0.05)
            if app.overview and len(app.overview.models) == 3:
                break
        assert [m.name for m in app.overview.models] == ["churn", "fraud-card", "scoring"]
        commit_all(repo, "add scoring")
        head = app.head
        await press(pilot, app, "ctrl+r")
        assert app.head != head


async def test_a_broken_file_is_reported_and_the_rest_still_shows(repo: Path, make_app) -> None:
    write(repo, "models/churn/model.yaml", "owner: [unclosed\n")
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert [r.summary.name for r in screen.shown] == ["churn", "fraud-card"]
        note = str(screen.query_one("#overview-note").render())
        assert "1 registry problem(s), first: models/churn/model.yaml" in note


async def test_long_lists_scroll_and_page_in(tmp_path: Path, make_app) -> None:
    from tests.builders import make_registry

    root = make_registry(tmp_path / "r", commit=False)
    for i in range(130):
        write(root, f"models/m{i:03d}/model.yaml", model(f"m{i:03d}"))
        write(root, f"models/m{i:03d}/versions/1.0.0.yaml", version(f"m{i:03d}", "1.0.0"))
    for i in range(1, 131):
        write(root, f"models/churn/versions/0.3.{i}.yaml", version("churn", f"0.3.{i}"))
    commit_all(root, "many")
    app = make_app(root)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RowList)
        await pilot.press("G")
        assert table.cursor_row == 131 and app.screen.selected_name() == "m129"
        assert table.scroll_y > 100  # the cursor stays in view
        await pilot.press("g", "pagedown")
        assert table.cursor_row > 20
        app.open_model("churn")
        await settle(pilot, app)
        versions = app.screen.query_one("#versions-table")
        assert versions.row_count < versions.total_rows == 132  # rows are added a page at a time
        await pilot.press("G")
        assert versions.row_count == 132 and app.screen.selected_version() == "0.1.0"


async def test_fetch_says_how_far_behind_the_checkout_is(repo: Path, tmp_path: Path, make_app) -> None:
    from tests.builders import config, git

    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    write(other, "models/churn/model.yaml", model("churn", owner="team-elsewhere"))
    commit_all(other, "elsewhere")
    git(other, "push", "-q", "origin", "main")
    git(repo, "remote", "add", "origin", str(remote))
    write(repo, "mlrelease.yaml", config(remote={"name": "origin", "branch": "main"}))
    commit_all(repo, "remote configured")
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "F")
        assert app.activity[-1].outcome == "fetched origin/main: 1 new commit(s) not in your checkout yet (git pull to see them here)"


async def test_fetch_without_a_remote_says_so(repo: Path, make_app) -> None:
    app = make_app(repo)
    notes: list[str] = []
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        await press(pilot, app, "F")
    assert notes == ["no remote is configured in mlrelease.yaml (remote: {name, branch})"]


# ---- a filter keystroke at 1,000 models (issue 15: ≤ 100 ms, measured by bench/tui_bench.py) ----------


async def test_a_filter_keystroke_filters_as_the_value_changes_not_a_message_later(repo: Path, make_app) -> None:
    """The typed letter and the filtered list reach the terminal in one frame: the list was
    filtered on Input.Changed, a message handled after the frame that showed the letter."""
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        await pilot.press("slash")
        screen.query_one("#filter").value = "frc"  # no pause: nothing has been dispatched since
        assert [r.summary.name for r in screen.shown] == ["fraud-card"]
        assert "1 of 2 models match 'frc'" in str(screen.query_one("#overview-note").render())


async def test_a_refill_draws_only_the_rows_it_has_not_drawn_before(repo: Path, make_app, monkeypatch) -> None:
    """Narrowing the filter and widening it again shows rows already drawn: their lines are
    kept by row (they were joined and rendered again on every keystroke)."""
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        await pilot.pause()
        drawn: list[str] = []
        line_text = RowList._line_text
        monkeypatch.setattr(RowList, "_line_text", lambda self, cells: drawn.append(cells[0].plain) or line_text(self, cells))
        await pilot.press("f", "r", "c")
        await pilot.pause()
        await pilot.press("backspace", "backspace", "backspace")
        await pilot.pause()
        assert [d for d in drawn if not d.startswith("Model")] == []  # the header may be: the detail line below changed height


async def test_what_the_overview_holds_is_kept_out_of_the_collectors_scans_until_the_next_read(repo: Path, make_app) -> None:
    """With 1,000 models a full garbage collection scanning the rows cost 60–140 ms inside a
    keystroke, every few keystrokes (gc.callbacks in the benchmark's filter run)."""
    import gc

    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        assert gc.get_freeze_count() > 0
        scanned = {id(o) for o in gc.get_objects()}  # what a collection scans (frozen objects are not listed)
        assert not any(id(row.cells) in scanned for row in app.screen._rows)
    assert gc.get_freeze_count() == 0  # an app run inside another program gives its heap back when it ends


async def test_health_fills_first_and_the_status_says_where_its_gates_are_still_read(repo: Path, make_app, monkeypatch) -> None:
    """Issue 17: the background fill answers Health for every model first (one batch, as ``check``
    does), then trends, then the gates; until the gates are read the candidate says "→…"."""
    import threading

    from mlrelease.tui import app as app_module

    real = app_module.model_statuses
    steps: list[threading.Event] = [threading.Event() for _ in range(10)]
    fields: list[set[str]] = []

    def held(*args, **kwargs):
        for n, batch in enumerate(real(*args, **kwargs)):
            assert steps[n].wait(10), "the test did not let the fill go on"
            fields.append({k for f in batch.values() for k in f})
            yield batch

    monkeypatch.setattr(app_module, "model_statuses", held)
    app = make_app(repo)
    async with app.run_test(size=(200, 40)) as pilot:
        for _ in range(50):
            await pilot.pause()
            if len(getattr(app.screen, "shown", ())) == 2:
                break
        fraud = texts(app.screen)[1]
        assert "… reading" in fraud and "◆ 1.2.0→…" in fraud
        steps[0].set()
        for _ in range(50):
            await pilot.pause()
            if fields:
                break
        await pilot.pause()
        assert fields[0] == {"health", "health_detail", "retrain_due"}
        assert all("… reading" not in row for row in texts(app.screen))
        assert "◆ 1.2.0→…" in texts(app.screen)[1]  # the gates come later
        for step in steps:
            step.set()
        await settle(pilot, app)
        assert "◆ 1.2.0→staging" in texts(app.screen)[1]
        assert "→…" not in " ".join(texts(app.screen))


async def test_the_background_reads_start_after_the_frame_that_shows_the_rows(repo: Path, make_app, monkeypatch) -> None:
    """Issue 17: at 100k versions the status and marks workers, started with the read, shared the
    CPU with the first frame (its rows painted 0.9 s after the overview was read)."""
    from mlrelease.tui.app import MlreleaseApp

    drawn_when_started: list[set[str]] = []
    real = MlreleaseApp.load_statuses

    def started(self, view):
        rows = self.screen.query_one(RowList)
        drawn_when_started.append({cells[0].plain for cells, _ in rows._strips.values()})
        return real(self, view)

    monkeypatch.setattr(MlreleaseApp, "load_statuses", started)
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        assert drawn_when_started and {"churn", "fraud-card"} <= drawn_when_started[0]
