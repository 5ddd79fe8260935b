"""Signed environments with real SSH keys made by ssh-keygen in the test (issue 10 item 3).

Where `signed: true`, every action and approval commit must be signed by a key in
controls/allowed_signers (git checks it: `gpg.format=ssh`), and four eyes counts the
signer, never the committer string. `verify` reports unsigned commits there.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import mlrelease.cli.output
from tests.builders import commit_all, ssh_key, write
from tests.release_helpers import head, state_at
from tests.test_four_eyes import People, production_gates


@pytest.fixture(autouse=True)
def _fresh_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlrelease.cli.output, "_console", None)


class Signers(People):
    """People whose git signs their commits with their own SSH key (as `git config` would set it)."""

    keys: dict[str, Path]

    def __call__(self, email: str, *args: str, key: str | None = None) -> tuple[int, str, str]:
        chosen = self.keys.get(key or email.split("@")[0])
        if chosen is None:
            self.mp.setenv("GIT_CONFIG_COUNT", "0")
        else:
            for i, (k, v) in enumerate((("gpg.format", "ssh"), ("user.signingkey", str(chosen)), ("commit.gpgsign", "true"))):
                self.mp.setenv(f"GIT_CONFIG_KEY_{i}", k)
                self.mp.setenv(f"GIT_CONFIG_VALUE_{i}", v)
            self.mp.setenv("GIT_CONFIG_COUNT", "3")
        return super().__call__(email, *args)


@pytest.fixture
def signers(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Signers:
    return signed_registry(repo, tmp_path, capsys, monkeypatch, ("alice", "bob", "carol"), ("mallory",))


def signed_registry(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    allowed: tuple[str, ...],
    others: tuple[str, ...],
) -> Signers:
    """Real ssh keys for ``allowed`` (in controls/allowed_signers) and ``others`` (not), production signed."""
    folder = tmp_path / "keys"
    folder.mkdir()
    keys = {name: ssh_key(folder, name) for name in (*allowed, *others)}
    lines = [f"{n}@bank.example " + " ".join(Path(f"{keys[n]}.pub").read_text().split()[:2]) for n in allowed]
    write(repo, "controls/allowed_signers", "\n".join(lines) + "\n")
    commit_all(repo, "Allowed signers")
    production_gates(repo, {"approvals": 2}, signed=True)
    s = Signers(repo, capsys, monkeypatch)
    s.keys = keys
    return s


def approve(s: Signers, email: str, **kw: str) -> tuple[int, str, str]:
    return s(email, "approve", "fraud-card@1.1.0", "--env", "production", "--yes", **kw)


def test_signed_actions_and_approvals_verify_with_real_keys(signers: Signers, repo: Path) -> None:
    base = head(repo)
    assert approve(signers, "alice@bank.example")[0] == 0
    assert approve(signers, "bob@bank.example")[0] == 0
    rc, out, err = signers("carol@bank.example", "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes")
    assert rc == 0, out + err
    assert state_at(repo, "production", "fraud-card").live.version == "1.1.0"
    # git itself says every one of those commits is signed by an allowed key
    for sha in subprocess.run(["git", "rev-list", f"{base}..HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.split():
        shown = subprocess.run(
            ["git", "-c", f"gpg.ssh.allowedSignersFile={repo / 'controls/allowed_signers'}", "log", "-1", "--format=%G?", sha],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
        assert shown.stdout.strip() == "G"
    rc, out, err = signers("carol@bank.example", "verify", "--since", base, "--json")
    report = json.loads(out)
    assert rc == 0 and report["ok"], report


def test_a_signed_environment_refuses_unsigned_and_unknown_keys_before_writing(signers: Signers, repo: Path) -> None:
    tip = head(repo)
    signers.keys.pop("dave", None)
    rc, _, err = signers("dave@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--yes")
    assert rc == 3 and "production is signed: true" in err and "git does not sign your commits" in err
    rc, _, err = signers("mallory@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--yes")
    assert rc == 3 and "is not in controls/allowed_signers" in err
    # alice's key under bob's name: the record would say one person and the signature another
    rc, _, err = signers("bob@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--yes", key="alice")
    assert rc == 3 and "is not the person your signing key is allowed for" in err
    assert head(repo) == tip
    # other environments do not ask for a signature
    rc, out, err = signers("dave@bank.example", "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes")
    assert rc == 0, out + err


def test_four_eyes_counts_signers_and_verify_finds_unsigned_commits(signers: Signers, repo: Path) -> None:
    base = head(repo)
    assert approve(signers, "alice@bank.example")[0] == 0
    # an approval written by hand under bob's name, unsigned, with trailers: it never counts
    path = repo / "releases/production/fraud-card.yaml"
    text = path.read_text()
    path.write_text(text + "- version: '1.1.0'\n  by: Bob <bob@bank.example>\n  at: '2026-03-02T12:00:00Z'\n")
    env = {
        "GIT_AUTHOR_EMAIL": "bob@bank.example",
        "GIT_COMMITTER_EMAIL": "bob@bank.example",
        "GIT_AUTHOR_NAME": "Bob",
        "GIT_COMMITTER_NAME": "Bob",
    }
    unsigned = commit_all(
        repo,
        "Approve fraud-card 1.1.0 for production\n\nMlrelease-Action: approve\nMlrelease-Model: fraud-card\n"
        "Mlrelease-Version: 1.1.0\nMlrelease-Environment: production\nMlrelease-Actor: Bob <bob@bank.example>\n",
        env=env,
    )
    rc, _, err = signers("carol@bank.example", "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes")
    assert rc == 3 and "1 of 2 approvals" in err and "is not signed" in err
    rc, out, _ = signers("carol@bank.example", "verify", "--since", base, "--json")
    report = json.loads(out)
    assert rc == 11 and any(
        f["commit"] == unsigned and f["kind"] == "unsigned" and f["author"] == "Bob <bob@bank.example>" for f in report["findings"]
    )
    rc, out, _ = signers("carol@bank.example", "history", "fraud-card", "--json")
    [ev] = [e for e in json.loads(out)["events"] if e["commit"] == unsigned]
    assert "unsigned" in ev["marks"]


def test_init_documents_the_set_up_and_a_new_registry_verifies_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlrelease.cli import main

    assert main(["init", str(tmp_path / "reg")]) == 0
    text = (tmp_path / "reg" / "mlrelease.yaml").read_text()
    assert "# signed: true" in text and "controls/allowed_signers" in text and "docs/controls.md" in text
    assert "gpg.format=ssh" in text and "approvers" in text
    for ci in (".github/workflows/mlrelease-lint.yml", ".gitlab-ci.yml"):
        assert "verify" in (tmp_path / "reg" / ci).read_text()
    capsys.readouterr()
    assert main(["--repo", str(tmp_path / "reg"), "verify"]) == 0
