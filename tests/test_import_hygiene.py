"""The headless core never imports Textual: the CLI starts fast and runs where Textual is unwanted.

Each module is imported in a fresh process (a fork of an interpreter that has imported
nothing of mlrelease), so one module's imports cannot hide or cause another's. Only the
``mlrelease.tui`` package may import Textual; the ``tui`` command module imports it when
it runs, never when it is loaded for ``--help``.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import mlrelease
from tests.builders import make_registry

VENV_BIN = Path(sys.executable).parent

# Imports each module named in argv in its own forked child; prints {module: verdict}. The
# parent first loads the third-party libraries most modules share (never Textual), so each
# child pays only for mlrelease's own modules.
_CHECKER = """
import importlib, json, os, sys
import argparse, concurrent.futures, importlib.metadata, multiprocessing, sqlite3, zoneinfo
import httpx, rich.console, rich.markup, rich.table, rich.text, yaml
assert "textual" not in sys.modules
verdicts = {}
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            os._exit(2)
        os._exit(1 if "textual" in sys.modules else 0)
    _, status = os.waitpid(pid, 0)
    verdicts[name] = {0: "clean", 1: "imports textual", 2: "fails to import"}.get(os.waitstatus_to_exitcode(status), "crashed")
print(json.dumps(verdicts))
"""


def headless_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(mlrelease.__path__, "mlrelease.")]
    return sorted(n for n in names if not n.startswith("mlrelease.tui") and n != "mlrelease.__main__")


def test_the_module_list_covers_every_layer() -> None:
    modules = headless_modules()
    for expected in (
        "mlrelease.registry.loader",
        "mlrelease.registry.lint",
        "mlrelease.gitstore.transaction",
        "mlrelease.release.register",
        "mlrelease.backends.record",
        "mlrelease.cli",
        "mlrelease.cli.commands.lint",
        "mlrelease.cli.commands.register",
        "mlrelease.cli.commands.init",
    ):
        assert expected in modules


def test_no_headless_module_imports_textual() -> None:
    modules = headless_modules()
    proc = subprocess.run([sys.executable, "-c", _CHECKER, *modules], capture_output=True, text=True, check=True, timeout=240)
    verdicts = json.loads(proc.stdout)
    assert set(verdicts) == set(modules)
    assert {m: v for m, v in verdicts.items() if v != "clean"} == {}


def test_help_and_headless_commands_do_not_load_textual(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "registry")
    script = (
        "import sys\n"
        "from mlrelease.cli import main\n"
        "for argv in (['lint'], ['list', '--json'], ['show', 'fraud-card', '--json']):\n"
        f"    main(['--repo', {str(root)!r}, *argv])\n"
        "assert 'textual' not in sys.modules, sorted(m for m in sys.modules if m.startswith('textual'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    script = (
        "import sys\n"
        "from mlrelease.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'textual' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "lint" in proc.stdout and "register" in proc.stdout


def test_installed_script_help() -> None:
    proc = subprocess.run([str(VENV_BIN / "mlrelease"), "--help"], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0
    for command in ("init", "register", "lint"):
        assert command in proc.stdout


def test_a_promotion_without_a_protected_branch_loads_no_pull_request_code(tmp_path: Path) -> None:
    """Review finding: release.proposal (and the forge client under it) was imported by every promotion;
    only a protected environment needs it (issue 9: every promotion's CPU counts)."""
    root = make_registry(tmp_path / "registry")
    heavy = ("mlrelease.release.proposal", "mlrelease.clients.forge")
    script = (
        "import sys\n"
        "from mlrelease.cli import main\n"
        f"rc = main(['--repo', {str(root)!r}, 'promote', 'fraud-card@1.2.0', '--to', 'staging', '--reason', 'go', '--yes'])\n"
        f"print(rc, sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 []", proc.stdout
