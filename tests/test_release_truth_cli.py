"""Issue 9, the CLI's side: --debug keeps the API, ``--reason=--``, the user's git config and
signing, shallow clones, and one confirmation rule on the plan.

Each test runs the real ``mlrelease`` command (the venv's executable) on a real git
registry, some against a bare remote, as a user's shell would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.builders import ORIGIN, add_remote, commit_all, config, git, make_registry, release, ssh_key, write
from tests.cli_helpers import EXE, run_mlrelease

# ---- item 4: --debug adds a traceback and changes nothing else ---------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["promote", "fraud-card@1.2.0", "--to", "production", "--reason", "go", "--yes"], 3),  # order gate
        (["promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes", "--readonly"], 7),
        (["promote", "fraud-card@9.9.9", "--to", "staging", "--yes"], 2),  # no --reason
    ],
)
def test_debug_only_adds_a_traceback(repo: Path, args: list[str], code: int) -> None:
    plain = run_mlrelease(repo, *args, "--json")
    debug = run_mlrelease(repo, *args, "--json", "--debug")
    assert plain.returncode == code
    assert debug.returncode == code, debug.stderr
    assert json.loads(debug.stdout)["exit_code"] == code
    with_debug, without = json.loads(debug.stdout), json.loads(plain.stdout)
    assert with_debug.keys() == without.keys()
    assert with_debug.get("error") == without.get("error")
    assert "Traceback" in debug.stderr and "Traceback" not in plain.stderr


# ---- item 5: an option given "--" as its value --------------------------------------------


@pytest.mark.parametrize("args", [["promote", "fraud-card@1.2.0", "--to", "staging"], ["reject", "fraud-card@1.2.0"]])
def test_reason_dashdash_is_a_usage_error(repo: Path, args: list[str]) -> None:
    tip = git(repo, "rev-parse", "HEAD")
    proc = run_mlrelease(repo, *args, "--reason=--", "--yes")
    assert proc.returncode == 2, proc.stderr
    assert "--reason" in proc.stderr and "Traceback" not in proc.stderr and "AttributeError" not in proc.stderr
    assert git(repo, "rev-parse", "HEAD") == tip


# ---- item 12: the user's git configuration, as git resolves it -----------------------------


def _no_identity_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}


def test_the_actor_is_the_identity_git_shows(repo: Path, tmp_path: Path) -> None:
    global_config = tmp_path / "team.gitconfig"
    global_config.write_text("[user]\n\tname = Gloria Global\n\temail = gloria@example.com\n")
    env = {**_no_identity_env(), "GIT_CONFIG_GLOBAL": str(global_config), "GIT_CONFIG_NOSYSTEM": "1"}
    shown = subprocess.run(["git", "var", "GIT_COMMITTER_IDENT"], cwd=repo, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.startswith("Gloria Global <gloria@example.com>")
    proc = subprocess.run(
        [EXE, "--repo", str(repo), "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["plan"]["actor"] == "Gloria Global <gloria@example.com>"
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == "Gloria Global <gloria@example.com>"


def test_init_finds_the_identity_in_git_config_global(tmp_path: Path) -> None:
    global_config = tmp_path / "team.gitconfig"
    global_config.write_text("[user]\n\tname = Gloria Global\n\temail = gloria@example.com\n[init]\n\tdefaultBranch = main\n")
    home = tmp_path / "emptyhome"
    home.mkdir()
    env = {**_no_identity_env(), "HOME": str(home), "GIT_CONFIG_GLOBAL": str(global_config), "GIT_CONFIG_NOSYSTEM": "1"}
    target = tmp_path / "new"
    proc = subprocess.run([EXE, "init", str(target)], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "no git identity" not in proc.stderr
    log = subprocess.run(["git", "log", "-1", "--format=%an"], cwd=target, capture_output=True, text=True, env=env, check=True)
    assert log.stdout.strip() == "Gloria Global"


# ---- item 11: the user's signing configuration is respected -------------------------------


def test_signing_configured_means_signed_commits(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "registry")
    key = ssh_key(tmp_path, "alice")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"author@example.com {key.with_suffix('.pub').read_text().strip()}\n")
    for k, v in (
        ("gpg.format", "ssh"),
        ("user.signingkey", str(key)),
        ("commit.gpgsign", "true"),
        ("gpg.ssh.allowedSignersFile", str(allowed)),
    ):
        git(root, "config", k, v)
    tip = git(root, "rev-parse", "HEAD").strip()
    proc = run_mlrelease(root, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes")
    assert proc.returncode == 0, proc.stderr
    for sha in git(root, "rev-list", f"{tip}..HEAD").split():
        verified = subprocess.run(["git", "verify-commit", sha], cwd=root, capture_output=True, text=True, check=False)
        assert verified.returncode == 0, f"{sha} is not signed: {verified.stderr}"


def test_a_signing_failure_fails_before_anything_is_pushed(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "registry")
    remote = add_remote(root, tmp_path / "remote.git")
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(tmp_path / "no-such-key")), ("commit.gpgsign", "true")):
        git(root, "config", k, v)
    before = git(remote, "rev-parse", "main")
    proc = run_mlrelease(root, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes", "--push")
    assert proc.returncode != 0
    assert "commit.gpgsign" in proc.stderr and "user.signingkey" in proc.stderr
    assert git(remote, "rev-parse", "main") == before


# ---- item 10: shallow clones --------------------------------------------------------------


def test_a_shallow_clone_sees_the_whole_history_for_the_order_gate(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "registry")
    # 1.1.0 was live in dev once; dev has moved on to 1.2.0 since, in later commits.
    write(root, "releases/dev/fraud-card.yaml", release("fraud-card", "dev", "1.1.0", promotion_id="p-old"))
    commit_all(root, "1.1.0 live in dev")
    write(root, "releases/staging/fraud-card.yaml", release("fraud-card", "staging", "1.0.0"))
    commit_all(root, "staging back to 1.0.0")
    for n in range(3):
        write(root, "releases/dev/fraud-card.yaml", release("fraud-card", "dev", "1.2.0", promotion_id=f"p-new{n}"))
        commit_all(root, f"1.2.0 live in dev ({n})")
    write(root, "mlrelease.yaml", config(remote=ORIGIN))
    commit_all(root, "Push to origin")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(root), str(remote))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{remote}", str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    proc = run_mlrelease(clone, "promote", "fraud-card@1.1.0", "--to", "staging", "--reason", "go", "--yes", "--json")
    data = json.loads(proc.stdout)
    order = next(g for g in data["plan"]["gates"] if g["name"] == "order:dev")
    assert order["passed"], order
    assert proc.returncode == 0, proc.stderr


def test_a_shallow_clone_without_a_remote_says_so(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "registry")
    write(root, "releases/dev/fraud-card.yaml", release("fraud-card", "dev", "1.1.0", promotion_id="p-old"))
    commit_all(root, "1.1.0 live in dev")
    write(root, "releases/dev/fraud-card.yaml", release("fraud-card", "dev", "1.2.0", promotion_id="p-new"))
    write(root, "releases/staging/fraud-card.yaml", release("fraud-card", "staging", "1.0.0"))
    commit_all(root, "dev moved on")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{root}", str(clone))
    git(clone, "remote", "remove", "origin")
    proc = run_mlrelease(clone, "promote", "fraud-card@1.1.0", "--to", "staging", "--reason", "go", "--dry-run", "--json")
    order = next(g for g in json.loads(proc.stdout)["plan"]["gates"] if g["name"] == "order:dev")
    assert not order["passed"] and "shallow" in order["detail"], order


# ---- item 13: one confirmation rule, on the plan -------------------------------------------


def test_the_cli_asks_for_the_model_name_in_production_like_the_tui(repo: Path) -> None:
    """Both faces read plan.confirmation; the CLI's prompt needs the name typed out in production."""
    write(repo, "releases/staging/fraud-card.yaml", release("fraud-card", "staging", "1.2.0"))
    commit_all(repo, "1.2.0 in staging")
    tip = git(repo, "rev-parse", "HEAD")
    dry = json.loads(
        run_mlrelease(repo, "promote", "fraud-card@1.2.0", "--to", "production", "--reason", "go", "--dry-run", "--json").stdout
    )
    assert dry["plan"]["confirmation"] == {"reason_required": True, "typed_name": "fraud-card"}
    # `script` gives the command a terminal, so it asks; a plain "y" is not enough.
    if shutil.which("script") is None:
        pytest.skip("script(1) is needed to give the command a terminal")
    cmd = f"{EXE} --repo {repo} promote fraud-card@1.2.0 --to production --reason go"
    said_y = subprocess.run(["script", "-qec", cmd, "/dev/null"], input="y\n", capture_output=True, text=True, timeout=120, check=False)
    assert "Type the model name (fraud-card)" in said_y.stdout, said_y.stdout
    assert git(repo, "rev-parse", "HEAD") == tip
    typed = subprocess.run(
        ["script", "-qec", cmd, "/dev/null"], input="fraud-card\n", capture_output=True, text=True, timeout=120, check=False
    )
    assert git(repo, "rev-parse", "HEAD") != tip, typed.stdout
