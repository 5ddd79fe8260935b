"""``list`` counts what is not verified yet while it parses (marks.count_ahead).

A first ``list`` at 100,000 versions spent 0.6 s of one core in ``git rev-list --count``
of the whole history only to say how many commits are not verified yet. It is now started
on a thread before the overview parses, and :func:`marks.report` takes that count: the
answers must be those of counting in place — the same message, the same resume point,
no count started when the tip's report is kept, and nothing left pending.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrelease.audit import marks
from mlrelease.registry.loader import Registry
from tests.builders import commit_all, write
from tests.test_four_eyes import people as people  # the scenarios' fixture
from tests.test_verify_incremental import SCENARIOS, history, run_scenario


def outcome(repo: Path, budget: int, *, ahead: bool) -> tuple[str, object]:
    with Registry(repo) as reg:
        if ahead:
            marks.count_ahead(reg)
        try:
            found = marks.findings(reg, budget)
        except marks.NotVerifiedYet as exc:
            return "not verified", str(exc)
        finally:
            assert not marks._AHEAD, "a count was left pending"
        return "found", found


def test_a_count_made_ahead_says_what_counting_in_place_says(request: pytest.FixtureRequest, repo: Path) -> None:
    run_scenario(request, SCENARIOS["test_verify::test_forged_outcome_trailers_on_a_hand_edit_are_found_and_marked"])
    commits = len(history(repo))
    first = outcome(repo, 1, ahead=True)
    assert first == outcome(repo, 1, ahead=False)
    assert first[0] == "not verified" and str(first[1]).startswith(f"not verified yet: {commits} commits in its history")
    verified = outcome(repo, commits, ahead=True)  # within the budget: verified on the way, report kept
    assert verified[0] == "found"
    with Registry(repo) as reg:
        marks.count_ahead(reg)  # the tip's report is kept: nothing to count
        assert not marks._AHEAD
    write(repo, "NOTES.md", "one more commit\n")
    commit_all(repo, "notes")
    assert outcome(repo, 1, ahead=True) == outcome(repo, 1, ahead=False) == verified  # resumed from the kept tip: 1 commit
    for n in range(2):
        write(repo, "NOTES.md", f"more {n}\n")
        commit_all(repo, f"notes {n}")
    behind = outcome(repo, 1, ahead=True)
    assert behind == outcome(repo, 1, ahead=False)
    assert str(behind[1]).startswith("not verified yet: 2 commits since the last verify")


def test_the_overview_parsed_on_every_core_is_the_one_parsed_here(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`list` parses its 2,000 files at 100k in one pooled call now: broken files still say the same problems in the same order."""
    from mlrelease.registry import parallel
    from mlrelease.registry.overview import overview

    write(repo, "models/churn/model.yaml", "name: churn\nowner: [\n")
    write(repo, "releases/staging/fraud-card.yaml", "model: fraud-card\nlive: {version: 1.1.0\n")
    write(repo, "models/fraud-card/rejections.yaml", "rejections: 3\n")
    with Registry(repo, use_cache=False) as reg:
        here = overview(reg)
    monkeypatch.setattr(parallel, "PARALLEL_AT", 1)
    with Registry(repo, use_cache=False) as reg:
        assert parallel.pooled(3)
        pooled = overview(reg, parallel=True)
    assert pooled == here
    assert len(here.problems) >= 3


def test_a_list_that_fails_before_its_marks_leaves_no_count_behind(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The count is started before the overview parses; a broken registry stops ``list`` there, and the count must go too.

    A count left in the module's table outlived its command: in a process that runs more than
    one (the test suite, a long-lived caller of the CLI) the next report of another registry
    found it still there.
    """
    from mlrelease.cli import main

    write(repo, "mlrelease.yaml", "environments: [\n")  # the overview cannot start
    commit_all(repo, "broken config")
    assert main(["--repo", str(repo), "list"]) == 1
    capsys.readouterr()
    assert not marks._AHEAD
