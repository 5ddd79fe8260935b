"""The newcomer's two commands (README) and the scripts behind them: scripts/prepare, test, check.

The README's first command installs mlrelease alone and opens the demo; its second is
scripts/test, which CI runs too (.ci/run → scripts/lint, then scripts/test). scripts/prepare's
refusals are tried with a PATH of our own: the tools it looks for (prometheus, tmux,
apt-get, sudo, id) are absent or stand-ins that fail the way a real machine does, so its
messages are checked without touching this machine's packages. Its working path is run for
real on a fresh machine (see notes: a debootstrapped Debian) and by CI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("bash", "dirname", "cat", "mktemp", "tail", "rm")  # what scripts/prepare needs besides what it looks for


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.*?)\n```", text, flags=re.S)


def test_the_readme_opens_with_the_two_commands() -> None:
    first, second = readme_commands()[:2]
    # The product alone (no test extra: mlflow and gto are ~850 MB), then the demo.
    assert first == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/mlrelease demo"
    assert second == "scripts/test"
    assert "Development" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readmes_test_command_through_scripts_check() -> None:
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert re.search(r"^scripts/test$", ci, flags=re.M), "CI runs the README's test command itself"
    assert re.search(r"^scripts/lint$", ci, flags=re.M)
    lint = (ROOT / "scripts/lint").read_text(encoding="utf-8")
    for step in ("ruff check .", "ruff format --check .", "mypy", "lint-imports"):
        assert step in lint, step
    check = (ROOT / "scripts/check").read_text(encoding="utf-8")
    assert "scripts/lint" in check and 'scripts/test "$@"' in check
    test = (ROOT / "scripts/test").read_text(encoding="utf-8")
    assert "scripts/prepare" in test and "-m pytest -n auto --dist loadgroup" in test
    for script in ("prepare", "lint", "test", "check"):
        assert (ROOT / "scripts" / script).stat().st_mode & 0o111, f"scripts/{script} is not executable"


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    """A PATH folder with the basic tools only: no prometheus, tmux, apt-get or sudo."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        real = shutil.which(tool)
        assert real, tool
        (folder / tool).symlink_to(real)
    return folder


def prepare(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(path / "bash"), str(ROOT / "scripts/prepare")],
        env={"PATH": str(path), "HOME": str(path.parent), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_prepare_without_apt_get_says_what_to_install(bare_path: Path) -> None:
    proc = prepare(bare_path)
    assert proc.returncode == 1
    assert "the tests need" in proc.stderr and "prometheus" in proc.stderr and "tmux" in proc.stderr
    assert "there is no apt-get here" in proc.stderr


def test_prepare_as_a_user_without_sudo_gives_the_command_to_run(bare_path: Path) -> None:
    stub(bare_path, "id", "echo 1000")
    stub(bare_path, "apt-get", "echo 'E: could not open lock file - are you root?' >&2; exit 100")
    stub(bare_path, "sudo", "echo 'sudo: a password is required' >&2; exit 1")
    proc = prepare(bare_path)
    assert proc.returncode == 1
    assert "can neither" in proc.stderr and "sudo without a password" in proc.stderr
    line = re.search(r"sudo apt-get install --no-install-recommends (.*)", proc.stderr)
    asked = set(line.group(1).split()) if line else set()
    # libatomic1 is asked for only where this machine lacks it (found through /sbin/ldconfig)
    assert (
        {"chromium", "openssh-client", "prometheus", "tmux"} <= asked <= {"chromium", "libatomic1", "openssh-client", "prometheus", "tmux"}
    )


def test_prepare_uses_sudo_when_it_works_and_reports_a_failed_install(bare_path: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    stub(bare_path, "id", "echo 1000")
    stub(bare_path, "sudo", f'echo "sudo $*" >> {calls}; [ "$1" = -n ] && exit 0; "$@"')
    stub(bare_path, "apt-get", "[ \"$1\" = update ] && exit 0; echo 'E: Unable to locate package prometheus' >&2; exit 100")
    proc = prepare(bare_path)
    assert proc.returncode == 1
    assert "installing" in proc.stderr and "with sudo apt-get" in proc.stderr
    assert "apt-get could not install" in proc.stderr and "E: Unable to locate package prometheus" in proc.stderr
    assert "sudo apt-get update -qq" in calls.read_text()


def test_prepare_refuses_a_python_older_than_3_11(bare_path: Path) -> None:
    for tool in ("prometheus", "tmux", "chromium", "ssh-keygen"):
        stub(bare_path, tool, "exit 0")
    stub(bare_path, "ldconfig", "echo '	libatomic.so.1 (libc6,x86-64) => /lib/libatomic.so.1'")
    stub(bare_path, "old-python", 'case "$*" in *--version*) echo "Python 3.9.2";; *) exit 1;; esac')
    proc = prepare(bare_path, PYTHON=str(bare_path / "old-python"))
    assert proc.returncode == 1
    assert "mlrelease needs Python 3.11 or newer" in proc.stderr and "Python 3.9.2" in proc.stderr
