"""A verify resumed from an earlier tip finds exactly what a full verify finds (the cache of `list` and `history`).

`list --json` and `history` mark states and events with verify's findings, cached per tip
commit; after an action the new tip resumes from the previous tip's cache and verifies
only the new commits, starting from the state the earlier walk ended with (approvals and
who made them, versions ever live, files mlrelease manages, rejections ever held). This
must change nothing: for every forgery scenario of tests/test_verify.py and
tests/test_four_eyes.py, and for every commit of its history as the split point, the
findings up to the split plus those resumed after it are the full verify's, in order.
"""

from __future__ import annotations

import inspect
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlrelease.audit import marks
from mlrelease.audit.state import WalkState
from mlrelease.audit.verify import Finding, Report, resume, verify
from mlrelease.registry.loader import Registry
from tests import test_four_eyes, test_verify
from tests.builders import commit_all, git, write
from tests.release_helpers import head
from tests.test_four_eyes import People
from tests.test_four_eyes import people as people  # the scenarios' fixture
from tests.test_verify import edit, hand_commit


def an_import_over_managed_files_and_a_promotion_of_a_deleted_rejection(people: People, repo: Path) -> None:
    """The two facts the other scenarios never need from before a split: files mlrelease manages, rejections ever held."""
    assert people("alice@bank.example", "reject", "fraud-card@1.2.0", "--reason", "leaks labels", "--yes")[0] == 0
    edit(repo, "models/fraud-card/rejections.yaml", lambda d: d.update(rejected=[]))
    hand_commit(repo, "tidy up")
    rejections = repo / "models/fraud-card/rejections.yaml"
    rejections.write_text(rejections.read_text(encoding="utf-8") + "# as gto has it\n", encoding="utf-8")
    hand_commit(repo, "Import from gto\n\nMlrelease-Action: import\nMlrelease-Source: gto\n")
    edit(
        repo,
        "releases/staging/fraud-card.yaml",
        lambda d: (
            d.setdefault("desired", {}).update(version="1.2.0", promotion_id="p-y", actor="Alice <alice@bank.example>", reason="go"),
            d.setdefault("observed", {}).update(phase="Pending", promotion_id="p-y"),
        ),
    )
    hand_commit(
        repo,
        "Promote fraud-card 1.2.0 to staging\n\nMlrelease-Action: promote\nMlrelease-Model: fraud-card\n"
        "Mlrelease-Version: 1.2.0\nMlrelease-Environment: staging\nMlrelease-Promotion-Id: p-y\n"
        "Mlrelease-Actor: Alice <alice@bank.example>\n",
        who="alice@bank.example",
    )
    found = verify(Registry(repo)).findings
    assert any(f.kind == "forged" and "import rewrote" in f.message for f in found), "\n".join(map(str, found))
    assert any(f.kind == "gate" and f.message.startswith("rejected failed") for f in found), found


def hand_edits_accepted_forged_and_removed(people: People, repo: Path) -> None:
    """Acceptances (review --finding) of findings made before and after a split, a forged one, a removed one."""
    edit(repo, "releases/staging/fraud-card.yaml", lambda d: d["live"].update(version="1.2.0"))
    first = hand_commit(repo, "by hand")
    assert people("bob@bank.example", "review", "--finding", first, "--reason", "looked into it", "--yes")[0] == 0
    edit(repo, "releases/dev/fraud-card.yaml", lambda d: d["live"].update(version="1.1.0"))
    second = hand_commit(repo, "by hand again")
    accepted = repo / "audit/accepted.yaml"
    own = accepted.read_text(encoding="utf-8") + (
        f"- commit: {second}\n  findings:\n  - kind: hand-edit\n    file: releases/dev/fraud-card.yaml\n"
        "  by: Mallory <mallory@bank.example>\n  at: '2026-03-02T12:00:00Z'\n  reason: mine\n"
    )
    accepted.write_text(own, encoding="utf-8")
    hand_commit(
        repo,
        f"Accept\n\nMlrelease-Action: review\nMlrelease-Actor: Mallory <mallory@bank.example>\nMlrelease-Finding: {second}\n",
    )
    assert people("carol@bank.example", "review", "--finding", second, "--reason", "checked", "--yes")[0] == 0
    assert people("carol@bank.example", "review", "--finding", head(repo), "--reason", "no finding there", "--yes")[0] == 3
    write(repo, "audit/accepted.yaml", {"accepted": []})
    hand_commit(repo, "tidy up")
    report = verify(Registry(repo))
    assert {a.finding.commit for a in report.accepted} >= {first, second}
    assert {f.kind for f in report.findings} >= {"acceptance", "deleted"}


