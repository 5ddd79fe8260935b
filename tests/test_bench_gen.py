"""The benchmark generator (bench/gen.py) makes registries mlrelease reads as users' own.

The scale figures are only honest if the generated registry is one the tool accepts
and that looks like users' data: it lints clean, has exactly the release commits asked
for, and its history holds every kind of event the generator claims (GTO-imported
registrations and promotions, intent and outcome, approvals, rollbacks, hand edits).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench import gen
from mlrelease.cli import main


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("gen") / "registry"
    info = gen.build(root, models=8, versions=12, releases=120, seed=3)
    return root, info


def test_the_generated_registry_lints_clean(generated: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]) -> None:
    root, info = generated
    assert main(["--repo", str(root), "lint", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"], report["problems"][:5]
    assert info["versions"] == 96 and info["release_commits"] == 120


def test_its_history_has_every_kind_of_event(generated: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = generated
    assert main(["--repo", str(root), "history", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    actions = Counter(e["action"] for e in events)
    for action in ("promote", "outcome", "approve", "edit"):
        assert actions[action], (action, actions)
    assert any((e.get("source") or "").startswith("gto ") for e in events), "no GTO-imported promotion"
    sizes = [p.stat().st_size for p in (root / "models").glob("*/versions/*.yaml")]
    full = [s for s in sizes if s > 1000]
    assert len(full) > len(sizes) / 2 and 1800 < sum(full) / len(full) < 3000, "manifests are not ~2 KB"
