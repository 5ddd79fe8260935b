"""Bad forms of the import commands' own arguments: one clear line, exit code, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrelease.cli import main
from tests.builders import git


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gto", ".", "--stage-map", "prod"], "--stage-map expects FROM=TO, got 'prod'"),
        (["gto", ".", "--stage-map", "=production"], "--stage-map expects FROM=TO"),
        (["gto", ".", "--stage-map", "prod=a", "--stage-map", "prod=b"], "--stage-map maps 'prod' twice"),
        (["gto", ".", "--rename", "old"], "--rename expects FROM=TO"),
        (["mlflow", "--tracking-uri", "http://127.0.0.1:9", "--alias-map", "champion"], "--alias-map expects FROM=TO"),
    ],
)
def test_malformed_pairs_are_usage_errors(repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert main(["--repo", str(repo), "import", *args]) == 2
    assert message in capsys.readouterr().err
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""


def test_push_without_a_remote_says_so_and_writes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert main(["--repo", str(repo), "import", "gto", str(repo), "--push"]) == 1
    assert "git remote 'origin' is not configured" in capsys.readouterr().err
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""
