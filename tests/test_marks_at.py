"""The marks of an older commit (``list --at``, ``history --at``) from the kept report of a later tip.

A big registry's reads verify at most ``marks.BUDGET`` commits themselves, and ``mlrelease
verify`` keeps the report of the tip only: so at 100,000 versions ``list --at DATE`` said
"not verified yet" on every run and its answer was never kept (3.3 s each time). The walk
files every finding under the commit it is about and checks each commit against the
history before it, so the findings at an ancestor that the verified tip reaches in a
straight line are the tip's, less those of the commits after the ancestor. For every
forgery scenario of tests/test_verify.py and tests/test_four_eyes.py and every commit of
its history, those are exactly a full verify's at that commit; a merge between the two
(where the walk orders differ) is never used that way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlrelease.audit import marks
from mlrelease.audit.verify import verify
from mlrelease.registry.loader import Registry
from tests.builders import git
from tests.release_helpers import head
from tests.test_four_eyes import people as people  # the scenarios' fixture
from tests.test_verify_incremental import SCENARIOS, history, run_scenario


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_an_ancestors_findings_from_the_tips_report_are_a_full_verify_of_it(
    scenario: str, request: pytest.FixtureRequest, repo: Path
) -> None:
    run_scenario(request, SCENARIOS[scenario])
    tip = marks.report(Registry(repo))  # the tip's report kept, as `mlrelease verify` leaves it
    for at in history(repo)[:-1]:
        full = verify(Registry(repo, ref=at)).settle()
        after = set(git(repo, "rev-list", "HEAD", f"^{at}").split())
        if any(c.commit in after for c in tip.claims):  # accepted since: open at `at`, not derived
            with pytest.raises(marks.NotVerifiedYet):
                marks.findings(Registry(repo, ref=at), 0)
            continue
        derived = marks.findings(Registry(repo, ref=at), 0)  # budget 0: nothing verified on the way
        assert derived == [*full.findings, *full.accepted], f"at {at}"


def test_without_a_later_report_or_across_a_merge_it_is_still_not_verified_yet(request: pytest.FixtureRequest, repo: Path) -> None:
    run_scenario(request, SCENARIOS["test_verify::test_forged_outcome_trailers_on_a_hand_edit_are_found_and_marked"])
    first = history(repo)[0]
    with pytest.raises(marks.NotVerifiedYet):
        marks.findings(Registry(repo, ref=first), 0)  # no report kept at all
    git(repo, "checkout", "-q", "-b", "side", first)
    (repo / "SIDE.md").write_text("side\n", encoding="utf-8")
    git(repo, "add", "SIDE.md")
    git(repo, "commit", "-q", "-m", "side")
    git(repo, "checkout", "-q", "-")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    marks.report(Registry(repo))
    assert len(git(repo, "rev-list", "--min-parents=2", head(repo)).split()) == 1
    with pytest.raises(marks.NotVerifiedYet):
        marks.findings(Registry(repo, ref=first), 0)  # the merge: the tip's walk is not the ancestor's and then a line


def test_list_at_an_old_commit_is_marked_and_kept(request: pytest.FixtureRequest, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: after `verify`, `list --at` an old commit has its marks, no "not verified yet", and is replayed."""
    run_scenario(request, SCENARIOS["test_verify::test_forged_outcome_trailers_on_a_hand_edit_are_found_and_marked"])
    monkeypatch.setattr(marks, "BUDGET", 1)
    people = request.getfixturevalue("people")
    assert people("auditor@bank.example", "verify")[0] == 11
    at = git(repo, "show", "-s", "--format=%cI", history(repo)[-2]).strip()
    rc, out, err = people("auditor@bank.example", "list", "--at", at, "--json")
    assert rc == 0, err
    listed = json.loads(out)
    assert listed["verify_error"] is None
    kept = list((repo / ".git" / "mlrelease" / "answers").glob("*.out"))
    assert people("auditor@bank.example", "list", "--at", at, "--json")[1] == out
    assert list((repo / ".git" / "mlrelease" / "answers").glob("*.out")) == kept and kept


def test_an_acceptance_since_the_old_commit_is_not_carried_back(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finding accepted after the old commit was open at it: then the later report is not used (exactly or not at all)."""
    from tests.builders import write
    from tests.test_accept_findings import accept, stage_by_hand
    from tests.test_four_eyes import People, production_gates

    write(repo, "controls/identities.yaml", {"people": {"carol": {"emails": ["carol@bank.example"]}}, "groups": {"model-risk": ["carol"]}})
    production_gates(repo, {"approvals": 2, "approvers": ["model-risk"]})
    who = People(repo, capsys, monkeypatch)
    edited = stage_by_hand(repo)
    before_acceptance = head(repo)
    assert accept(who, "bob@bank.example", edited)[0] == 0
    accepted_at = head(repo)
    stage_by_hand(repo, "1.1.0")  # a later finding, open
    shutil.rmtree(repo / ".git" / "mlrelease" / "verify")  # the actions' own reports: only the tip's is kept
    tip = marks.report(Registry(repo))
    assert any(a.finding.commit == edited for a in tip.accepted)
    with pytest.raises(marks.NotVerifiedYet):
        marks.findings(Registry(repo, ref=before_acceptance), 0)  # open there, accepted at the tip
    derived = marks.findings(Registry(repo, ref=accepted_at), 0)
    full = verify(Registry(repo, ref=accepted_at)).settle()
    assert derived == [*full.findings, *full.accepted] and any(isinstance(f, marks.Accepted) for f in derived)
