"""``mlrelease import mlflow`` against a real MLflow server: one commit, only what is new, and a round trip.

Round trip: MLflow → import → ``mlrelease promote`` → the alias moves in MLflow, to the
version that was imported (not to a copy).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import parse_trailers
from tests.builders import add_remote, commit_all, config, git, make_registry, write

pytestmark = pytest.mark.interop

pytest.register_assert_rewrite("tests.interop_fixtures")
from tests.interop_fixtures import Seeder, unique  # noqa: E402  (after the rewrite hook)

pytest_plugins = ["tests.interop_fixtures"]


def run_import(root: Path, url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["--repo", str(root), "import", "mlflow", "--tracking-uri", url, *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def seed_model(seeder: Seeder, name: str) -> str:
    """A registered model ``name`` with two versions trained by different people, and the alias champion on v2."""
    seeder.model(name, owner="team-risk")
    numbers = []
    for i, (f1, user) in enumerate(((0.81, "alice"), (0.86, "bob")), start=1):
        run = seeder.run(
            user=user,
            metrics={"f1": f1, "auc": 0.9 + i / 100, "val_loss": 0.3},
            params={"max_depth": str(4 + i), "learning_rate": "0.1"},
            tags={
                "mlflow.source.git.commit": f"{i}" * 40,
                "mlflow.source.git.repoURL": "https://git.example.com/risk/fraud",
                "mlflow.source.name": "train.py",
            },
        )
        numbers.append(seeder.version(name, f"s3://ml-models/{name}/run-{i}/", run_id=run, stage_hint="ok"))
    seeder.set_alias(name, "champion", numbers[1])
    return name


def test_import_writes_one_commit_and_then_only_what_is_new(
    tmp_path: Path, mlflow_server: str, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    name = seed_model(seeder, unique("risk"))
    root = make_registry(tmp_path / "reg")
    before = head(root)

    code, report = run_import(root, mlflow_server, "--model", name, "--alias-map", "champion=production", capsys=capsys)
    assert code == 0
    assert report["versions"] == [f"{name}@1.0.0", f"{name}@2.0.0"] and report["releases"] == [f"production/{name}"]
    assert any("val_loss" in w for w in report["warnings"])  # not in the catalogue: left out, and said so
    assert git(root, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    trailers = parse_trailers(git(root, "log", "-1", "--format=%B"))
    assert trailers["action"] == "import" and trailers["source"] == f"mlflow {mlflow_server}" and trailers["model"] == name

    with Registry(root) as reg:
        model = reg.model(name)
        assert model.owner == "team-risk" and model.description == f"{name} from MLflow"
        v1, v2 = reg.versions(name)
        assert (v1.version, v1.author, v2.author) == ("1.0.0", "alice", "bob")
        assert v1.artifact.uri == f"s3://ml-models/{name}/run-1/"
        assert v1.metrics == {"f1": 0.81, "auc": pytest.approx(0.91)}
        assert v1.params == {"max_depth": "5", "learning_rate": "0.1"}
        assert v1.code is not None and v1.code.commit == "1" * 40 and v1.code.repo == "https://git.example.com/risk/fraud"
        assert f"mlflow:{name}/1" in v1.tags and "stage_hint=ok" in v1.tags
        assert any(t.startswith("mlflow-run:") for t in v1.tags)
        state = reg.release("production", name)
        assert state.live.version == "2.0.0"
        assert state.observed.phase == "Succeeded" and state.observed.backend_ref == "2" and state.observed.backend == "mlflow"

    again = head(root)
    code, report = run_import(root, mlflow_server, "--model", name, "--alias-map", "champion=production", capsys=capsys)
    assert code == 0 and report["commits"] == [] and report["unchanged"] == 3
    assert head(root) == again  # nothing new: no commit

    run = seeder.run(user="carol", metrics={"f1": 0.88}, params={})
    third = seeder.version(name, f"s3://ml-models/{name}/run-3/", run_id=run)
    seeder.set_alias(name, "champion", third)
    code, report = run_import(root, mlflow_server, "--model", name, "--alias-map", "champion=production", capsys=capsys)
    assert code == 0 and report["versions"] == [f"{name}@3.0.0"] and report["releases"] == [f"production/{name}"]
    assert git(root, "rev-list", "--count", f"{again}..HEAD").strip() == "1"
    changed = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(changed) == [f"models/{name}/versions/3.0.0.yaml", f"releases/production/{name}.yaml"]


def test_round_trip_mlflow_import_promote_moves_the_alias_in_mlflow(
    tmp_path: Path, mlflow_server: str, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    suffix = unique("rt")
    registered = f"scorer-{suffix}"
    seed_model(seeder, registered)  # v1, v2; champion → v2
    root = make_registry(tmp_path / "reg")
    cfg = config()
    cfg["environments"] = [{"name": "production", "backend": "mlflow"}]
    cfg["backends"]["mlflow"] = {
        "type": "mlflow",
        "tracking_uri": mlflow_server,
        "model": "{model}-" + suffix,
        "aliases": {"production": "champion"},
    }
    cfg["conventions"].pop("artifact_uri")
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "Production is served from MLflow")

    # No --alias-map: the aliases the registry's mlflow backend moves (production → champion).
    code, report = run_import(root, mlflow_server, "--model", registered, "--rename", f"{registered}=scorer", capsys=capsys)
    assert code == 0 and report["versions"] == ["scorer@1.0.0", "scorer@2.0.0"]
    assert [w for w in report["warnings"] if "val_loss" not in w] == []
    with Registry(root) as reg:
        assert reg.release("production", "scorer").live.version == "2.0.0"

    capsys.readouterr()
    code = main(["--repo", str(root), "promote", "scorer@1.0.0", "--to", "production", "--reason", "back to v1", "--yes", "--json"])
    assert code == 0, capsys.readouterr()
    assert seeder.alias(registered, "champion") == "1"  # moved in MLflow...
    assert len(seeder.versions(registered)) == 2  # ...to the imported version, not a copy
    assert {t["key"]: t["value"] for t in seeder.get_version(registered, "1")["tags"]}["mlrelease.version"] == "1.0.0"
    with Registry(root) as reg:
        state = reg.release("production", "scorer")
        assert state.live.version == "1.0.0" and state.observed.backend_ref == "1"

    # Importing again sees the alias where mlrelease put it: nothing new.
    tip = head(root)
    code, report = run_import(root, mlflow_server, "--model", registered, "--rename", f"{registered}=scorer", capsys=capsys)
    assert code == 0 and report["commits"] == [] and head(root) == tip


def test_names_that_break_the_conventions_stop_the_import_before_anything_is_written(
    tmp_path: Path, mlflow_server: str, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "Fraud Model " + unique("x")
    seeder.model(name)
    seeder.version(name, "s3://ml-models/x/1/")
    root = make_registry(tmp_path / "reg")
    tip = head(root)
    code, out = run_import(root, mlflow_server, "--model", name, capsys=capsys)
    assert code == 1 and head(root) == tip
    assert "contains white space" in out["error"] and "--rename" in out["error"] and "nothing was imported" in out["error"]

    code, out = run_import(
        root, mlflow_server, "--model", name, "--rename", f"{name}=fraud-model", "--version-format", "{n}.0", capsys=capsys
    )
    assert code == 1 and "is not semver" in out["error"] and "--version-format" in out["error"]

    code, out = run_import(
        root, mlflow_server, "--model", name, "--rename", f"{name}=fraud-model", "--alias-map", "champion=prod", capsys=capsys
    )
    assert code == 1 and "no environment 'prod'" in out["error"]

    code, out = run_import(root, mlflow_server, "--model", name, "--rename", f"{name}=fraud-model", "--owner", "team-x", capsys=capsys)
    assert code == 0 and out["versions"] == ["fraud-model@1.0.0"]
    with Registry(root) as reg:
        assert reg.model("fraud-model").owner == "team-x"


def test_an_unreachable_or_failing_mlflow_is_one_clear_line_and_no_commit(
    tmp_path: Path, refused_url: str, server_500: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_registry(tmp_path / "reg")
    tip = head(root)
    code, out = run_import(root, refused_url, capsys=capsys)
    assert code == 1 and f"MLflow at {refused_url} is not reachable: connection refused" in out["error"]
    code, out = run_import(root, server_500, capsys=capsys)
    assert code == 1 and "answered 500" in out["error"] and "INTERNAL_ERROR" in out["error"]
    code, out = run_import(root, "https://alice:s3cret@mlflow.example.com", capsys=capsys)
    assert code == 1 and "must not hold credentials" in out["error"] and "s3cret" not in out["error"]
    assert head(root) == tip


def test_push_sends_the_import_commit_to_the_remote(
    tmp_path: Path, mlflow_server: str, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    name = seed_model(seeder, unique("pushed"))
    root = make_registry(tmp_path / "reg")
    remote = add_remote(root, tmp_path / "remote.git")
    code, report = run_import(root, mlflow_server, "--model", name, "--push", capsys=capsys)
    assert code == 0 and report["pushed"] is True and len(report["commits"]) == 1
    assert git(remote, "rev-parse", "main").strip() == report["commits"][0] == head(root)
