"""The bundled example at 80×24, as seen in tmux (issue 15 item 1, what was left): no word cut
where a shorter wording fits, a cut detail ends in "…", no table scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mlrelease import example
from mlrelease.tui.app import MlreleaseApp
from mlrelease.tui.config import UserConfig
from mlrelease.tui.screens.overview import OverviewScreen
from mlrelease.tui.session import Session
from tests.tui.conftest import press, settle

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:  # no developer git config leaks into the build
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        yield example.build(tmp_path_factory.mktemp("example") / "registry").root


def demo_app(root: Path) -> MlreleaseApp:
    return MlreleaseApp(Session(root), clock=lambda: NOW, watch=False, user_config=UserConfig())


def screen_lines(app: Any) -> list[str]:
    """What the terminal shows, line by line."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


async def test_overview_at_80x24_words_health_and_status_shorter_instead_of_cutting_them(demo: Path) -> None:
    app = demo_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        lines = screen_lines(app)
        mobile = next(line for line in lines if line.startswith(" fraud-mobile"))
        assert "↻ retrain " in mobile and "ret…" not in mobile  # was "↻ ret…"
        card = next(line for line in lines if line.startswith(" fraud-card"))
        assert "◆ 2.3.0 ◇ 0/2" in card  # was "◆ 2.3.0→production …": the target and "approvals" are in the detail line
        txn = next(line for line in lines if line.startswith(" txn-anomaly"))
        assert "✗ failed ◆ 0.9.0" in txn and "→pr…" not in txn
        assert not any("…" in line and " …" not in line for line in lines[2:6]), lines[2:6]  # only whole parts, then "…"


async def test_overview_detail_line_cut_at_two_lines_ends_in_an_ellipsis(demo: Path) -> None:
    app = demo_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        names = [r.summary.name for r in screen.shown]
        screen.query_one("#models").move_cursor(names.index("fraud-mobile"))
        await settle(pilot, app)
        detail = str(screen.query_one("#overview-detail").render()).splitlines()
        assert len(detail) == 2 and detail[1].endswith("…"), detail  # the retrain reason was cut mid-sentence, silently


@pytest.mark.parametrize(("tab", "table"), [("3", "#lineage-tree"), ("6", "#drift-table"), ("7", "#ab-table")])
async def test_tables_of_the_model_view_fit_80_columns_without_scrolling_sideways(demo: Path, tab: str, table: str) -> None:
    """A table wider than the screen drew a horizontal scrollbar's glyphs under its last row and cut cells without "…"."""
    app = demo_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.open_model("fraud-card")
        await settle(pilot, app)
        await press(pilot, app, tab)
        widget = app.screen.query_one(table)
        assert (widget.row_count if hasattr(widget, "row_count") else widget.last_line) > 0
        assert not widget.show_horizontal_scrollbar and widget.max_scroll_x == 0
        if tab == "3":  # the tree's long lines (URIs, e-mails) end in "…" at its edge
            assert any(line.rstrip().endswith("…") for line in screen_lines(app))
