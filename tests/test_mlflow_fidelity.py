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
from tests.builders import commit_all, config, git, write

pytestmark = pytest.mark.interop

pytest.register_assert_rewrite("tests.interop_fixtures")
from tests.interop_fixtures import ClientSeeder, unique  # noqa: E402  (after the rewrite hook)

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
