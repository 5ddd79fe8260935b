"""Lineage: upstream, downstream, sound parent chains, and data set impact; the lineage command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlrelease.errors import NotFound
from mlrelease.registry.lineage import dataset_impact, lineage
from mlrelease.registry.loader import Registry
from tests.builders import commit_all, model, release, version, write
from tests.cli_helpers import cli, fails


@pytest.fixture
def rich_repo(repo: Path) -> Path:
    """fraud-card 1.2.0 with data by role, code, a child 1.3.0 (canary in production), two consumers."""
    write(
        repo,
        "models/fraud-card/model.yaml",
        model(
            "fraud-card",
            consumers=[
                {"name": "card-gateway", "environments": ["production"]},
                {"name": "analyst-notebooks", "environments": ["dev"]},
                {"name": "everywhere-app"},
            ],
        ),
    )
    data = {
        "train": {"dataset": "transactions", "version": "2026.01", "rows": 1000, "digest": "sha256:aa"},
        "validation": {"dataset": "transactions", "version": "2026.02"},
        "test": {"dataset": "holdout", "version": "7"},
    }
    code = {"repo": "https://git.example.com/fraud", "commit": "c0ffee", "entrypoint": "train.py"}
    write(repo, "models/fraud-card/versions/1.2.0.yaml", version("fraud-card", "1.2.0", f1=0.85, parent="1.1.0", data=data, code=code))
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", f1=0.86, parent="1.2.0"))
    write(repo, "models/fraud-card/versions/1.2.1.yaml", version("fraud-card", "1.2.1", f1=0.86, parent="1.2.0"))
    state = release("fraud-card", "production", "1.2.0", promotion_id="p-7")
    state["live"]["canary"] = {"version": "1.3.0", "weight": 5}
    write(repo, "releases/production/fraud-card.yaml", state)
    commit_all(repo, "lineage fixture")
    return repo


def test_upstream_and_downstream(rich_repo: Path) -> None:
    with Registry(rich_repo) as reg:
        lin = lineage(reg, "fraud-card", "1.2.0")
    assert [(d.role, d.ref.dataset, d.ref.version, d.manifest is not None) for d in lin.data] == [
        ("train", "transactions", "2026.01", True),
        ("validation", "transactions", "2026.02", False),
        ("test", "holdout", "7", False),
    ]
    assert lin.data[0].manifest is not None and lin.data[0].manifest.rows == 1000
    assert lin.code is not None and lin.code.commit == "c0ffee"
    assert [a.version for a in lin.parents.ancestors] == ["1.1.0", "1.0.0"]
    assert lin.parents.end == "root"
    assert [(p.environment, p.role) for p in lin.placements] == [("dev", "live"), ("production", "live")]
    assert {c.consumer.name: c.affected for c in lin.consumers} == {
        "card-gateway": True,
        "analyst-notebooks": True,
        "everywhere-app": True,
    }
    assert lin.children == ("1.2.1", "1.3.0")
    assert lin.problems == ()


def test_canary_counts_as_live_and_consumers_outside_are_not_affected(rich_repo: Path) -> None:
    with Registry(rich_repo) as reg:
        lin = lineage(reg, "fraud-card", "1.3.0")
        old = lineage(reg, "fraud-card", "1.0.0")
    assert [(p.environment, p.role, p.weight) for p in lin.placements] == [("production", "canary", 5)]
    assert {c.consumer.name: c.affected for c in lin.consumers} == {
        "card-gateway": True,
        "analyst-notebooks": False,
        "everywhere-app": True,
    }
    assert old.placements == ()
    assert not any(c.affected for c in old.consumers)


@pytest.mark.parametrize(
    ("parents", "end", "at", "chain"),
    [
        ({"1.0.0": "0.9.0"}, "missing", "0.9.0", ["1.0.0"]),
        ({"1.0.0": "1.1.0"}, "cycle", "1.1.0", ["1.0.0"]),
        ({"1.1.0": "1.1.0"}, "cycle", "1.1.0", []),
    ],
)
def test_parent_chain_stops_safely(repo: Path, parents: dict[str, str], end: str, at: str, chain: list[str]) -> None:
    for ver, parent in parents.items():
        write(repo, f"models/fraud-card/versions/{ver}.yaml", version("fraud-card", ver, parent=parent))
    commit_all(repo, "odd parents")
    with Registry(repo) as reg:
        lin = lineage(reg, "fraud-card", "1.1.0")
    assert (lin.parents.end, lin.parents.at) == (end, at)
    assert [a.version for a in lin.parents.ancestors] == chain


def test_a_broken_parent_ends_the_chain_and_children_scan_reports_it(repo: Path) -> None:
    write(repo, "models/fraud-card/versions/1.0.0.yaml", "model: fraud-card\n")
    with Registry(repo) as reg:
        lin = lineage(reg, "fraud-card", "1.1.0")
    assert (lin.parents.end, lin.parents.at) == ("broken", "1.0.0")
    assert lin.children == ("1.2.0",)
    assert {p.path for p in lin.problems} == {"models/fraud-card/versions/1.0.0.yaml"}


def test_dataset_impact(rich_repo: Path) -> None:
    with Registry(rich_repo) as reg:
        impact = dataset_impact(reg, "transactions", "2026.02")
        train = dataset_impact(reg, "transactions", "2026.01")
        holdout = dataset_impact(reg, "holdout", "7")
    assert impact.manifest is None
    assert [(u.model, u.version, u.roles) for u in impact.uses] == [("fraud-card", "1.2.0", ("validation",))]
    assert [(p.environment, p.role) for p in impact.uses[0].placements] == [("dev", "live"), ("production", "live")]
    assert train.manifest is not None
    assert [(u.model, u.version) for u in train.uses] == [
        ("churn", "0.1.0"),
        ("churn", "0.2.0"),
        ("fraud-card", "1.0.0"),
        ("fraud-card", "1.1.0"),
        ("fraud-card", "1.2.0"),
        ("fraud-card", "1.2.1"),
        ("fraud-card", "1.3.0"),
    ]
    assert [(u.model, u.version) for u in train.live_uses] == [
        ("churn", "0.2.0"),
        ("fraud-card", "1.1.0"),
        ("fraud-card", "1.2.0"),
        ("fraud-card", "1.3.0"),
    ]
    assert holdout.uses[0].roles == ("test",)


def test_dataset_impact_unknown(repo: Path) -> None:
    with Registry(repo) as reg:
        with pytest.raises(NotFound, match=r"no data set transactions@1999 .*versions: 2026\.01"):
            dataset_impact(reg, "transactions", "1999")
        with pytest.raises(NotFound, match="no manifest and no version uses it"):
            dataset_impact(reg, "weather", "1")
        with pytest.raises(NotFound, match="path separator"):
            dataset_impact(reg, "../x", "1")


# ---- the lineage command ---------------------------------------------------------------------


def test_lineage_tree(capsys: pytest.CaptureFixture[str], rich_repo: Path) -> None:
    rc, out, _ = cli(capsys, rich_repo, "lineage", "fraud-card@1.2.0")
    assert rc == 0
    for text in (
        "fraud-card@1.2.0",
        "train: transactions@2026.01  1,000 rows, digest sha256:aa  s3://data/transactions/2026.01/",
        "validation: transactions@2026.02  (no data set manifest)",
        "code: https://git.example.com/fraud @ c0ffee  train.py",
        "parents: 1.1.0 ← 1.0.0  (root)",
        "live in: dev, production",
        "card-gateway (production)  ◆ calls this version now",
        "children: 1.2.1, 1.3.0",
    ):
        assert text in out, text


def test_lineage_tree_names_a_cycle(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    write(repo, "models/fraud-card/versions/1.0.0.yaml", version("fraud-card", "1.0.0", parent="1.2.0"))
    commit_all(repo, "cycle")
    rc, out, _ = cli(capsys, repo, "lineage", "fraud-card@1.2.0")
    assert rc == 0
    assert "parents: 1.1.0 ← 1.0.0  (cycle: parent 1.2.0 is already in the chain)" in out


def test_lineage_json(capsys: pytest.CaptureFixture[str], rich_repo: Path) -> None:
    rc, out, _ = cli(capsys, rich_repo, "lineage", "fraud-card@1.3.0", "--json")
    assert rc == 0
    data = json.loads(out)
    assert (data["model"], data["version"]) == ("fraud-card", "1.3.0")
    assert data["upstream"]["data"][0]["dataset"] == "transactions"
    assert data["upstream"]["data"][0]["manifest"]["rows"] == 1000
    assert [p["version"] for p in data["upstream"]["parents"]] == ["1.2.0", "1.1.0", "1.0.0"]
    assert data["upstream"]["parents_end"] == {"kind": "root", "at": None}
    assert data["downstream"]["live_in"] == [{"environment": "production", "role": "canary", "weight": 5}]
    assert data["downstream"]["children"] == []
    assert {c["name"]: c["affected"] for c in data["downstream"]["consumers"]}["analyst-notebooks"] is False


def test_lineage_dataset_table_and_json(capsys: pytest.CaptureFixture[str], rich_repo: Path) -> None:
    rc, out, _ = cli(capsys, rich_repo, "lineage", "--dataset", "transactions@2026.01")
    assert rc == 0
    assert "used by 7 model versions, 4 of them live now" in out
    row = next(line for line in out.splitlines() if "1.3.0" in line)
    assert "production (canary 5%)" in row
    data = json.loads(cli(capsys, rich_repo, "lineage", "--dataset", "transactions@2026.01", "--json")[1])
    assert data["dataset"] == "transactions" and data["manifest"]["uri"] == "s3://data/transactions/2026.01/"
    assert data["uses"][0] == {"model": "churn", "version": "0.1.0", "roles": ["train"], "dataset_versions": ["2026.01"], "live_in": []}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["lineage"], 2, "give one of MODEL@VERSION, --dataset NAME[@VERSION] or --consumer APP"),
        (["lineage", "fraud-card@1.0.0", "--dataset", "transactions@2026.01"], 2, "give one of"),
        (["lineage", "fraud-card"], 2, "expected MODEL@VERSION"),
        (["lineage", "--dataset", "transactions@"], 2, "expected NAME@VERSION"),
        (["lineage", "--dataset", "ghost"], 1, "no data set ghost in"),
        (["lineage", "fraud-card@8.8.8"], 1, "no version '8.8.8'"),
        (["lineage", "ghost@1.0.0"], 1, "no model 'ghost'"),
        (["lineage", "--dataset", "ghost@1"], 1, "no data set ghost@1"),
    ],
)
def test_lineage_errors(capsys: pytest.CaptureFixture[str], repo: Path, args: list[str], code: int, message: str) -> None:
    fails(capsys, repo, args, code, message)


def test_dataset_impact_with_a_broken_manifest_reports_and_exits_1(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    write(repo, "models/churn/versions/0.1.0.yaml", "model: [")
    rc, out, err = cli(capsys, repo, "lineage", "--dataset", "transactions@2026.01")
    assert rc == 1
    assert "fraud-card" in out
    assert "models/churn/versions/0.1.0.yaml" in err


def test_dataset_table_keeps_every_live_use_within_its_limit(capsys: pytest.CaptureFixture[str], rich_repo: Path) -> None:
    rc, out, _ = cli(capsys, rich_repo, "lineage", "--dataset", "transactions@2026.01", "--limit", "5")
    assert rc == 0
    rows = [line.split() for line in out.splitlines() if line.startswith(" churn") or line.startswith(" fraud-card")]
    assert [r[:2] for r in rows] == [
        ["churn", "0.2.0"],
        ["fraud-card", "1.1.0"],
        ["fraud-card", "1.2.0"],
        ["fraud-card", "1.2.1"],  # the newest version that is not live fills the last row
        ["fraud-card", "1.3.0"],
    ]
    assert "… 2 more model versions not shown" in out
