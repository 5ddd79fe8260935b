"""Running the CLI in-process for the end-to-end tests (conftest gives each test a fresh console)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrelease.cli import main


def cli(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    """``mlrelease --repo ROOT ARGS...``: its exit code, stdout and stderr."""
    rc = main(["--repo", str(root), *args])
    out, err = capsys.readouterr()
    return rc, out, err
