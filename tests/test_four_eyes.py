"""Four eyes, end to end through the CLI on real repositories (issue 10 item 2).

The promoter's own approval never counts; approvals count by identity, never by how an
e-mail is spelled; `gates.approvers` says who may approve; `--force` cannot override
approvals or a rejection where approvals are required; break-glass is a second person's
approval of the override, recorded and flagged until a third person reviews it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mlrelease.cli.output
from bench.contention_bench import subcommand
from mlrelease.cli import main
from tests.builders import commit_all, config, write
from tests.cli_helpers import run_mlrelease
from tests.git_trace import started, traced
from tests.release_helpers import head, state_at


@pytest.fixture(autouse=True)
def _fresh_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlrelease.cli.output, "_console", None)


class People:
    """Run the CLI as one person or another (their git identity, as a user's git would give it)."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.capsys, self.mp = root, capsys, monkeypatch

    def __call__(self, email: str, *args: str) -> tuple[int, str, str]:
        name = email.split("@")[0].split("+")[0].capitalize()
        for var in ("AUTHOR", "COMMITTER"):
            self.mp.setenv(f"GIT_{var}_NAME", name)
            self.mp.setenv(f"GIT_{var}_EMAIL", email)
        self.capsys.readouterr()
        rc = main(["--repo", str(self.root), *args])
        out, err = self.capsys.readouterr()
        return rc, out, err


def production_gates(root: Path, gates: dict[str, object], **env: object) -> None:
    cfg = config()
    cfg["environments"][2]["gates"] = gates
    cfg["environments"][2].update(env)
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "Production gates")


