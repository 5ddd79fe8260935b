"""Running the CLI for the end-to-end tests: in-process (conftest gives each test a fresh
console), or as its own process, the venv's ``mlrelease`` executable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlrelease.cli import main

EXE = str(Path(sys.executable).with_name("mlrelease"))


def cli(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    """``mlrelease --repo ROOT ARGS...``: its exit code, stdout and stderr."""
    rc = main(["--repo", str(root), *args])
    out, err = capsys.readouterr()
    return rc, out, err


def fails(capsys: pytest.CaptureFixture[str], root: Path, args: list[str], code: int, message: str) -> None:
    """``mlrelease --repo ROOT ARGS...`` exits ``code`` with ``message`` on stderr and prints nothing on stdout."""
    rc, out, err = cli(capsys, root, *args)
    assert rc == code, err
    assert message in err
    assert out == ""


def run_mlrelease(root: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``mlrelease --repo ROOT ARGS...`` as a process (``env`` added to ours), two minutes at most."""
    return subprocess.run(
        [EXE, "--repo", str(root), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=stdin,
        timeout=120,
        check=False,
    )