SCENARIOS = {
    f"{mod.__name__.rsplit('.', 1)[-1]}::{name}": fn
    for mod in (test_verify, test_four_eyes)
    for name, fn in vars(mod).items()
    if name.startswith("test_") and callable(fn)
}
SCENARIOS["managed-and-rejected"] = an_import_over_managed_files_and_a_promotion_of_a_deleted_rejection
SCENARIOS["accepted-findings"] = hand_edits_accepted_forged_and_removed


def run_scenario(request: pytest.FixtureRequest, fn: Callable[..., Any]) -> None:
    fn(**{name: request.getfixturevalue(name) for name in inspect.signature(fn).parameters})
    shutil.rmtree(request.getfixturevalue("repo") / ".git" / "mlrelease" / "verify", ignore_errors=True)  # its list/history cached


def spy(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Where each verify of the marks starts from (None: the whole history)."""
    bases: list[str | None] = []
    real = marks.resume
    monkeypatch.setattr(marks, "resume", lambda reg, tip, base=None, seed=None: (bases.append(base), real(reg, tip, base, seed))[1])
    return bases


def history(repo: Path) -> list[str]:
    return git(repo, "rev-list", "--reverse", "--topo-order", "HEAD").split()


def through_json(state: WalkState) -> WalkState:
    """The state as the cache keeps it (written, then read back)."""
    return WalkState.from_json(json.loads(json.dumps(state.to_json())))


def split(reg: Registry, tip: str, at: str, seed: Callable[[WalkState], WalkState] = through_json) -> list[Finding]:
    return split_report(reg, tip, at, seed).findings


def split_report(reg: Registry, tip: str, at: str, seed: Callable[[WalkState], WalkState] = through_json) -> Report:
    """Verify up to ``at``, kept as the cache keeps it, then resumed to ``tip`` and joined as the cache joins them."""
    prefix, state = resume(reg, at)
    rest, _ = resume(reg, tip, at, seed(state))
    return Report.from_json(json.loads(json.dumps(prefix.to_json()))).then(rest)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_resuming_at_every_commit_gives_the_full_verify(scenario: str, request: pytest.FixtureRequest, repo: Path) -> None:
    run_scenario(request, SCENARIOS[scenario])
    reg = Registry(repo)
    tip = head(repo)
    full = verify(reg).to_json()
    commits = history(repo)
    assert len(commits) >= 3
    for at in commits[:-1]:
        # the whole report: findings and notices in order, the counts (what `verify --json` prints from the cache)
        assert split_report(reg, tip, at).to_json() == full, f"resumed at {at} (commit {commits.index(at) + 1} of {len(commits)})"


def test_the_state_is_what_makes_a_resumed_verify_exact(request: pytest.FixtureRequest, repo: Path) -> None:
    """Without the earlier walk's state (approvals made before the split), a resumed verify finds gates that held."""
    run_scenario(request, SCENARIOS["test_verify::test_actions_made_by_mlrelease_verify_clean"])
    reg = Registry(repo)
    tip = head(repo)
    full = verify(reg).findings
    assert not any(f.kind == "gate" for f in full)  # the fixture's set-up commits are hand edits; the actions hold
    wrong = [at for at in history(repo)[:-1] if split(reg, tip, at, seed=lambda _s: WalkState()) != full]
    assert wrong, "an empty state gave the full verify's findings at every split: the test above could not fail"
    assert any(f.kind == "gate" for f in split(reg, tip, wrong[-1], seed=lambda _s: WalkState()))


def test_list_and_history_resume_from_the_previous_tip_and_find_the_same(
    request: pytest.FixtureRequest, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_scenario(request, SCENARIOS["test_verify::test_forged_outcome_trailers_on_a_hand_edit_are_found_and_marked"])
    commits = history(repo)
    full = verify(Registry(repo)).findings
    assert full
    bases = spy(monkeypatch)
    middle = commits[len(commits) // 2]
    marks.findings(Registry(repo, ref=middle))
    assert bases == [None]  # nothing cached: a full verify
    assert marks.findings(Registry(repo)) == full
    assert bases == [None, middle]  # resumed from the cached ancestor
    assert marks.findings(Registry(repo)) == full and len(bases) == 2  # cached: no verify at all


def test_a_merge_since_the_cached_tip_verifies_the_whole_history(
    request: pytest.FixtureRequest, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_scenario(request, SCENARIOS["test_verify::test_forged_outcome_trailers_on_a_hand_edit_are_found_and_marked"])
    fork = head(repo)
    marks.findings(Registry(repo))
    git(repo, "checkout", "-q", "-b", "side")
    write(repo, "notes.yaml", {"a": 1})
    commit_all(repo, "side work")
    git(repo, "checkout", "-q", "main")
    write(repo, "notes2.yaml", {"b": 2})
    commit_all(repo, "main work")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    bases = spy(monkeypatch)
    assert marks.findings(Registry(repo)) == verify(Registry(repo)).findings
    assert bases == [None], f"resumed from {bases} across a merge (fork point {fork})"


def test_a_broken_state_file_falls_back_to_a_full_verify(
    request: pytest.FixtureRequest, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_scenario(request, SCENARIOS["test_verify::test_a_deleted_rejection_is_found_shown_in_history_and_still_holds"])
    commits = history(repo)
    marks.findings(Registry(repo, ref=commits[-2]))
    for state_file in (repo / ".git" / "mlrelease" / "verify").glob("*.state.json"):
        state_file.write_text('{"live": {}, "approvers": [["x", "not a record", null]]}', encoding="utf-8")
    bases = spy(monkeypatch)
    assert marks.findings(Registry(repo)) == verify(Registry(repo)).findings
    assert bases == [None]


def test_verify_keeps_its_report_resumes_it_after_new_commits_and_no_cache_checks_everything_again(
    request: pytest.FixtureRequest, repo: Path, monkeypatch: pytest.MonkeyPatch, people: People
) -> None:
    run_scenario(request, SCENARIOS["test_four_eyes::test_break_glass_is_a_second_persons_approval_used_once_and_flagged_until_reviewed"])
    bases = spy(monkeypatch)

    def verify_json(*args: str) -> tuple[int, dict[str, Any]]:
        rc, out, err = people("auditor@bank.example", "verify", "--json", *args)
        assert out.strip(), err
        return rc, json.loads(out)

    first = verify_json()
    assert bases == [None] and first[1]["counts"]["commits"] == len(history(repo))
    assert verify_json() == first and bases == [None]  # kept: nothing verified again
    middle = first[1]["tip"]
    edit(repo, "releases/staging/fraud-card.yaml", lambda d: d["live"].update(version="9.9.9"))
    hand_commit(repo, "quick fix")
    assert people("alice@bank.example", "reject", "fraud-card@1.0.0", "--reason", "stale", "--yes")[0] == 0
    later = verify_json()
    assert bases == [None, middle]  # resumed from the kept report: only the new commits
    again = verify_json("--no-cache")
    assert bases == [None, middle, None]
    assert later == again and later[0] == 11
    assert later[1]["counts"]["commits"] == len(history(repo))
    assert [f["kind"] for f in later[1]["findings"]][-1:] == ["hand-edit"]


def test_list_and_history_verify_a_bounded_number_of_commits_then_say_the_history_is_not_verified_yet(
    request: pytest.FixtureRequest, repo: Path, monkeypatch: pytest.MonkeyPatch, people: People
) -> None:
    """A read must stay quick: beyond marks.BUDGET commits to check, no marks and a reason, until verify has run."""
    run_scenario(request, SCENARIOS["test_verify::test_forged_outcome_trailers_on_a_hand_edit_are_found_and_marked"])
    monkeypatch.setattr(marks, "BUDGET", 3)
    monkeypatch.setenv("MLRELEASE_NO_ANSWERS", "1")  # computed: the scenario's kept answers (fully verified) would be replayed
    bases = spy(monkeypatch)
    rc, out, err = people("auditor@bank.example", "list", "--json")
    assert rc == 0, err
    listed = json.loads(out)
    assert listed["verify_error"].startswith(f"not verified yet: {len(history(repo))} commits in its history")
    assert "`mlrelease verify`" in listed["verify_error"] and bases == []
    rc, out, err = people("auditor@bank.example", "history", "--json")
    assert rc == 0 and "not verified yet" in err and not any(e["marks"] for e in json.loads(out)["events"])
    assert people("auditor@bank.example", "verify")[0] == 11
    rc, out, _ = people("auditor@bank.example", "list", "--json")
    assert json.loads(out)["verify_error"] is None
    marked = [e["marks"] for e in json.loads(people("auditor@bank.example", "history", "--json")[1])["events"] if e["marks"]]
    assert marked and bases == [None]  # the reads used verify's report
    assert people("alice@bank.example", "reject", "fraud-card@1.0.0", "--reason", "stale", "--yes")[0] == 0
    rc, out, _ = people("auditor@bank.example", "list", "--json")
    assert json.loads(out)["verify_error"] is None and len(bases) == 2  # one new commit: within the budget, resumed
