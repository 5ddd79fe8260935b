"""A rejected push is judged by ``git push --porcelain``'s status for the ref, never by the
server's wording (issue 9 item 8): a real bare remote with a real ``pre-receive`` hook.

The hook appends a line per push it sees to a file, so each test counts the attempts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.builders import git, shared_remote

EXE = str(Path(sys.executable).with_name("mlrelease"))

HOOK = """#!/bin/sh
echo push >> "{log}"
{body}
"""


def remote_and_clone(tmp_path: Path, hook_body: str = "exit 0") -> tuple[Path, Path, Path]:
    bare = shared_remote(tmp_path)
    log = tmp_path / "pushes.log"
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(HOOK.format(log=log, body=hook_body))
    hook.chmod(0o755)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    return bare, clone, log


def promote(clone: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "--repo", str(clone), "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "r", "--yes", *extra],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )


def pushes(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_hook_that_declines_with_the_words_failed_to_lock_fails_at_once_with_its_own_message(tmp_path: Path) -> None:
    body = 'echo "failed to lock: the release freeze is on until Monday (ask #release-desk)" >&2\nexit 1'
    bare, clone, log = remote_and_clone(tmp_path, body)
    before = git(bare, "rev-parse", "main").strip()
    proc = promote(clone)
    assert pushes(log) == 1, f"{pushes(log)} pushes for a hook that declines: {proc.stderr}"
    assert proc.returncode == 1, proc.stderr
    assert "declined" in proc.stderr and "failed to lock: the release freeze is on until Monday (ask #release-desk)" in proc.stderr
    assert "retries" not in proc.stderr and "remote:" not in proc.stderr
    assert git(bare, "rev-parse", "main").strip() == before
    assert git(clone, "rev-parse", "main").strip() == before  # the clone did not record what the remote refused


def test_a_stale_lock_on_the_remote_is_named_not_retried_like_contention(tmp_path: Path) -> None:
    bare, clone, log = remote_and_clone(tmp_path)
    lock = bare / "refs" / "heads" / "main.lock"
    lock.write_text("")  # left by a git that crashed on the server
    before = git(bare, "rev-parse", "main").strip()
    proc = promote(clone, "--json")
    assert pushes(log) <= 4, f"{pushes(log)} pushes against a stale lock: {proc.stderr}"
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "refs/heads/main.lock" in proc.stdout and "stale" in proc.stdout, proc.stdout
    assert git(bare, "rev-parse", "main").strip() == before
    lock.unlink()  # once it is removed, the same promotion goes through
    again = promote(clone)
    assert again.returncode == 0, again.stderr
    assert "Succeeded" in git(bare, "show", "main:releases/staging/fraud-card.yaml")


def test_a_hook_that_declines_the_outcome_leaves_the_intent_pending_with_the_hooks_words(tmp_path: Path) -> None:
    # The second push (the outcome) is declined: the intent stays Pending, never shown as done.
    body = 'if [ "$(wc -l < "{log}")" -ge 2 ]; then echo "outcome commits need a ticket" >&2; exit 1; fi'
    bare, clone, log = remote_and_clone(tmp_path)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(HOOK.format(log=tmp_path / "pushes.log", body=body.replace("{log}", str(tmp_path / "pushes.log"))))
    proc = promote(clone)
    assert pushes(log) == 2, proc.stderr
    assert proc.returncode == 1, proc.stderr
    assert "outcome commits need a ticket" in proc.stderr and "reconcile" in proc.stderr
    assert "Pending" in git(bare, "show", "main:releases/staging/fraud-card.yaml")
