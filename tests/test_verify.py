"""`mlrelease verify` and the marks of `history` and `list`, end to end on real repositories (issue 10 item 4).

Each forgery of the issue is made as a person with push rights would make it (edit the
file, commit it, with or without made-up Mlrelease-* trailers), and must be found by
`verify` (its commit, its author, what is wrong; exit 11) and shown by `history` and
`list`. Actions made through mlrelease verify clean.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mlrelease.cli.output
from mlrelease.registry import yamlsafe
from tests.builders import commit_all, git, write
from tests.release_helpers import head
from tests.test_four_eyes import People, production_gates


@pytest.fixture(autouse=True)
def _fresh_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlrelease.cli.output, "_console", None)


@pytest.fixture
def people(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> People:
    production_gates(repo, {"approvals": 2})
    return People(repo, capsys, monkeypatch)


def verify(people: People, since: str) -> tuple[int, dict]:
    rc, out, err = people("auditor@bank.example", "verify", "--since", since, "--json")
    assert out.strip(), err
    return rc, json.loads(out)


def kinds(report: dict) -> set[tuple[str, str]]:
    return {(f["commit"], f["kind"]) for f in report["findings"]}


def hand_commit(root: Path, message: str, who: str = "mallory@bank.example") -> str:
    env = {"GIT_AUTHOR_EMAIL": who, "GIT_COMMITTER_EMAIL": who, "GIT_AUTHOR_NAME": "Mallory", "GIT_COMMITTER_NAME": "Mallory"}
    return commit_all(root, message, env=env)


def edit(root: Path, rel: str, change) -> None:  # type: ignore[no-untyped-def]
    path = root / rel
    data = yamlsafe.load(path.read_bytes(), rel)
    change(data)
    write(root, rel, data)


def events(people: People, *args: str) -> list[dict]:
    rc, out, err = people("auditor@bank.example", "history", *args, "--json")
    assert rc == 0, err
    return json.loads(out)["events"]


def test_actions_made_by_mlrelease_verify_clean(people: People, repo: Path) -> None:
    base = head(repo)
    assert people("bob@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--yes")[0] == 0
    assert people("carol@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--yes")[0] == 0
    assert people("alice@bank.example", "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes")[0] == 0
    assert people("alice@bank.example", "reject", "fraud-card@1.2.0", "--reason", "leaks", "--yes")[0] == 0
    assert people("alice@bank.example", "rollback", "fraud-card", "--env", "production", "--reason", "x", "--yes")[0] == 0
    rc, report = verify(people, base)
    assert rc == 0 and report["ok"] and report["findings"] == [], report
    assert report["counts"]["changes_checked"] == 7  # 2 approvals, promote and outcome, reject, rollback and outcome
    rc, _out, err = people("auditor@bank.example", "verify", "--since", base)
    assert rc == 0 and "all verified" in err


def test_forged_outcome_trailers_on_a_hand_edit_are_found_and_marked(people: People, repo: Path) -> None:
    base = head(repo)

    def go_live(d: dict) -> None:
        d["desired"].update(version="1.1.0", promotion_id="p-forged", actor="Alice <alice@bank.example>")
        d["observed"].update(phase="Succeeded", promotion_id="p-forged")
        d["live"].update(version="1.1.0", promotion_id="p-forged")

    edit(repo, "releases/production/fraud-card.yaml", go_live)
    forged = hand_commit(
        repo,
        "Outcome: fraud-card 1.1.0 Succeeded in production\n\n"
        "Mlrelease-Action: outcome\nMlrelease-Model: fraud-card\nMlrelease-Version: 1.1.0\n"
        "Mlrelease-Environment: production\nMlrelease-Promotion-Id: p-forged\nMlrelease-Phase: Succeeded\n"
        "Mlrelease-Actor: Alice <alice@bank.example>\n",
    )
    # history and list say it is not a verified action
    [ev] = [e for e in events(people, "fraud-card") if e["commit"] == forged]
    assert ev["action"] == "outcome" and any(m.startswith("unverified") for m in ev.get("marks", ()))
    rc, out, _ = people("auditor@bank.example", "history", "fraud-card")
    assert "⚠ unverified" in out
    rc, out, _ = people("auditor@bank.example", "list", "--json")
    fraud = next(m for m in json.loads(out)["models"] if m["name"] == "fraud-card")
    assert "unverified" in fraud["flags"] and fraud["environments"]["production"]["unverified"]
    rc, report = verify(people, base)
    assert rc == 11 and not report["ok"]
    found = [f for f in report["findings"] if f["commit"] == forged]
    assert found and all(f["author"] == "Mallory <mallory@bank.example>" for f in found)
    assert {"forged", "sequence"} & {f["kind"] for f in found}
    assert any("without its Pending intent" in f["message"] for f in found)
    rc, out, _err = people("auditor@bank.example", "verify", "--since", base)
    assert rc == 11 and forged[:10] in out and "Mallory <mallory@bank.example>" in out


def test_a_deleted_rejection_is_found_shown_in_history_and_still_holds(people: People, repo: Path) -> None:
    base = head(repo)
    assert people("alice@bank.example", "reject", "fraud-card@1.2.0", "--reason", "leaks labels", "--yes")[0] == 0
    edit(repo, "models/fraud-card/rejections.yaml", lambda d: d.update(rejected=[]))
    deleted = hand_commit(repo, "tidy up")
    # the rejection still holds for the planner
    rc, _, err = people("alice@bank.example", "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "x", "--yes")
    assert rc == 3 and "1.2.0 was rejected by" in err and "removed from the file by hand" in err
    [ev] = [e for e in events(people, "fraud-card") if e["commit"] == deleted]
    assert "rejection of 1.2.0" in (ev["note"] or "") and "removed" in ev["note"] and ev["marks"]
    rc, report = verify(people, base)
    assert rc == 11 and (deleted, "deleted") in kinds(report)


def test_approvals_added_by_hand_do_not_count_and_are_found(people: People, repo: Path) -> None:
    base = head(repo)

    def approvals(d: dict) -> None:
        d["approvals"] = [
            {"version": "1.1.0", "by": "Bob <bob@bank.example>", "at": "2026-03-02T09:00:00Z"},
            {"version": "1.1.0", "by": "Carol <carol@bank.example>", "at": "2026-03-02T09:01:00Z"},
        ]

    edit(repo, "releases/production/fraud-card.yaml", approvals)
    by_hand = hand_commit(repo, "approvals from the meeting")
    tip = head(repo)
    rc, _out, err = people("alice@bank.example", "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes")
    assert rc == 3 and "0 of 2 approvals" in err and "written by hand" in err
    assert head(repo) == tip
    [ev] = [e for e in events(people, "fraud-card") if e["commit"] == by_hand]
    assert "hand-edited" in ev.get("marks", ())
    rc, report = verify(people, base)
    assert rc == 11 and (by_hand, "hand-edit") in kinds(report)


def test_an_approval_with_trailers_under_someone_elses_name_does_not_count(people: People, repo: Path) -> None:
    base = head(repo)
    assert people("bob@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--yes")[0] == 0
    edit(
        repo,
        "releases/production/fraud-card.yaml",
        lambda d: d["approvals"].append({"version": "1.1.0", "by": "Carol <carol@bank.example>", "at": "2026-03-02T12:00:00Z"}),
    )
    forged = hand_commit(
        repo,
        "Approve fraud-card 1.1.0 for production\n\nMlrelease-Action: approve\nMlrelease-Model: fraud-card\n"
        "Mlrelease-Version: 1.1.0\nMlrelease-Environment: production\nMlrelease-Actor: Carol <carol@bank.example>\n",
    )
    rc, _, err = people("alice@bank.example", "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes")
    assert rc == 3 and "1 of 2 approvals" in err and "not by Carol" in err
    rc, report = verify(people, base)
    assert rc == 11 and (forged, "forged") in kinds(report)


def test_a_promotion_that_skipped_a_gate_is_found(people: People, repo: Path) -> None:
    """An intent written by hand with trailers, as if the gates had passed (no approvals were given)."""
    base = head(repo)
    edit(
        repo,
        "releases/production/fraud-card.yaml",
        lambda d: (
            d["desired"].update(version="1.1.0", promotion_id="p-x", actor="Alice <alice@bank.example>", reason="go"),
            d["observed"].update(phase="Pending", promotion_id="p-x"),
        ),
    )
    git(repo, "add", "-A")
    intent = hand_commit(
        repo,
        "Promote fraud-card 1.1.0 to production\n\nMlrelease-Action: promote\nMlrelease-Model: fraud-card\n"
        "Mlrelease-Version: 1.1.0\nMlrelease-Environment: production\nMlrelease-Promotion-Id: p-x\n"
        "Mlrelease-Actor: Mallory <mallory@bank.example>\n",
    )
    rc, report = verify(people, base)
    assert rc == 11
    assert {k for c, k in kinds(report) if c == intent} & {"forged", "gate"}


def test_verify_bad_input(people: People, repo: Path, tmp_path: Path) -> None:
    rc, _, err = people("auditor@bank.example", "verify", "--since", "no-such-rev")
    assert rc == 1 and "--since 'no-such-rev': no such commit" in err
    empty = tmp_path / "not-git"
    empty.mkdir()
    write(empty, "mlrelease.yaml", (repo / "mlrelease.yaml").read_text())
    people.root = empty
    rc, _, err = people("auditor@bank.example", "verify")
    assert rc == 1 and "not in a git repository" in err
