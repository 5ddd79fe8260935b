"""`mlrelease review --finding COMMIT`: a finding of verify accepted by a second person, on the record (issue 10).

Git history is never rewritten, so a hand edit stays a finding; once someone other than
its author has looked into it, they accept it with a reason. Verify then lists it as
accepted (text and --json) and exits 0 when nothing else is open; history and list show
it as accepted, not as an open problem. The acceptance is itself a change verify checks:
one added by hand, by the finding's own author, naming no open finding, unsigned where
signing is required, or removed later, is a finding itself. End to end on real
repositories, real keys from ssh-keygen where signing is required.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mlrelease.cli.output
from mlrelease.audit import marks
from mlrelease.registry import yamlsafe
from tests.builders import commit_all, git, write
from tests.release_helpers import head
from tests.test_four_eyes import People, production_gates
from tests.test_signing import Signers, signed_registry
from tests.test_verify import edit, hand_commit

ACCEPTED = "audit/accepted.yaml"


@pytest.fixture(autouse=True)
def _fresh_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlrelease.cli.output, "_console", None)


@pytest.fixture
def people(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> People:
    write(repo, "controls/identities.yaml", {"people": {"carol": {"emails": ["carol@bank.example"]}}, "groups": {"model-risk": ["carol"]}})
    production_gates(repo, {"approvals": 2, "approvers": ["model-risk"]})
    return People(repo, capsys, monkeypatch)


def accept(people: People, email: str, commit: str, *extra: str, reason: str = "looked into it") -> tuple[int, str, str]:
    return people(email, "review", "--finding", commit, "--reason", reason, "--yes", *extra)


def report(people: People, *args: str) -> tuple[int, dict]:
    rc, out, err = people("auditor@bank.example", "verify", "--json", *args)
    assert out.strip(), err
    return rc, json.loads(out)


def stage_by_hand(repo: Path, version: str = "1.2.0", env: str = "staging") -> str:
    """Mallory sets what is live in ``env`` by hand, as after a redeploy outside mlrelease."""

    def go(d: dict) -> None:
        d["desired"].update(version=version, promotion_id="manual")
        d["observed"].update(phase="Succeeded", promotion_id="manual")
        d["live"].update(version=version, promotion_id="manual")

    edit(repo, f"releases/{env}/fraud-card.yaml", go)
    return hand_commit(repo, f"redeploy fraud-card {version} in {env} by hand")


def initial_releases(repo: Path) -> str:
    """The fixture registry's own first release files, committed without mlrelease: findings too."""
    return git(repo, "log", "--format=%H", "--grep", "Initial releases", "-1").strip()


def test_a_hand_edit_accepted_by_a_second_person_verifies_clean_and_is_listed(people: People, repo: Path) -> None:
    edited = stage_by_hand(repo)
    rc, before = report(people)
    assert rc == 11 and any(f["commit"] == edited and f["kind"] == "hand-edit" for f in before["findings"])
    rc, out, err = accept(people, "bob@bank.example", edited, reason="redeployed after the cluster rebuild, INC-1")
    assert rc == 0, out + err
    assert "accepted the findings of commit" in out + err
    msg = git(repo, "log", "-1", "--format=%B")
    assert f"Mlrelease-Finding: {edited}" in msg and "Mlrelease-Action: review" in msg and "Mlrelease-Actor: Bob <bob@bank.example>" in msg
    [entry] = yamlsafe.load((repo / ACCEPTED).read_bytes(), ACCEPTED)["accepted"]
    assert entry["commit"] == edited and entry["by"] == "Bob <bob@bank.example>"
    assert entry["findings"] == [{"kind": "hand-edit", "file": "releases/staging/fraud-card.yaml"}]
    rc, after = report(people)
    assert rc == 11  # the fixture's initial releases are still open
    assert not any(f["commit"] == edited for f in after["findings"])
    [acc] = [a for a in after["accepted"] if a["commit"] == edited]
    assert acc["kind"] == "hand-edit" and acc["accepted"]["by"] == "Bob <bob@bank.example>"
    assert acc["accepted"]["reason"] == "redeployed after the cluster rebuild, INC-1" and acc["accepted"]["commit"] == head(repo)
    # once nothing else is open: exit 0, the accepted ones listed, one line each with who and why
    assert accept(people, "carol@bank.example", initial_releases(repo), reason="the registry's first release files")[0] == 0
    rc, clean = report(people)
    assert rc == 0 and clean["ok"] and clean["findings"] == [] and clean["counts"]["accepted"] == len(clean["accepted"]) >= 2
    rc, out, err = people("auditor@bank.example", "verify")
    assert rc == 0 and "accepted finding" in err
    line = next(x for x in out.splitlines() if x.startswith("accepted:") and edited[:10] in x)
    assert "accepted by Bob <bob@bank.example>" in line and "INC-1" in line
    # accepting again says so and changes nothing
    tip = head(repo)
    rc, out, err = accept(people, "carol@bank.example", edited)
    assert rc == 0 and "already accepted, by Bob" in out + err and head(repo) == tip
    # history and list show it as accepted, not as an open problem
    rc, out, _ = people("auditor@bank.example", "history", "fraud-card", "--json")
    [ev] = [e for e in json.loads(out)["events"] if e["commit"] == edited]
    assert ev["marks"] == [] and ev["accepted"] == ["hand-edited (accepted)"]
    rc, out, _ = people("auditor@bank.example", "history", "fraud-card")
    assert "✓ hand-edited (accepted)" in out and "⚠ hand-edited" not in out
    rc, out, _ = people("auditor@bank.example", "list", "--json")
    fraud = next(m for m in json.loads(out)["models"] if m["name"] == "fraud-card")
    staging = fraud["environments"]["staging"]
    assert staging["unverified"] == [] and staging["accepted"] == ["hand-edited (accepted)"] and "unverified" not in fraud["flags"]


