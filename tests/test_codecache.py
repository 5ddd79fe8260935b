"""mlrelease/codecache.py: the methods dataclasses writes are compiled once per install and
read back by later runs (issue 9 item 9: half the CPU of importing mlrelease was compiling
them), and the classes are exactly the classes dataclasses makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = r"""
import dataclasses, inspect, json, sys
import mlrelease  # installs the hook
from mlrelease import codecache
from mlrelease.registry import types

if sys.argv[1:] == ["plain"]:  # dataclasses as Python ships it, for the class below
    import builtins
    dataclasses.exec = builtins.exec

@dataclasses.dataclass(frozen=True)
class Probe:
    a: str
    b: int = 2
    c: tuple[str, ...] = dataclasses.field(default_factory=tuple)

p = Probe("x")
try:
    p.a = "y"
    frozen = "no"
except dataclasses.FrozenInstanceError as exc:
    frozen = type(exc).__name__
same = dataclasses.replace(p, b=2)
print(json.dumps({
    "compiled": codecache._STATE["new"],
    "repr": repr(p), "eq": p == same, "hash": hash(p) == hash(same), "frozen": frozen,
    "signature": str(inspect.signature(Probe)), "fields": [f.name for f in dataclasses.fields(Probe)],
    "state": repr(types.Canary("1.2.0", 10)),
}))
"""


def run(prefix: Path, *args: str, **env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    full.update(PYTHONPYCACHEPREFIX=str(prefix), **env)
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], env=full, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def kept_file(prefix: Path) -> Path:
    (found,) = prefix.rglob("dataclass-methods.*.marshal")
    return found


def test_the_second_run_compiles_nothing_and_its_classes_are_dataclasses_own(tmp_path: Path) -> None:
    prefix = tmp_path / "pyc"
    plain = run(tmp_path / "plain", "plain")
    first = run(prefix)
    assert first["compiled"] > 100  # every method of every record, once
    assert kept_file(prefix).stat().st_size > 0
    second = run(prefix)
    assert second["compiled"] == 0
    behaviour = {k: v for k, v in second.items() if k != "compiled"}
    assert behaviour == {k: v for k, v in first.items() if k != "compiled"}
    assert behaviour == {k: v for k, v in plain.items() if k != "compiled"}
    assert behaviour["frozen"] == "FrozenInstanceError" and behaviour["eq"] and behaviour["hash"]


@pytest.mark.parametrize("damage", ["empty", "foreign", "cut short"])
def test_a_damaged_or_foreign_file_is_ignored_and_written_again(tmp_path: Path, damage: str) -> None:
    prefix = tmp_path / "pyc"
    run(prefix)
    path = kept_file(prefix)
    whole = path.read_bytes()
    path.write_bytes({"empty": b"", "foreign": b"not ours" + whole[8:], "cut short": whole[: len(whole) // 2]}[damage])
    again = run(prefix)
    assert again["compiled"] > 100 and again["frozen"] == "FrozenInstanceError"
    assert run(prefix)["compiled"] == 0  # rewritten by the run that found it damaged


def test_nothing_is_written_where_python_writes_no_bytecode(tmp_path: Path) -> None:
    prefix = tmp_path / "pyc"
    assert run(prefix, PYTHONDONTWRITEBYTECODE="1")["compiled"] > 100
    assert not list(prefix.rglob("dataclass-methods.*"))
