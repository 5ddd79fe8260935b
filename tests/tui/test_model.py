"""The model view (versions, trend, lineage, history, telemetry, drift) and the compare view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Tree

from mlrelease.tui.app import MlreleaseApp
from mlrelease.tui.screens.compare import CompareScreen
from mlrelease.tui.screens.model import ModelScreen
from mlrelease.tui.widgets.chart import Chart
from tests.builders import commit_all, make_registry, version, write
from tests.tui.conftest import press, settle

PROFILE = {
    "rows": 1000,
    "features": {
        "amount": {"type": "numeric", "edges": [10, 100], "fractions": [0.3, 0.5, 0.2]},
        "channel": {"type": "categorical", "fractions": {"chip": 0.6, "online": 0.4}},
    },
}


def snapshot(day: int, calls: int, precision: float, online: float) -> dict[str, Any]:
    return {
        "at": f"2026-03-0{day}T00:00:00Z",
        "version": "1.0.0",
        "calls": calls,
        "errors": calls // 100,
        "latency_ms": {"p50": 5.0, "p95": 12.0 + day, "p99": 30.0},
        "metrics": {"precision": precision},
        "memory_mb": 900.0 + day,
        "cpu": 1.5,
        "callers": {"card-gateway": calls * 0.75, "case-manager": calls * 0.25},
        "profile": {
            "rows": calls,
            "features": {
                "amount": {"type": "numeric", "edges": [10, 100], "fractions": [0.3, 0.5, 0.2]},
                "channel": {"type": "categorical", "fractions": {"chip": 1 - online, "online": online}},
            },
        },
    }


def telemetry_registry(root: Path) -> Path:
    make_registry(root, commit=False)
    write(root, "models/fraud-card/versions/1.0.0.yaml", version("fraud-card", "1.0.0", f1=0.80, profile=PROFILE))
    snapshots = [snapshot(d, 1000 * d, 0.85 - d * 0.01, 0.4 + d * 0.08) for d in range(1, 5)]
    write(root, "telemetry/production/fraud-card.yaml", {"model": "fraud-card", "environment": "production", "snapshots": snapshots})
    commit_all(root, "registry with telemetry")
    return root


async def open_model(app: MlreleaseApp, pilot: Any, name: str = "fraud-card", tab: str | None = None) -> ModelScreen:
    await settle(pilot, app)
    app.open_model(name, tab=tab)
    await settle(pilot, app)
    screen = app.screen
    assert isinstance(screen, ModelScreen)
    return screen


def row_text(screen: ModelScreen, table: str, row: int) -> str:
    return " | ".join(c.plain for c in screen.query_one(table).get_row_at(row))


async def test_versions_show_deltas_against_live_and_where_each_runs(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(180, 40)) as pilot:
        screen = await open_model(app, pilot)
        assert row_text(screen, "#versions-table", 0).startswith(
            " | 1.2.0 | 2026-03-01 10:00 | Alice | 0.850 ▲+0.050"
        )  # the e-mail is in lineage
        assert row_text(screen, "#versions-table", 0).endswith("| dev")
        assert "0.800 live" in row_text(screen, "#versions-table", 2) and row_text(screen, "#versions-table", 2).endswith("production")
        assert "70.0% =" in row_text(screen, "#versions-table", 1)  # same value: "=" and no delta
        note = str(screen.query_one("#versions-note").render())
        assert "deltas against 1.0.0, live in production" in note
        header = str(screen.query_one("#model-header").render())
        assert "owner team-fraud" in header and "production: 1.0.0" in header


async def test_trend_charts_a_metric_and_m_cycles_it(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_model(app, pilot)
        await pilot.press("2")
        assert screen.active_tab == "trend"
        chart = screen.query_one("#trend-chart", Chart)
        assert chart.shown is not None and chart.shown.values == (0.8, 0.83, 0.85)
        assert chart.shown.title.plain.startswith("f1 across 3 versions (goal: max)")
        assert "best 0.850 (1.2.0)" in str(screen.query_one("#trend-note").render())
        await pilot.press("m")
        assert not chart.shown.title.plain.startswith("f1")


async def test_lineage_follows_the_selected_version(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_model(app, pilot)
        await press(pilot, app, "3")
        tree = screen.query_one("#lineage-tree", Tree)
        labels = [str(n.label) for n in tree.root.children[0].children[2].children]
        assert labels[0].startswith("1.1.0") and labels[-1] == "root"
        await press(pilot, app, "1", "j", "3")
        assert str(tree.root.label).startswith("fraud-card@1.1.0")


async def test_opening_a_model_builds_the_versions_tab_only_and_each_other_tab_when_first_shown(repo: Path, make_app) -> None:
    """Opening a model costs one table: the six other tabs' widgets were mounted right after
    the first frame (Textual's ``Lazy``), which made opening 200 versions cost 0.25 s of CPU
    instead of 0.16 s (bench/tui_bench.py, issue 15)."""
    app = make_app(repo)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_model(app, pilot)
        assert [p.TAB for p in screen.panes()] == ["versions"]
        await press(pilot, app, "4")
        assert sorted(p.TAB for p in screen.panes()) == ["history", "versions"]
        assert screen.query_one("#history-table").row_count > 0
        await press(pilot, app, "1", "4")  # shown again: the same pane, not a second one
        assert sorted(p.TAB for p in screen.panes()) == ["history", "versions"]


async def test_a_model_opened_on_its_lineage_tab_shows_the_lineage(repo: Path, make_app) -> None:
    """The lineage follows the versions tab's selection: opened on Lineage, with the versions
    tab not mounted yet, it showed an empty tree ("▶ lineage") until the tab was left and shown again."""
    app = make_app(repo)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_model(app, pilot, tab="lineage")
        tree = screen.query_one("#lineage-tree", Tree)
        assert str(tree.root.label).startswith("fraud-card@1.2.0")


async def test_history_lists_events_newest_first(repo: Path, make_app) -> None:
    from mlrelease.release.plan import Request
    from mlrelease.release.service import ReleaseService

    service = ReleaseService(repo)
    service.execute(service.plan(Request("promote", "fraud-card", "1.2.0", "staging", reason="two weeks clean")))
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_model(app, pilot, tab="history")
        first = row_text(screen, "#history-table", 0)
        assert "outcome" in first or "promote" in first
        assert any("two weeks clean" in row_text(screen, "#history-table", i) for i in range(2))
        assert "1.1.0 → 1.2.0" in row_text(screen, "#history-table", 1)


async def test_telemetry_charts_and_drift_per_feature(tmp_path: Path, make_app) -> None:
    root = telemetry_registry(tmp_path / "r")
    app = make_app(root)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        row = next(r for r in app.screen.shown if r.summary.name == "fraud-card")
        assert row.cells[-2].plain == "~ drifting"  # production's figures; dev and staging have none
        screen = await open_model(app, pilot, tab="telemetry")
        status = str(screen.query_one("#telemetry-status").render())
        assert status.startswith("production 1.0.0") and "drifting" in status
        calls = screen.query_one("#chart-calls", Chart).shown
        assert calls is not None and calls.values == (1000.0, 2000.0, 3000.0, 4000.0) and calls.labels[0] == "03-01"
        metric = screen.query_one("#chart-metric", Chart).shown
        assert metric is not None and "precision" in metric.title.plain
        assert screen.query_one("#chart-memory", Chart).shown.values == (901.0, 902.0, 903.0, 904.0)
        assert "called by (2026-03-04) card-gateway 3,000 (75%), case-manager 1,000 (25%)" in status
        await pilot.press("6")
        assert row_text(screen, "#drift-table", 0).startswith("channel | ")
        assert "online 40.0%→72.0%" in row_text(screen, "#drift-table", 0)
        assert row_text(screen, "#drift-table", 1).startswith("amount | 0.000 | stable")
        summary = str(screen.query_one("#drift-summary").render())
        assert "baseline version manifest" in summary and "precision validation 0.850 → live 0.810 (worse)" in summary


async def test_telemetry_without_figures_says_so(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_model(app, pilot, name="churn", tab="telemetry")
        assert "no figures for 0.2.0" in str(screen.query_one("#telemetry-status").render())
        await pilot.press("6")
        assert screen.query_one("#drift-table").row_count == 0


async def test_mark_two_versions_and_compare(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_model(app, pilot)
        await pilot.press("space", "j", "j", "space")
        assert screen.marked == ["1.2.0", "1.0.0"]
        assert row_text(screen, "#versions-table", 0).startswith("●")
        await press(pilot, app, "c")
        compare = app.screen
        assert isinstance(compare, CompareScreen) and (compare.old, compare.new) == ("1.0.0", "1.2.0")
        summary = str(compare.query_one("#compare-summary").render())
        assert "fraud-card 1.0.0 → 1.2.0: 3 better, 0 worse, 3 same" in summary
        first = " | ".join(c.plain for c in compare.query_one("#compare-metrics").get_row_at(0))
        assert first == "precision | 0.850 | 0.900 | +0.050 | ▲ better | max"
        other = [
            " | ".join(c.plain for c in compare.query_one("#compare-other").get_row_at(i))
            for i in range(compare.query_one("#compare-other").row_count)
        ]
        assert "manifest | parent | — | 1.1.0 | " in other
        await pilot.press("escape")
        assert app.screen is screen


async def test_compare_without_marks_uses_what_is_live(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_model(app, pilot)
        await press(pilot, app, "c")
        assert isinstance(app.screen, CompareScreen) and (app.screen.old, app.screen.new) == ("1.0.0", "1.2.0")
        await pilot.press("escape", "G", "c")  # the live version itself: nothing to compare with
        await settle(pilot, app)
        assert app.screen is screen


async def test_a_broken_manifest_opens_the_error_modal_not_a_traceback(tmp_path: Path, make_app) -> None:
    from mlrelease.tui.screens.modals import ErrorModal

    root = make_registry(tmp_path / "r")
    write(root, "models/churn/versions/0.2.0.yaml", "model: churn\nversion: 0.2.0\nmetrics: {f1: high}\n")
    app = make_app(root)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        app.open_model("churn")
        await settle(pilot, app)
        assert isinstance(app.screen, ErrorModal)
        message = str(app.screen.query_one("#error-message").render())
        assert message.startswith("models/churn/versions/0.2.0.yaml:")
        assert app.activity[-1].what == "reading the model failed"
