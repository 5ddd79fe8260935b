"""Start-up stays cheap: answering ``--version`` or ``--help`` imports no command module.

Issue 17: ``mlrelease --version`` cost 0.55 s of CPU because building the parser imported
every command (and through them the registry, Rich, the release service). A fresh
interpreter is used so that nothing imported by other tests hides the cost.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from mlrelease.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.startswith(("mlrelease.cli.commands.", "mlrelease.registry", "mlrelease.release", "rich", "yaml", "textual")))
print(json.dumps(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_no_command_module_is_imported_without_a_command(argv: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True)
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []
    assert proc.stdout.strip()  # the version, or the help with every command listed
    if argv == ["--help"]:
        for command in ("list", "lineage", "history", "lint", "promote", "tui"):
            assert f"    {command} " in proc.stdout


def test_a_command_imports_only_its_own_module() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=["lint", "--help"])], capture_output=True, text=True, check=True)
    commands = [m for m in json.loads(proc.stderr.strip().splitlines()[-1]) if m.startswith("mlrelease.cli.commands.")]
    assert commands == ["mlrelease.cli.commands.lint"]
