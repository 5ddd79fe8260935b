"""The verify that reads a window of history at a time, on both cores, reports exactly what the one it replaced did.

`mlrelease verify` walks the models in separate processes (a model's checks never look at
another model's files) and merges what they find into the order one walk finds it. The
report must not change by a byte: the same findings and notices in the same order, the
same counts, the same JSON. Here the old walk (as landed at :data:`OLD`, loaded from git)
and the new one, in one, two and three processes, verify the demo registry, a generated
registry with forgeries added, every forgery scenario of the verify tests (acceptances too), and a signed
environment where one unsigned hand edit touches two models (its "unsigned" finding is
said once, whichever process checks which model).

One difference is on purpose: the old walk remembered one parse per blob id, so two files
emptied in two commits (the same empty blob) were both named by one of their paths in
"cannot be read"; the new one names each by its own (the last test).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bench import gen
from mlrelease.audit import verify as new
from mlrelease.cli import main
from mlrelease.registry.loader import Registry
from tests.builders import commit_all, write
from tests.test_signing import Signers
from tests.test_signing import signers as signers  # the signed scenario's fixture
from tests.test_verify import edit, hand_commit
from tests.test_verify_incremental import SCENARIOS, run_scenario
from tests.test_verify_incremental import people as people  # the scenarios' fixture

REPO = Path(__file__).resolve().parent.parent
OLD = "cc8f13a"  # main before verify read history a window at a time (its walk: one process, every blob up front)
MODULES = ("acceptances", "checks", "report", "state", "walk", "verify")


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """mlrelease/audit as it was at OLD, importable as ``old_audit`` (the registry it reads is today's)."""
    folder = tmp_path_factory.mktemp("old") / "old_audit"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name in MODULES:
        shown = subprocess.run(["git", "show", f"{OLD}:mlrelease/audit/{name}.py"], cwd=REPO, capture_output=True, check=False)
        if shown.returncode != 0:
            pytest.skip(f"commit {OLD} is not in this clone")
        (folder / f"{name}.py").write_bytes(shown.stdout)
    sys.path.insert(0, str(folder.parent))
    try:
        return importlib.import_module("old_audit.verify")
    finally:
        sys.path.remove(str(folder.parent))


def reports(old: ModuleType, root: Path) -> dict[str, Any]:
    """The old walk's report, and the new one's with each number of processes, as ``verify --json`` prints them."""
    reg = Registry(root)
    out = {"old": old.verify(reg).to_json()}
    for workers in (1, 2, 3):
        out[f"new, {workers}"] = new.verify(reg, workers=workers).to_json()
    out["new, as the CLI runs it"] = new.verify(reg).to_json()
    return out


def assert_same(found: dict[str, Any]) -> dict[str, Any]:
    want = found["old"]
    for name, got in found.items():
        assert got == want, f"{name} differs from the old walk:\n{json.dumps(got, indent=1)[:3000]}"
    return want


def test_the_demo_registry_with_its_accepted_finding(old: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--path", str(tmp_path / "demo")]) == 0
    capsys.readouterr()
    report = assert_same(reports(old, tmp_path / "demo"))
    assert report["counts"]["accepted"] == 1 and report["acceptances"] and report["notices"]  # its one finding, accepted


def test_a_generated_registry_with_forgeries(old: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "gen"
    gen.build(root, models=12, versions=40, releases=400, seed=7)
    models = sorted(p.name for p in (root / "models").iterdir() if (root / "models" / p.name / "model.yaml").exists())
    # a hand edit across two models in one commit, a deleted rejection, a hand-added approval
    for m in models[:2]:
        edit(root, f"releases/production/{m}.yaml", lambda d: d.update(pin=None))
        edit(
            root,
            f"releases/staging/{m}.yaml",
            lambda d: d.setdefault("approvals", []).append(
                {"version": "1.0.0", "by": "Mallory <mallory@bank.example>", "at": "2026-01-05T10:00:00Z"}
            ),
        )
    hand_commit(root, "tidy two models")
    held = next(root.glob("models/*/rejections.yaml"))
    edit(root, held.relative_to(root).as_posix(), lambda d: d.update(rejected=[]))
    hand_commit(root, "drop a rejection")
    report = assert_same(reports(old, root))
    kinds = {f["kind"] for f in report["findings"]}
    assert {"hand-edit", "gate", "deleted"} <= kinds, kinds


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_forgery_scenario(scenario: str, old: ModuleType, request: pytest.FixtureRequest, repo: Path) -> None:
    run_scenario(request, SCENARIOS[scenario])
    assert_same(reports(old, repo))


def test_one_unsigned_hand_edit_of_two_models_is_one_finding(old: ModuleType, signers: Signers, repo: Path) -> None:
    assert signers("alice@bank.example", "approve", "fraud-card@1.1.0", "--env", "production", "--yes")[0] == 0
    for m in ("fraud-card", "churn"):
        path = repo / f"releases/production/{m}.yaml"
        path.write_text(path.read_text() + "- version: '0.2.0'\n  by: Bob <bob@bank.example>\n  at: '2026-03-02T12:00:00Z'\n")
    write(repo, "models/churn/rejections.yaml", {"rejected": []})
    unsigned = commit_all(
        repo,
        "Approve\n\nMlrelease-Action: approve\nMlrelease-Version: 0.2.0\nMlrelease-Environment: production\n"
        "Mlrelease-Actor: Bob <bob@bank.example>\n",
        env={"GIT_AUTHOR_EMAIL": "bob@bank.example", "GIT_COMMITTER_EMAIL": "bob@bank.example"},
    )
    report = assert_same(reports(old, repo))
    assert [f["kind"] for f in report["findings"] if f["commit"] == unsigned].count("unsigned") == 1, report["findings"]


def test_the_one_difference_an_emptied_file_in_two_places_is_named_by_its_own_path(old: ModuleType, repo: Path) -> None:
    """The old walk kept one parse per blob id, so two files emptied (one blob, e69de29) were both named by one path.

    The new walk parses each file by its own path: each finding names the file its commit emptied.
    """
    for rel in ("releases/staging/fraud-card.yaml", "releases/production/churn.yaml"):
        (repo / rel).write_text("")
        hand_commit(repo, f"empty {rel}")
    found = reports(old, repo)
    unreadable = {name: [(f["path"], f["message"]) for f in r["findings"] if "cannot be read" in f["message"]] for name, r in found.items()}
    for name, pairs in unreadable.items():
        if name != "old":
            assert len(pairs) == 2 and all(f"this commit: {path}:" in message for path, message in pairs), (name, pairs)
    assert not all(f"this commit: {path}:" in message for path, message in unreadable["old"]), unreadable["old"]
