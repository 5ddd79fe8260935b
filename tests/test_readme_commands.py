"""The README's command table names every command `mlrelease --help` lists (review finding: verify and review were missing)."""

from __future__ import annotations

import re
from pathlib import Path

from mlrelease.cli import COMMANDS

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_command_is_in_the_readmes_command_table() -> None:
    rows = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    named = {m.group(1) for line in rows for m in re.finditer(r"`([a-z][a-z-]*)", line.split(" | ")[0])}
    assert sorted(set(COMMANDS) - named) == []