@pytest.fixture
def people(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> People:
    production_gates(repo, {"approvals": 2})
    return People(repo, capsys, monkeypatch)


def approve(people: People, email: str, *extra: str, target: str = "fraud-card@1.1.0") -> int:
    return people(email, "approve", target, "--env", "production", "--yes", *extra)[0]


def promote(people: People, email: str, *extra: str) -> tuple[int, str, str]:
    return people(email, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes", *extra)


def live(root: Path) -> str | None:
    s = state_at(root, "production", "fraud-card")
    return s.live.version if s.live else None


def test_the_promoters_own_approval_never_counts(people: People, repo: Path) -> None:
    assert approve(people, "alice@bank.example") == 0
    assert approve(people, "bob@bank.example") == 0
    tip = head(repo)
    rc, out, err = promote(people, "alice@bank.example")
    assert rc == 3, out + err
    assert "1 of 2 approvals" in err and "the promoter's own approval does not count" in err
    assert head(repo) == tip and live(repo) == "1.0.0"
    rc, out, err = promote(people, "carol@bank.example")  # a third person: both approvals count
    assert rc == 0, out + err
    assert live(repo) == "1.1.0"


def test_email_aliases_are_one_identity(people: People, repo: Path) -> None:
    assert approve(people, "alice@bank.example") == 0
    rc, out, _ = people("Alice+2@Bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--yes")
    assert rc == 0 and "already approved" in out  # the same person: nothing to add
    tip = head(repo)
    rc, out, err = promote(people, "carol@bank.example")
    assert rc == 3 and "1 of 2 approvals from distinct identities (alice@bank.example)" in err
    assert head(repo) == tip and live(repo) == "1.0.0"


def test_identities_file_joins_a_persons_addresses(people: People, repo: Path) -> None:
    write(repo, "controls/identities.yaml", {"people": {"alice": {"emails": ["alice@bank.example", "a.martin@bank.example"]}}})
    commit_all(repo, "Identities")
    assert approve(people, "alice@bank.example") == 0
    assert approve(people, "a.martin@bank.example") == 0  # not a no-op by string, but one identity
    rc, _, err = promote(people, "carol@bank.example")
    assert rc == 3 and "1 of 2 approvals from distinct identities (alice)" in err


def test_force_cannot_override_approvals_where_they_are_required(people: People, repo: Path) -> None:
    tip = head(repo)
    rc, out, err = promote(people, "alice@bank.example", "--force")
    assert rc == 3, out + err
    assert "--force cannot override approvals in production" in err and "break-glass" in err
    assert head(repo) == tip and live(repo) == "1.0.0"
    rc, out, _ = promote(people, "alice@bank.example", "--force", "--json")
    assert rc == 3 and json.loads(out)["exit_code"] == 3


def test_force_cannot_override_a_rejection_where_approvals_are_required(people: People, repo: Path) -> None:
    assert approve(people, "bob@bank.example") == 0
    assert approve(people, "carol@bank.example") == 0
    rc, _, _ = people("dave@bank.example", "reject", "fraud-card@1.1.0", "--reason", "leaks labels", "--yes")
    assert rc == 0
    tip = head(repo)
    rc, _, err = promote(people, "alice@bank.example", "--force")
    assert rc == 3 and "--force cannot override rejected in production" in err
    assert head(repo) == tip and live(repo) == "1.0.0"


def test_force_still_overrides_gates_that_are_overridable(people: People, repo: Path) -> None:
    """Where no approvals are required (staging here), --force with --reason still works as documented."""
    rc, _, _ = people("dave@bank.example", "reject", "fraud-card@1.2.0", "--reason", "bad", "--yes")
    assert rc == 0
    rc, out, err = people("alice@bank.example", "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "hotfix", "--yes", "--force")
    assert rc == 0, out + err
    assert state_at(repo, "staging", "fraud-card").desired.forced == ("rejected",)


def test_overridable_true_lets_force_through_and_false_locks_another_gate(people: People, repo: Path) -> None:
    production_gates(repo, {"approvals": 2, "overridable": {"approvals": True}})
    rc, out, err = promote(people, "alice@bank.example", "--force")
    assert rc == 0, out + err
    # a threshold made non-overridable: --force is refused for it in staging
    cfg = config()
    cfg["environments"][1]["gates"] = {"thresholds": {"f1": {"min": 0.99}}, "overridable": {"threshold:f1": False}}
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "Lock the f1 threshold")
    rc, _, err = people("alice@bank.example", "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "x", "--yes", "--force")
    assert rc == 3 and "--force cannot override threshold:f1 in staging" in err


def test_break_glass_is_a_second_persons_approval_used_once_and_flagged_until_reviewed(people: People, repo: Path) -> None:
    # alice cannot break the glass for herself
    rc, _, err = people("alice@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--break-glass", "--yes")
    assert rc == 2 and "--break-glass needs --reason" in err
    rc, _, _ = people(
        "alice@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--break-glass", "--reason", "INC-1", "--yes"
    )
    assert rc == 0
    rc, _, err = promote(people, "alice@bank.example", "--force")
    assert rc == 3 and "break-glass" in err and live(repo) == "1.0.0"
    # bob's break-glass lets alice force once
    rc, _, _ = people(
        "bob@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--break-glass", "--reason", "INC-1 fraud spike", "--yes"
    )
    assert rc == 0
    rc, out, err = promote(people, "alice@bank.example", "--force")
    assert rc == 0, out + err
    state = state_at(repo, "production", "fraud-card")
    assert live(repo) == "1.1.0" and state.desired.break_glass == "bob@bank.example"
    [bg] = state.break_glass
    assert bg.promoter.endswith("<alice@bank.example>") and bg.approver == "bob@bank.example" and bg.review is None
    assert "approvals" in bg.gates
    # flagged by list until reviewed
    rc, out, _ = people("carol@bank.example", "list", "--json")
    assert rc == 0 and "break-glass" in out
    # neither the promoter nor the approver may review it; a third person may
    for who in ("alice@bank.example", "bob@bank.example"):
        rc, _, err = people(who, "review", "fraud-card", "--env", "production", "--reason", "ok", "--yes")
        assert rc == 3 and "someone else must review it" in err
    rc, out, err = people("carol@bank.example", "review", "fraud-card", "--env", "production", "--reason", "justified", "--yes")
    assert rc == 0, out + err
    [bg] = state_at(repo, "production", "fraud-card").break_glass
    assert bg.review is not None and bg.review.by.endswith("<carol@bank.example>")
    # the break-glass was used: forcing again (a rollback to 1.0.0 and back) needs a new one
    rc, _, err = people("alice@bank.example", "rollback", "fraud-card", "--env", "production", "--reason", "back", "--yes")
    rc, _, err = people("alice@bank.example", "unpin", "fraud-card", "--env", "production", "--reason", "again", "--yes")
    rc, _, err = promote(people, "alice@bank.example", "--force")
    assert rc == 3 and "break-glass" in err


def test_approvers_policy_says_who_may_approve(people: People, repo: Path) -> None:
    write(
        repo,
        "controls/identities.yaml",
        {"people": {"bob": {"emails": ["bob@bank.example"]}}, "groups": {"model-risk": ["bob", "carol@bank.example"]}},
    )
    commit_all(repo, "Identities")
    production_gates(repo, {"approvals": 2, "approvers": ["model-risk"]})
    tip = head(repo)
    rc, _, err = people("mallory@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--yes")
    assert rc == 3 and "may not approve in production" in err and head(repo) == tip
    assert approve(people, "bob@bank.example") == 0
    assert approve(people, "carol@bank.example") == 0
    rc, out, err = promote(people, "alice@bank.example")
    assert rc == 0, out + err


def test_bad_controls_are_lint_problems(people: People, repo: Path) -> None:
    production_gates(repo, {"approvals": 2, "approvers": ["model-risk"], "overridable": {"aprovals": False, "window": "yes"}})
    write(repo, "controls/identities.yaml", {"people": {"bob": {"emails": ["not-an-address"]}}, "groups": {"risk": ["nobody"]}})
    write(repo, "controls/allowed_signers", "alice@bank.example not-a-key\n")
    commit_all(repo, "Broken controls")
    rc, out, err = people("alice@bank.example", "lint")
    text = out + err
    assert rc == 1
    assert "overridable.aprovals" in text and "is not a gate" in text
    assert "overridable.window" in text and "must be true or false" in text
    assert "controls/identities.yaml" in text and "'not-an-address', which is no e-mail address" in text
    assert "'groups.risk' names 'nobody'" in text
    assert "controls/allowed_signers:1" in text
    # a readable config whose approvers name nobody: a typo must not allow nobody
    production_gates(repo, {"approvals": 2, "approvers": ["model-risc"]}, signed=True)
    write(repo, "controls/identities.yaml", {"groups": {"model-risk": ["bob@bank.example"]}})
    (repo / "controls/allowed_signers").unlink()
    commit_all(repo, "Typo in approvers")
    rc, out, err = people("alice@bank.example", "lint")
    assert rc == 1
    assert "approvers of 'production' name 'model-risc': no group or person in controls/identities.yaml" in out + err
    assert "is signed: true, and controls/allowed_signers does not exist" in out + err


def test_who_is_behind_each_approval_is_read_without_a_second_log_or_pipe(people: People, repo: Path, tmp_path: Path) -> None:
    """Review finding: the approvals' authors came from a ``git log`` and a ``cat-file`` process of their own,
    beside the planner's log of the same release file and the process's shared pipe. Counted by git's trace2."""
    assert approve(people, "bob@bank.example") == 0
    assert approve(people, "carol@bank.example") == 0
    assert approve(people, "dave@bank.example", target="churn@0.2.0") == 0  # a commit since, on another file
    people.mp.setenv("GIT_AUTHOR_EMAIL", "alice@bank.example")
    people.mp.setenv("GIT_COMMITTER_EMAIL", "alice@bank.example")
    trace = traced(tmp_path)
    proc = run_mlrelease(repo, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert live(repo) == "1.1.0"
    commands = started(trace)
    logs = [a for a in commands if subcommand(a) == "log" and a[-1] == "releases/production/fraud-card.yaml"]
    assert len(logs) <= 1 and [subcommand(a) for a in commands].count("cat-file") == 1, commands
