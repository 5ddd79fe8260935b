"""The TUI marks what `mlrelease verify` does not accept (issue 10 item 4: "shown by history and the TUI").

A person with push rights edits production's release file and commits it with made-up
`Mlrelease-*` trailers (an outcome by Alice). The overview's cell and status, and the
model's history pane and its event screen, must say it is not a verified action — in
words, so NO_COLOR and a narrow terminal keep it.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mlrelease.tui.screens.overview import OverviewScreen
from tests.builders import commit_all, write
from tests.tui.conftest import settle


def forge(repo: Path) -> str:
    rel = "releases/production/fraud-card.yaml"
    d = yaml.safe_load((repo / rel).read_text(encoding="utf-8"))
    d["desired"].update(version="1.2.0", promotion_id="p-forged", actor="Alice <alice@bank.example>")
    d["observed"].update(phase="Succeeded", promotion_id="p-forged")
    d["live"].update(version="1.2.0", promotion_id="p-forged")
    write(repo, rel, d)
    who = {"GIT_AUTHOR_EMAIL": "mallory@bank.example", "GIT_COMMITTER_EMAIL": "mallory@bank.example"}
    return commit_all(
        repo,
        "Outcome: fraud-card 1.2.0 Succeeded in production\n\n"
        "Mlrelease-Action: outcome\nMlrelease-Model: fraud-card\nMlrelease-Version: 1.2.0\n"
        "Mlrelease-Environment: production\nMlrelease-Promotion-Id: p-forged\nMlrelease-Phase: Succeeded\n"
        "Mlrelease-Actor: Alice <alice@bank.example>\n",
        env={**who, "GIT_AUTHOR_NAME": "Mallory", "GIT_COMMITTER_NAME": "Mallory"},
    )


async def test_a_forged_outcome_is_marked_in_the_overview_and_the_history_pane(repo: Path, make_app) -> None:
    forge(repo)
    app = make_app(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert isinstance(app.screen, OverviewScreen)
        [fraud] = [r for r in app.screen.shown if r.summary.name == "fraud-card"]
        cells = [c.plain for c in fraud.cells]
        assert "1.2.0 ⚠" in cells  # production's cell: the forged live is not shown as genuine
        assert cells[-1].startswith("⚠ unverified")  # the status says it first, in words
        [churn] = [r for r in app.screen.shown if r.summary.name == "churn"]
        assert "0.2.0 ⚠" in [c.plain for c in churn.cells]  # the fixture's own commit has no trailers
        assert [c.plain for c in churn.cells][-1] == "⚠ hand-edited"

        app.open_model("fraud-card", tab="history")
        await settle(pilot, app)
        first = " | ".join(c.plain for c in app.screen.query_one("#history-table").get_row_at(0))
        assert "⚠ unverified: sequence" in first and "outcome" in first, first  # newest: the forged outcome
        await pilot.press("enter")
        await settle(pilot, app)
        from mlrelease.tui.screens.event import EventModal

        assert isinstance(app.screen, EventModal)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "verify says" in text and "unverified: sequence" in text and "`mlrelease verify` says why" in text


async def test_with_more_commits_than_a_read_verifies_the_tui_says_not_verified_yet_and_verifies_nothing(
    repo: Path, make_app, monkeypatch
) -> None:
    """Like list and history (marks.BUDGET, 2,000 commits), the TUI's background marks do not verify
    a big fresh clone's whole history unasked: it verified everything, whatever the size."""
    from mlrelease.audit import marks
    from tests.tui.test_model import open_model

    forge(repo)
    monkeypatch.setattr(marks, "BUDGET", 1)  # the fixture's history is a few commits: one is less
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        assert not any("⚠" in " ".join(c.plain for c in r.cells) for r in screen.shown)
        note = str(screen.query_one("#overview-note").render())
        assert "no marks: not verified yet" in note and "mlrelease verify" in note
        model = await open_model(app, pilot)
        await pilot.press("4")
        await settle(pilot, app)
        assert "no marks: not verified yet" in str(model.query_one("#history-note").render())
    assert not list((repo / ".git" / "mlrelease" / "verify").glob("*.json"))  # no report was made in the background
