"""What trying the TUI in tmux at 80×24 turned up (session 3), each with the test that shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import commit_all, version, write
from tests.cli_helpers import cli
from tests.tui.conftest import settle


async def test_a_narrow_versions_table_never_cuts_a_number(repo: Path, make_app) -> None:
    """At 80 columns the metric columns shrink: a change of −0.009 showed as "▼−0.00" (cut), which reads as no
    change at all. A cell that does not fit keeps its value and its ▲/▼ mark and leaves the figure out."""
    new = version("fraud-card", "1.3.0", f1=0.791, parent="1.2.0", author="Alexandra Konstantinopoulou <alexandra@example.com>")
    new["metrics"]["value_detection_rate"] = 0.8456
    write(repo, "models/fraud-card/versions/1.3.0.yaml", new)
    commit_all(repo, "Register 1.3.0")
    app = make_app(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.open_model("fraud-card")
        await settle(pilot, app)
        table = app.screen.query_one("#versions-table")
        labels = [c.label.plain for c in table.columns.values()]  # type: ignore[attr-defined]
        widths = [c.width for c in table.columns.values()]  # type: ignore[attr-defined]
        assert "f1" in labels and "Created" in labels  # not "Created (U"
        created = labels.index("Created")
        assert all(len(table.get_row_at(r)[created].plain) == 10 for r in range(table.row_count))  # type: ignore[attr-defined]
        for i in (labels.index("f1"), next(i for i, label in enumerate(labels) if label.startswith("value_d"))):
            for row in range(table.row_count):  # type: ignore[attr-defined]
                cell = table.get_row_at(row)[i]  # type: ignore[attr-defined]
                assert cell.cell_len <= widths[i], (labels[i], cell.plain, widths[i])
        f1 = table.get_row_at(0)[labels.index("f1")].plain  # type: ignore[attr-defined]
        assert f1 in ("0.791 ▼−0.01", "0.791 ▼−0.009"), f1  # rounded to fit, or whole: never "▼−0.00"


async def test_a_reason_longer_than_its_column_ends_in_an_ellipsis(repo: Path, make_app, capsys: pytest.CaptureFixture[str]) -> None:
    """The history's Reason was cut at its last whole word ("Pruned trees for the latency"): it read as the whole
    reason. A cell that does not fit its column ends in "…" (Enter shows the event whole)."""
    reason = "Pruned trees for the latency budget, " * 4 + "and signed off"
    rc, _, err = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", reason, "--yes")
    assert rc == 0, err
    app = make_app(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.open_model("fraud-card", tab="history")
        await settle(pilot, app)
        table = app.screen.query_one("#history-table")
        reason = table.get_row_at(0)[-1]  # type: ignore[attr-defined]
        assert reason.plain.startswith("Pruned trees") and reason.cell_len > list(table.columns.values())[-1].width  # type: ignore[attr-defined]
        line = "".join(segment.text for segment in table.render_line(1))  # the first row under the header
        assert "Pruned trees for the latency" in line and line.rstrip().endswith("…"), line
