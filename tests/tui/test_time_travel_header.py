"""The dashboard opened with --at (issue 14.1): its header says it shows the past; actions are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.timetravel import moment
from tests.release_helpers import head
from tests.test_time_travel import promote_at


async def test_the_tui_opened_at_a_moment_says_it_shows_the_past_and_refuses_actions(repo: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    promote_at(repo, later, "fraud-card", "1.1.0", "production")
    before = head(repo)
    found = moment(repo, later - timedelta(hours=1))
    app = make_app(repo, ref=found.commit, readonly=True, as_of=found.asked)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        line = app.status_line().plain
        assert f"THE PAST: as of {format_timestamp(found.asked)}, actions disabled" in line
        count = len(app.activity)
        await pilot.press("p")
        await pilot.pause()
        assert app.activity[count:] and app.activity[-1].outcome.startswith("refused: read-only")
        assert "READ-ONLY" not in line  # one flag, not two
    assert head(repo) == before