def test_a_kept_report_and_a_later_acceptance_agree(people: People, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report kept per tip is resumed after the acceptance commit, and says what a fresh verify says."""
    edited = stage_by_hand(repo)
    assert report(people)[0] == 11  # kept at this tip
    kept_at = head(repo)
    assert accept(people, "bob@bank.example", edited)[0] == 0
    bases: list[str | None] = []
    real = marks.resume
    monkeypatch.setattr(marks, "resume", lambda reg, tip, base=None, seed=None: (bases.append(base), real(reg, tip, base, seed))[1])
    _, resumed = report(people)
    assert bases == [kept_at]  # only the acceptance commit was walked
    _, fresh = report(people, "--no-cache")
    assert resumed == fresh
    assert [a["commit"] for a in resumed["accepted"]] == [edited] and not any(f["commit"] == edited for f in resumed["findings"])
    # the same after the kept report is read back from disk
    assert report(people)[1] == fresh


def test_accepting_a_finding_of_your_own_commit_is_refused(people: People, repo: Path) -> None:
    edited = stage_by_hand(repo)
    tip = head(repo)
    rc, out, err = accept(people, "mallory@bank.example", edited)
    assert rc == 3 and "four eyes" in err and head(repo) == tip
    rc, out, _ = accept(people, "mallory+2@bank.example", edited, "--json")  # an alias is the same identity
    assert rc == 3 and json.loads(out)["plan"]["blocked"]["exit_code"] == 3 and head(repo) == tip


def test_someone_who_may_not_approve_in_the_environment_may_not_accept(people: People, repo: Path) -> None:
    edited = stage_by_hand(repo, "1.1.0", env="production")
    tip = head(repo)
    rc, _, err = accept(people, "dave@bank.example", edited)
    assert rc == 3 and "may not approve in production" in err and head(repo) == tip
    rc, out, err = accept(people, "carol@bank.example", edited)  # model-risk may
    assert rc == 0, out + err


def test_a_commit_with_no_open_finding_is_refused(people: People, repo: Path) -> None:
    assert people("bob@bank.example", "approve", "fraud-card@1.2.0", "--env", "staging", "--yes")[0] == 0
    approved = head(repo)
    rc, _, err = accept(people, "carol@bank.example", approved)
    assert rc == 3 and f"commit {approved[:10]} has no open finding" in err and head(repo) == approved
    rc, _, err = accept(people, "carol@bank.example", "0123456789abcdef")
    assert rc == 1 and "no such commit" in err and head(repo) == approved


def test_usage_errors(people: People, repo: Path) -> None:
    edited = stage_by_hand(repo)
    rc, _, err = people("bob@bank.example", "review", "fraud-card", "--finding", edited, "--reason", "x", "--yes")
    assert rc == 2 and "takes no MODEL or --env" in err
    rc, out, _ = people("bob@bank.example", "review", "--finding", edited, "--env", "staging", "--reason", "x", "--yes", "--json")
    assert rc == 2 and json.loads(out)["exit_code"] == 2
    rc, _, err = people("bob@bank.example", "review", "--finding", edited, "--yes")
    assert rc == 2 and "--reason" in err
    rc, _, err = people("bob@bank.example", "review", "--reason", "x", "--yes")
    assert rc == 2 and "--finding COMMIT" in err
    assert head(repo) == edited


def _acceptance_by_hand(repo: Path, commit: str, who: str, kind: str = "hand-edit", file: str = "releases/staging/fraud-card.yaml") -> None:
    entries = yamlsafe.load((repo / ACCEPTED).read_bytes(), ACCEPTED)["accepted"] if (repo / ACCEPTED).exists() else []
    entries.append({"commit": commit, "findings": [{"kind": kind, "file": file}], "by": who, "at": "2026-03-02T12:00:00Z", "reason": "ok"})
    write(repo, ACCEPTED, {"accepted": entries})


def _trailers(commit: str, who: str) -> str:
    return f"Accept it\n\nMlrelease-Action: review\nMlrelease-Actor: {who}\nMlrelease-Finding: {commit}\nReason: ok\n"


def test_forged_and_hand_added_acceptances_are_findings_and_accept_nothing(people: People, repo: Path) -> None:
    edited = stage_by_hand(repo)
    # written by hand, no trailers
    _acceptance_by_hand(repo, edited, "Bob <bob@bank.example>")
    by_hand = hand_commit(repo, "accept it")
    # with made-up trailers, by the edit's own author
    _acceptance_by_hand(repo, edited, "Mallory <mallory@bank.example>")
    own = hand_commit(repo, _trailers(edited, "Mallory <mallory@bank.example>"))
    # genuine-looking, by someone else, of a commit verify has no such finding for
    assert people("bob@bank.example", "approve", "fraud-card@1.2.0", "--env", "staging", "--yes")[0] == 0
    approved = head(repo)
    _acceptance_by_hand(repo, approved, "Carol <carol@bank.example>")
    env = {"GIT_AUTHOR_EMAIL": "carol@bank.example", "GIT_COMMITTER_EMAIL": "carol@bank.example"}
    env |= {"GIT_AUTHOR_NAME": "Carol", "GIT_COMMITTER_NAME": "Carol"}
    nothing = commit_all(repo, _trailers(approved, "Carol <carol@bank.example>"), env=env)
    rc, r = report(people)
    assert rc == 11 and not r["ok"]
    found = {(f["commit"], f["kind"]) for f in r["findings"]}
    assert (by_hand, "hand-edit") in found and (own, "acceptance") in found and (nothing, "acceptance") in found
    assert (edited, "hand-edit") in found and not any(a["commit"] == edited for a in r["accepted"])
    [own_f] = [f for f in r["findings"] if f["commit"] == own]
    assert "four eyes" in own_f["message"] and own_f["path"] == ACCEPTED
    assert any(f["commit"] == nothing and "accepts nothing" in f["message"] for f in r["findings"])
    rc, out, _ = people("auditor@bank.example", "verify")
    assert rc == 11 and by_hand[:10] in out and own[:10] in out and nothing[:10] in out
    assert report(people, "--no-cache")[1] == r


def test_a_removed_acceptance_is_a_deleted_finding(people: People, repo: Path) -> None:
    edited = stage_by_hand(repo)
    assert accept(people, "bob@bank.example", edited)[0] == 0
    write(repo, ACCEPTED, {"accepted": []})
    removed = hand_commit(repo, "tidy up")
    rc, r = report(people)
    assert rc == 11
    [gone] = [f for f in r["findings"] if f["commit"] == removed]
    assert gone["kind"] == "deleted" and "acceptance" in gone["message"] and gone["path"] == ACCEPTED
    # the acceptance commit stays in the history: the finding it accepted stays accepted
    assert any(a["commit"] == edited for a in r["accepted"])


@pytest.fixture
def signers(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Signers:
    return signed_registry(repo, tmp_path, capsys, monkeypatch, ("bob", "carol"), ("mallory",))


def test_in_a_signed_registry_an_acceptance_must_be_signed_by_an_allowed_key(signers: Signers, repo: Path) -> None:
    base = head(repo)
    edited = stage_by_hand(repo, "1.1.0", env="production")  # unsigned, by hand: two findings
    rc, out, _ = signers("auditor@bank.example", "verify", "--since", base, "--json")
    assert rc == 11 and {f["kind"] for f in json.loads(out)["findings"] if f["commit"] == edited} == {"hand-edit", "unsigned"}
    # an acceptance that would not be signed is refused before writing
    tip = head(repo)
    rc, _, err = signers("dave@bank.example", "review", "--finding", edited, "--reason", "ok", "--yes")
    assert rc == 3 and "signed" in err and head(repo) == tip
    # one written by hand with trailers, unsigned: a finding, and it accepts nothing
    _acceptance_by_hand(repo, edited, "Bob <bob@bank.example>", file="releases/production/fraud-card.yaml")
    env = {"GIT_AUTHOR_EMAIL": "bob@bank.example", "GIT_COMMITTER_EMAIL": "bob@bank.example", "GIT_AUTHOR_NAME": "Bob"}
    unsigned = commit_all(repo, _trailers(edited, "Bob <bob@bank.example>"), env=env | {"GIT_COMMITTER_NAME": "Bob"})
    rc, out, _ = signers("auditor@bank.example", "verify", "--since", base, "--json")
    r = json.loads(out)
    assert rc == 11 and any(f["commit"] == unsigned and f["kind"] == "unsigned" for f in r["findings"]) and r["accepted"] == []
    # carol, with her allowed key: signed, and both findings are accepted
    rc, out, err = signers("carol@bank.example", "review", "--finding", edited, "--reason", "rebuilt cluster", "--yes")
    assert rc == 0, out + err
    assert git(repo, "-c", f"gpg.ssh.allowedSignersFile={repo / 'controls/allowed_signers'}", "log", "-1", "--format=%G?").strip() == "G"
    rc, out, _ = signers("auditor@bank.example", "verify", "--since", base, "--json")
    r = json.loads(out)
    assert {(a["commit"], a["kind"]) for a in r["accepted"]} == {(edited, "hand-edit"), (edited, "unsigned")}
    assert {f["commit"] for f in r["findings"]} == {unsigned}  # only the unsigned forgery is left
    assert all(a["accepted"]["by"] == "Carol <carol@bank.example>" for a in r["accepted"])


def test_verify_since_takes_an_acceptance_of_an_older_finding_as_a_notice(people: People, repo: Path) -> None:
    """A pull request that accepts an old finding: CI's `verify --since BASE` checks the acceptance, and does not fail on it."""
    edited = stage_by_hand(repo)
    base = head(repo)
    assert accept(people, "bob@bank.example", edited)[0] == 0
    rc, r = report(people, "--since", base)
    assert rc == 0 and r["findings"] == [] and r["accepted"] == []
    assert any(n["kind"] == "acceptance" and edited[:10] in n["message"] for n in r["notices"])
    # a forged one in the same range is still a finding
    _acceptance_by_hand(repo, initial_releases(repo), "Bob <bob@bank.example>")
    forged = hand_commit(repo, "accept that too")
    rc, r = report(people, "--since", base)
    assert rc == 11 and [(f["commit"], f["kind"]) for f in r["findings"]] == [(forged, "hand-edit")]


def test_an_acceptance_naming_no_commit_id_is_a_problem_never_a_git_option(people: People, repo: Path) -> None:
    """The file is read from anyone's push: its commit must be a full id, never text handed to git."""
    write(
        repo,
        ACCEPTED,
        {
            "accepted": [
                {"commit": "--output=/tmp/x", "findings": [{"kind": "hand-edit"}], "by": "B", "at": "2026-03-02T12:00:00Z", "reason": "r"}
            ]
        },
    )
    hostile = hand_commit(repo, _trailers("--output=/tmp/x", "Mallory <mallory@bank.example>"))
    rc, r = report(people)
    assert rc == 11 and any(f["commit"] == hostile and "40 lower-case hex digits" in f["message"] for f in r["findings"])
    rc, out, _ = people("auditor@bank.example", "lint")
    assert rc == 1 and "audit/accepted.yaml" in out + _
    rc, _, err = people("bob@bank.example", "review", "--finding=--output=/tmp/x", "--reason", "r", "--yes")
    assert rc == 1 and "no such commit" in err and not Path("/tmp/x").exists()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("accepted: [\n", "audit/accepted.yaml:2: invalid YAML"),
        ("accepted: 3\n", "audit/accepted.yaml:1: 'accepted' must be a list"),
        ("accepted:\n  - commit: " + "a" * 40 + "\n", "audit/accepted.yaml:2: missing required field 'accepted[0].reason'"),
        ("nonsense: 1\n", "audit/accepted.yaml:1: unknown key 'nonsense'"),
        ("- a\n", "audit/accepted.yaml:1: the file must be a mapping, not a list"),
        ("", "audit/accepted.yaml: the file must be a mapping, not empty"),
    ],
    ids=["bad-yaml", "not-a-list", "missing-field", "unknown-key", "not-a-mapping", "empty"],
)
def test_a_malformed_acceptances_file_is_a_lint_problem_at_its_line(people: People, repo: Path, text: str, said: str) -> None:
    """Every bad form of audit/accepted.yaml is one line naming the file (and line), and lint fails; nothing is written."""
    write(repo, ACCEPTED, text)
    rc, out, err = people("auditor@bank.example", "lint")
    assert rc == 1 and said in out + err
    assert (repo / ACCEPTED).read_text(encoding="utf-8") == text
