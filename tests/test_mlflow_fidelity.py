"""MLflow registries made by MLflow 3's own client come across exactly (issue 12), against a real server.

Each test builds its registered models with :class:`tests.interop_fixtures.ClientSeeder`
(runs, ``log_input``, logged models, ``register_model``, aliases, deleted versions) on
the session's one ``mlflow server``, under names no other test uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main
from mlrelease.registry.loader import Registry
from tests.builders import commit_all, config, git, make_registry, write

pytestmark = pytest.mark.interop

pytest.register_assert_rewrite("tests.interop_fixtures")
from tests.interop_fixtures import ClientSeeder, MlflowProxy, Seeder, unique  # noqa: E402  (after the rewrite hook)

pytest_plugins = ["tests.interop_fixtures"]


def empty_registry(root: Path, **overrides: Any) -> Path:
    """A registry with the standard config and no models yet, committed."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    write(root, "mlrelease.yaml", config(**overrides))
    commit_all(root, "Start the registry")
    return root


def cli(root: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["--repo", str(root), *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def run_import(root: Path, url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    return cli(root, "import", "mlflow", "--tracking-uri", url, *args, capsys=capsys)


def trained(seeder: ClientSeeder, name: str, n: int = 2) -> list[str]:
    """A registered model with ``n`` versions registered from MLflow 3 logged models."""
    numbers = []
    for i in range(1, n + 1):
        _run, model_id = seeder.train(metrics={"f1": 0.8 + i / 100}, params={"depth": str(i)})
        numbers.append(seeder.register(model_id, name))
    return numbers


def events(root: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out = cli(root, "history", *args, capsys=capsys)
    assert code == 0
    return out["events"]


# ---- item 4 (and 10: an import's from → to) -----------------------------------------------------


def test_history_filters_agree_on_an_import_that_touches_several_release_files(
    tmp_path: Path, mlflow_server: str, client_seeder: ClientSeeder, capsys: pytest.CaptureFixture[str]
) -> None:
    fraud, churn = unique("fraud"), unique("churn")
    for name in (fraud, churn):
        v1, v2 = trained(client_seeder, name)
        client_seeder.set_alias(name, "staging", v1)
        client_seeder.set_alias(name, "production", v2)
    root = empty_registry(tmp_path / "reg")
    code, report = run_import(
        root,
        mlflow_server,
        *("--model", fraud, "--model", churn, "--rename", f"{fraud}=fraud-card", "--rename", f"{churn}=churn"),
        *("--alias-map", "staging=staging", "--alias-map", "production=production"),
        capsys=capsys,
    )
    assert code == 0, report
    commit = report["commits"][0]

    def moves(found: list[dict[str, Any]]) -> set[tuple[str, str, str | None]]:
        return {(e["model"], e["environment"], e["version"]) for e in found if e["commit"] == commit and e["environment"]}

    everything = moves(events(root, capsys=capsys))
    expected = {
        ("fraud-card", "staging", "1.0.0"),
        ("fraud-card", "production", "2.0.0"),
        ("churn", "staging", "1.0.0"),
        ("churn", "production", "2.0.0"),
    }
    assert everything == expected
    for model in ("fraud-card", "churn"):
        assert moves(events(root, model, capsys=capsys)) == {m for m in expected if m[0] == model}
        for env in ("staging", "production"):
            assert moves(events(root, model, "--env", env, capsys=capsys)) == {m for m in expected if m[:2] == (model, env)}
    for env in ("staging", "production"):
        assert moves(events(root, "--env", env, capsys=capsys)) == {m for m in expected if m[1] == env}
    # The versions the import registered are events of their model too (item 8).
    registered = {(e["model"], e["version"]) for e in events(root, "churn", capsys=capsys) if e["environment"] is None}
    assert registered == {("churn", "1.0.0"), ("churn", "2.0.0")}


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def state(root: Path, env: str, model: str = "fraud-card") -> Any:
    with Registry(root) as reg:
        return reg.release(env, model)


def direct(**backend: Any) -> dict[str, Any]:
    """The standard config with production deployed through MLflow, and no promotion order to follow."""
    cfg = config()
    for env in cfg["environments"]:
        env.pop("requires", None)
    cfg["environments"][2]["backend"] = "mlflow"
    cfg["backends"]["mlflow"] = {"type": "mlflow", **backend}
    return cfg


# ---- item 2: an imported MLflow 3 version registers into another registered model ---------------


def test_an_imported_mlflow3_version_registers_into_another_registered_model(
    tmp_path: Path, mlflow_server: str, client_seeder: ClientSeeder, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("m3src")
    (number,) = trained(client_seeder, name, 1)
    source = seeder.get_version(name, number)["source"]
    assert source.startswith("models:/m-")
    root = empty_registry(tmp_path / "reg")
    code, report = run_import(root, mlflow_server, "--model", name, "--rename", f"{name}=fraud-card", capsys=capsys)
    assert code == 0, report
    suffix = unique("env")
    write(root, "mlrelease.yaml", direct(tracking_uri=mlflow_server, model="{model}-{environment}-" + suffix, alias="live"))
    commit_all(root, "production through MLflow, one registered model per environment")

    code, out = cli(root, "promote", "fraud-card@1.0.0", "--to", "production", "--reason", "ship", "--yes", capsys=capsys)
    assert code == 0, out
    target = f"fraud-card-production-{suffix}"
    (mv,) = seeder.versions(target)
    assert mv["source"] == source and seeder.alias(target, "live") == mv["version"]
    assert state(root, "production").live.version == "1.0.0"


def test_a_failed_registration_leaves_no_empty_registered_model(
    tmp_path: Path, mlflow_server: str, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    root = empty_registry(tmp_path / "reg")
    suffix = unique("empty")
    write(root, "mlrelease.yaml", direct(tracking_uri=mlflow_server, model="{model}-" + suffix))
    write(root, "models/fraud-card/model.yaml", {"name": "fraud-card", "owner": "team-fraud"})
    manifest = {"model": "fraud-card", "version": "1.0.0", "created": "2026-03-01T10:00:00Z", "author": "Alice <a@x>"}
    write(root, "models/fraud-card/versions/1.0.0.yaml", {**manifest, "artifact": {"uri": "/srv/models/fraud-card/1.0.0"}})
    commit_all(root, "a version whose artifact MLflow will refuse (a local path with no run)")
    code, _ = cli(root, "promote", "fraud-card@1.0.0", "--to", "production", "--reason", "ship", "--yes", capsys=capsys)
    assert code == 5
    assert "fraud-card-" + suffix not in {
        m["name"] for m in seeder.call("GET", "/registered-models/search", max_results=1000).get("registered_models", [])
    }


# ---- item 3: the alias moved, and the record says so -------------------------------------------


def proxied_registry(root: Path, url: str, suffix: str) -> Path:
    make_registry(root)
    cfg = config()
    cfg["environments"][2]["backend"] = "mlflow"
    cfg["backends"]["mlflow"] = {"type": "mlflow", "tracking_uri": url, "model": "{model}-" + suffix, "aliases": {"production": "champion"}}
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "Deploy production through MLflow")
    return root


def test_mlflow_stopping_right_after_the_alias_move_is_not_recorded_as_failed(
    tmp_path: Path, mlflow_proxy: MlflowProxy, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    suffix = unique("cut")
    root = proxied_registry(tmp_path / "reg", mlflow_proxy.url, suffix)
    mlflow_proxy.mode = "cut_after_alias"  # the move is answered; removing the canary alias is not
    code, out = cli(root, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes", capsys=capsys)
    assert seeder.alias(f"fraud-card-{suffix}", "champion") == "1"
    s = state(root, "production")
    assert s.observed.phase == "Succeeded" and s.live.version == "1.1.0", (code, out)
    assert code == 0


def test_an_unanswered_alias_move_stays_pending_and_reconcile_reads_the_alias(
    tmp_path: Path, mlflow_proxy: MlflowProxy, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    suffix = unique("drop")
    root = proxied_registry(tmp_path / "reg", mlflow_proxy.url, suffix)
    mlflow_proxy.mode = "drop_alias_answer"  # MLflow moves the alias; its answer never arrives
    code, _ = cli(root, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes", capsys=capsys)
    assert seeder.alias(f"fraud-card-{suffix}", "champion") == "1"  # it did move
    s = state(root, "production")
    assert s.observed.phase == "Pending" and s.live.version == "1.0.0"  # not "Failed: nothing changed"
    assert code == 5
    mlflow_proxy.heal()
    code, out = cli(root, "reconcile", "--yes", capsys=capsys)
    assert code == 0, out
    s = state(root, "production")
    assert s.observed.phase == "Succeeded" and s.live.version == "1.1.0" and s.observed.backend_ref == "1"


# ---- item 6: one ownership rule for both imports -----------------------------------------------


def test_the_mlflow_import_never_overwrites_a_pinned_state_that_mlrelease_owns(
    tmp_path: Path, mlflow_server: str, client_seeder: ClientSeeder, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("own")
    v1, v2 = trained(client_seeder, name)
    args = ("--model", name, "--rename", f"{name}=fraud-card", "--alias-map", "production=production")
    root = empty_registry(tmp_path / "reg")
    client_seeder.set_alias(name, "production", v1)
    assert run_import(root, mlflow_server, *args, capsys=capsys)[0] == 0
    client_seeder.set_alias(name, "production", v2)
    assert run_import(root, mlflow_server, *args, capsys=capsys)[0] == 0  # the import's own state: it follows MLflow
    assert state(root, "production").live.version == "2.0.0"
    code, out = cli(root, "rollback", "fraud-card", "--env", "production", "--reason", "bad batch", "--yes", capsys=capsys)
    assert code == 0, out
    assert state(root, "production").pin is not None and state(root, "production").live.version == "1.0.0"
    tip = head(root)

    code, out = run_import(root, mlflow_server, *args, capsys=capsys)
    assert code == 1
    assert "releases/production/fraud-card.yaml is pinned" in out["error"] and "nothing was imported" in out["error"]
    assert head(root) == tip and state(root, "production").live.version == "1.0.0"


# ---- item 7: aliases that map to no environment are said, same-named ones are mapped ------------


def test_aliases_named_like_environments_are_mapped_and_the_others_are_listed(
    tmp_path: Path, mlflow_server: str, client_seeder: ClientSeeder, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("alias")
    v1, v2 = trained(client_seeder, name)
    for alias, number in (("dev", v1), ("production", v2), ("champion", v2), ("challenger", v1)):
        client_seeder.set_alias(name, alias, number)
    root = empty_registry(tmp_path / "reg")
    code, report = run_import(root, mlflow_server, "--model", name, "--rename", f"{name}=fraud-card", capsys=capsys)
    assert code == 0, report
    assert state(root, "dev").live.version == "1.0.0" and state(root, "production").live.version == "2.0.0"
    skipped = " ".join(report["skipped"])
    for alias in ("champion", "challenger"):
        assert f"alias {alias} of {name}" in skipped and "no environment" in skipped
    assert "--alias-map" in skipped


# ---- item 9: MLflow 3's logged models, data sets and metrics ------------------------------------


def test_mlflow3_model_ids_model_metrics_data_sets_and_nan_come_across(
    tmp_path: Path, mlflow_server: str, client_seeder: ClientSeeder, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("m3")
    _run, model_id = client_seeder.train(
        metrics={"f1": 0.81, "recall": float("nan")},
        params={"depth": "6"},
        model_metrics={"auc": 0.93},
        data={"training": ("card-transactions", "d41d8cd9"), "eval": ("card-holdout", "a1b2c3d4")},
    )
    client_seeder.register(model_id, name)
    root = empty_registry(tmp_path / "reg")
    code, report = run_import(root, mlflow_server, "--model", name, "--rename", f"{name}=fraud-card", capsys=capsys)
    assert code == 0, report
    with Registry(root) as reg:
        v = reg.version("fraud-card", "1.0.0")
    assert f"mlflow-model-id:{model_id}" in v.tags
    assert v.metrics["auc"] == pytest.approx(0.93) and v.metrics["f1"] == pytest.approx(0.81)
    assert {role: (ref.dataset, ref.version) for role, ref in v.data.items()} == {
        "training": ("card-transactions", "d41d8cd9"),
        "eval": ("card-holdout", "a1b2c3d4"),
    }
    assert any("recall" in w and "NaN" in w for w in report["warnings"]), report["warnings"]


def test_versions_mlrelease_put_in_mlflow_keep_metrics_author_parent_and_data_when_imported(
    tmp_path: Path, mlflow_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    suffix = unique("rt")
    source = proxied_registry(tmp_path / "source", mlflow_server, suffix)
    assert cli(source, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes", capsys=capsys)[0] == 0
    assert cli(source, "rollback", "fraud-card", "--env", "production", "--reason", "back", "--yes", capsys=capsys)[0] == 0
    root = empty_registry(tmp_path / "reg")
    code, report = run_import(
        root, mlflow_server, "--model", f"fraud-card-{suffix}", "--rename", f"fraud-card-{suffix}=fraud-card", capsys=capsys
    )
    assert code == 0, report
    with Registry(source) as a, Registry(root) as b:
        for ver in ("1.1.0", "1.0.0"):
            mine, theirs = b.version("fraud-card", ver), a.version("fraud-card", ver)
            assert mine.metrics == theirs.metrics
            assert mine.author == theirs.author
            assert mine.parent == theirs.parent
            assert mine.data == theirs.data


# ---- item 11: a handful of batched requests over a few kept-alive connections -------------------


def test_the_import_batches_its_reads_over_a_bounded_pool_of_kept_alive_connections(
    tmp_path: Path, mlflow_proxy: MlflowProxy, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    """Speed itself is measured in bench/mlflow_import_bench.py; this is the shape that makes it."""
    names = [unique(f"batch{i}") for i in range(4)]
    for name in names:
        seeder.model(name)
        for n in range(5):
            run = seeder.run(user="ann", metrics={"f1": 0.8 + n / 100}, params={"n": str(n)})
            seeder.version(name, f"s3://ml/{name}/{n}/", run_id=run)
        seeder.set_alias(name, "production", "5")
    root = empty_registry(tmp_path / "reg")
    renames = [a for i, name in enumerate(names) for a in ("--model", name, "--rename", f"{name}=model-{i}")]
    code, report = run_import(root, mlflow_proxy.url, *renames, "--alias-map", "production=production", capsys=capsys)
    assert code == 0, report
    assert len(report["versions"]) == 20 and len(report["releases"]) == 4
    # One by one this was 4 model reads + 4 version searches + 20 run reads = 28 requests.
    assert len(mlflow_proxy.requests) <= 10, mlflow_proxy.requests
    assert mlflow_proxy.connections <= 8
