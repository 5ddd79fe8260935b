"""[ and ] move the dashboard through the release history (issue 14.1): the past is read-only and says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.timetravel import moment, step
from mlrelease.tui.screens.model import ModelScreen
from mlrelease.tui.screens.overview import OverviewScreen
from tests.builders import commit_all, model, release, version, write
from tests.release_helpers import head
from tests.test_time_travel import promote_at
from tests.tui.conftest import press

NOW = datetime.now(UTC).replace(microsecond=0)
T1, T2, T3 = NOW + timedelta(days=1), NOW + timedelta(days=2), NOW + timedelta(days=3)


def _history(repo: Path) -> None:
    """production: 1.0.0 (the fixture), then 1.1.0 at T1, 1.2.0 at T3; a register-like commit at T2 in between."""
    promote_at(repo, T1, "fraud-card", "1.1.0", "production")
    (repo / "NOTES.md").write_text("not a release\n")
    stamp = T2.isoformat()
    commit_all(repo, "Notes", env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    promote_at(repo, T3, "fraud-card", "1.2.0", "production")


def _production(app) -> str | None:  # type: ignore[no-untyped-def]
    view = app.overview
    summary = next(m for m in view.models if m.name == "fraud-card")
    return next(e.live for e in summary.environments if e.environment == "production")


def test_step_finds_the_release_event_before_and_after(repo: Path) -> None:
    _history(repo)
    tip = head(repo)
    back = step(repo, tip, -1)
    assert back is not None and back.committed == T1 and "1.1.0" in back.subject  # the state before 1.2.0
    assert step(repo, back.commit, 1) is not None and step(repo, back.commit, 1).committed == T3  # type: ignore[union-attr]
    assert step(repo, tip, 1) is None  # nothing after the tip
    notes = moment(repo, T2 + timedelta(hours=1)).commit  # between events: back is the one before T1's
    earlier = step(repo, notes, -1)
    assert earlier is not None and earlier.committed < T1
    later = step(repo, notes, 1)
    assert later is not None and later.committed == T3


async def test_brackets_step_through_the_past_read_only_and_back_to_the_present(repo: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    _history(repo)
    before = head(repo)
    app = make_app(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, app)
        assert _production(app) == "1.2.0" and "THE PAST" not in app.status_line().plain
        await press(pilot, app, "left_square_bracket")
        assert _production(app) == "1.1.0"
        assert f"THE PAST: as of {format_timestamp(T1)}, actions disabled" in app.status_line().plain
        count = len(app.activity)
        await press(pilot, app, "p")
        assert app.activity[count:] and app.activity[-1].outcome.startswith("refused: read-only")
        await press(pilot, app, "left_square_bracket")
        assert _production(app) == "1.0.0"
        await press(pilot, app, "right_square_bracket")
        assert _production(app) == "1.1.0"
        await press(pilot, app, "right_square_bracket")
        assert _production(app) == "1.2.0" and "THE PAST" in app.status_line().plain  # the last event, still the past
        await press(pilot, app, "right_square_bracket")
        assert "THE PAST" not in app.status_line().plain and not app.readonly  # the present, actions again
        assert app.session.ref is None
    assert head(repo) == before


async def test_opened_at_a_date_the_present_stays_read_only(repo: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    _history(repo)
    found = moment(repo, T2)
    app = make_app(repo, ref=found.commit, readonly=True, as_of=found.asked)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, app)
        assert _production(app) == "1.1.0"
        await press(pilot, app, "right_square_bracket")
        assert _production(app) == "1.2.0"
        await press(pilot, app, "right_square_bracket")
        assert "THE PAST" not in app.status_line().plain and app.readonly and "READ-ONLY" in app.status_line().plain


async def test_a_model_view_open_on_a_model_that_did_not_exist_yet_returns_to_the_overview(repo: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    """Stepping back to before a model was registered: a note and the overview, never an error dialog."""
    _history(repo)
    t4 = NOW + timedelta(days=4)
    write(repo, "models/scorer/model.yaml", model("scorer"))
    write(repo, "models/scorer/versions/1.0.0.yaml", version("scorer", "1.0.0"))
    write(repo, "releases/production/scorer.yaml", release("scorer", "production", "1.0.0"))
    commit_all(repo, "scorer", env={"GIT_AUTHOR_DATE": t4.isoformat(), "GIT_COMMITTER_DATE": t4.isoformat()})
    app = make_app(repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, app)
        app.open_model("scorer")
        await press(pilot, app)
        assert isinstance(app.screen, ModelScreen)
        await press(pilot, app, "left_square_bracket")
        assert isinstance(app.screen, OverviewScreen) and "THE PAST" in app.status_line().plain
        assert [m.name for m in app.overview.models] == ["churn", "fraud-card"]
