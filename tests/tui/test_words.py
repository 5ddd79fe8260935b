"""What the dashboard says must be true and readable (issue 15, items 3, 4, 5 and 7).

Each test names the defect it guards against; all drive the app through Pilot on a real
registry in a temporary git repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from mlrelease.release.plan import Request
from mlrelease.release.service import ReleaseService
from mlrelease.tui.config import UserConfig
from tests.builders import commit_all, config, make_registry, model, version, write
from tests.tui.conftest import press, settle
from tests.tui.test_actions import plan_for, select_model
from tests.tui.test_model import open_model
from tests.tui.test_plan_modal import strict_registry

LONG_REASON = "fraud ops asked for it: " + "the new features cut false positives on card-not-present traffic; " * 5 + "END-OF-REASON"


def screen_text(app: Any) -> str:
    """Every Static's text on the current screen (what a person could read there)."""
    return "\n".join(str(w.render()) for w in app.screen.query(Static))


def chart_lines(chart: Any, width: int = 100) -> list[str]:
    console = Console(width=width, color_system=None, record=True)
    console.print(chart.render())
    return console.export_text().splitlines()


# ---- 15.3 NO_COLOR -----------------------------------------------------------------------------


async def test_no_color_draws_no_colour_and_no_faint_text(repo: Path, make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        segments = [Segment("↻ retrain due", Style(color="magenta", bgcolor="grey11")), Segment("✗ 1 gate", Style(color="red", dim=True))]
        for line_filter in app.get_line_filters():
            segments = line_filter.apply(segments, Color(0, 0, 0))
        for segment in segments:
            style = segment.style or Style()
            assert style.color is None or style.color.is_default, f"{segment.text!r} is drawn in {style.color}"
            assert style.bgcolor is None or style.bgcolor.is_default, f"{segment.text!r} is drawn on {style.bgcolor}"
            assert not style.dim, f"{segment.text!r} is faint"


async def test_the_override_reads_differently_ticked_and_unticked(tmp_path: Path, make_app) -> None:
    app = make_app(strict_registry(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        select_model(app, "fraud-card")
        modal = await plan_for(pilot, app, "p", "staging")
        box = modal.query_one("#force", Checkbox)
        unticked = str(box.render())
        box.value = True
        await settle(pilot, app)
        assert str(box.render()) != unticked, "only colour tells a ticked override from an unticked one"


# ---- 15.4 history detail -------------------------------------------------------------------------


async def test_enter_on_a_history_row_opens_the_whole_event(repo: Path, make_app) -> None:
    service = ReleaseService(repo)
    service.execute(service.plan(Request("promote", "fraud-card", "1.2.0", "staging", reason=LONG_REASON)))
    app = make_app(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_model(app, pilot, tab="history")
        table = screen.query_one("#history-table")
        row = next(i for i in range(table.row_count) if "promote" in " ".join(c.plain for c in table.get_row_at(i)))
        table.move_cursor(row=row)
        await press(pilot, app, "enter")
        assert isinstance(app.screen, ModalScreen), "Enter on a history row opened nothing"
        text = screen_text(app)
        assert "END-OF-REASON" in text.replace("\n", " "), "the reason is not shown whole"
        assert "Mlrelease-Action: promote" in text and "Mlrelease-Phase: Succeeded" in text  # every trailer, both commits
        assert re.search(r"action id\s+\S+", text) and "record" in text  # the backend
        await pilot.press("escape")
        assert app.screen is screen


# ---- 15.5 words that must be true -----------------------------------------------------------------


async def test_lineage_says_a_consumer_calls_this_version_only_where_it_runs(tmp_path: Path, make_app) -> None:
    root = make_registry(tmp_path / "r", commit=False)
    write(
        root,
        "models/fraud-card/model.yaml",
        model("fraud-card", consumers=[{"name": "card-gateway", "environments": ["staging", "production"]}]),
    )
    commit_all(root, "a consumer in staging and production")
    app = make_app(root)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_model(app, pilot)
        await pilot.press("j", "3")  # 1.1.0: live in staging only
        await settle(pilot, app)
        tree = screen.query_one("#lineage-tree")
        assert str(tree.root.label).startswith("fraud-card@1.1.0")
        labels = [str(node.label) for node in tree.root.children[1].children[1].children]
        gateway = next(label for label in labels if label.startswith("card-gateway"))
        assert "calls this version in staging" in gateway
        assert "in staging, production" not in gateway, gateway


async def test_the_unpin_plan_says_what_stays_live(repo: Path, make_app) -> None:
    service = ReleaseService(repo)
    service.execute(service.plan(Request("promote", "fraud-card", "1.1.0", "production", reason="setup")))
    service.execute(service.plan(Request("rollback", "fraud-card", None, "production", reason="bad")))  # pins production
    app = make_app(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        select_model(app, "fraud-card")
        modal = await plan_for(pilot, app, "u", "production")
        text = screen_text(app)
        assert modal.plan.version is not None and modal.plan.version in text
        assert "live now nothing" not in text, "an unpin changes nothing that runs"


async def test_the_activity_log_does_not_mark_a_refusal_or_a_cancel_as_done(tmp_path: Path, make_app) -> None:
    app = make_app(strict_registry(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        select_model(app, "fraud-card")
        modal = await plan_for(pilot, app, "p", "staging")  # refused by a failing gate
        modal.query_one("#cancel", Button).focus()
        await press(pilot, app, "n")
        await press(pilot, app, "at")
        table = app.screen.query_one("#activity")
        rows = [" | ".join(c.plain for c in table.get_row_at(i)) for i in range(table.row_count)]
        assert len(rows) == 2 and not [r for r in rows if "✓" in r], rows


async def test_the_top_bar_names_the_registry_from_mlrelease_yaml(repo: Path, make_app) -> None:
    app = make_app(repo)  # the folder is "registry"; mlrelease.yaml says name: test-registry
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.status_line().plain.startswith("test-registry"), app.status_line().plain


async def test_help_prose_names_the_keys_as_remapped(repo: Path, make_app) -> None:
    app = make_app(repo, user_config=UserConfig(keymap={"model.mark": "v", "overview.filter": "f"}))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "question_mark")
        text = screen_text(app)
        assert "f filters" in text and "/ filters" not in text
        await pilot.press("escape")
        await open_model(app, pilot)
        await press(pilot, app, "question_mark")
        text = screen_text(app)
        assert "v marks a version" in text and "Space marks" not in text


async def test_the_read_only_key_bar_offers_no_action_keys(repo: Path, make_app) -> None:
    app = make_app(repo, readonly=True)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot, app)
        bar = str(app.screen.query_one("KeyBar").render())
        assert "Help" in bar and not [word for word in ("Promote", "Rollback", "Retrain", "Approve") if word in bar], bar


async def test_the_key_bar_keeps_help_and_quit_at_80_columns(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        bar = str(app.screen.query_one("KeyBar").render())
        assert "Help" in bar and "Quit" in bar and len(bar) <= 80, bar


async def test_no_regression_speaks_in_the_metrics_own_format(repo: Path, make_app) -> None:
    worse = version("fraud-card", "1.2.0", f1=0.85, parent="1.1.0")
    worse["metrics"]["value_detection_rate"] = 0.67  # live 1.1.0 has 70.0%
    write(repo, "models/fraud-card/versions/1.2.0.yaml", worse)
    cfg = config()
    cfg["environments"][1]["gates"] = {"no_regression": {"value_detection_rate": None}}
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "vdr worse")
    app = make_app(repo)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        select_model(app, "fraud-card")
        modal = await plan_for(pilot, app, "p", "staging")
        gate = next(g for g in modal.plan.gates if g.name == "no_regression:value_detection_rate")
        assert "67.0%" in gate.detail and "70.0%" in gate.detail
        assert "worse by 3.0%" in gate.detail, gate.detail


async def test_the_overview_trend_leaves_rejected_versions_out(repo: Path, make_app) -> None:
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", f1=0.10, parent="1.2.0"))
    commit_all(repo, "a bad version")
    ReleaseService(repo).execute(ReleaseService(repo).plan(Request("reject", "fraud-card", "1.3.0", None, reason="label leak")))
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        trend = app.statuses["fraud-card"].trend
        assert trend and 0.10 not in trend, trend


# ---- 15.7 the trend chart -------------------------------------------------------------------------


async def test_the_trend_chart_labels_versions_marks_live_and_floors_the_axis(repo: Path, make_app) -> None:
    ReleaseService(repo).execute(ReleaseService(repo).plan(Request("reject", "fraud-card", "1.1.0", None, reason="leak")))
    app = make_app(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_model(app, pilot)
        await press(pilot, app, "2")
        lines = chart_lines(screen.query_one("#trend-chart"))
        text = "\n".join(lines)
        for v in ("1.0.0", "1.1.0", "1.2.0"):
            assert v in text, f"version {v} is not labelled on the x-axis:\n{text}"
        ticks = [float(m.group(1)) for line in lines if (m := re.match(r"\s*(\d+\.\d+) [┤│]", line))]
        assert ticks and min(ticks) < 0.80, f"the y-axis starts at the smallest value (0.800):\n{text}"
        marks = next((line for line in lines if "L" in line and "✗" in line), "")
        assert marks, f"live (L) and rejected (✗) versions are not marked:\n{text}"
