"""The ``mlflow`` backend: settings checked up front, and promote/rollback against a real MLflow server.

The end-to-end tests go through ``mlrelease promote`` / ``rollback`` (the release service),
so they also show what the registry records: the MLflow version number as the backend
reference, and nothing live when MLflow is down or failing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlrelease.backends import create
from mlrelease.backends.base import Action, BackendContext
from mlrelease.backends.mlflow import MlflowBackend
from mlrelease.cli import main
from mlrelease.errors import BackendConfigError
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import PluginConfig
from mlrelease.secrets import redact
from tests.builders import commit_all, config, make_registry, write

pytest.register_assert_rewrite("tests.interop_fixtures")
from tests.interop_fixtures import Seeder, unique  # noqa: E402  (after the rewrite hook: its asserts explain failures)

pytest_plugins = ["tests.interop_fixtures"]


def backend(root: Path, environ: dict[str, str] | None = None, **settings: Any) -> MlflowBackend:
    settings.setdefault("tracking_uri", "http://127.0.0.1:9")
    b = create(PluginConfig("mlflow", "mlflow", settings), BackendContext(registry_root=root, environ=environ or {}))
    assert isinstance(b, MlflowBackend)
    return b


def action(kind: str = "promote", version: str = "1.1.0", env: str = "production", **kw: Any) -> Action:
    kw.setdefault("artifact", f"s3://ml-models/fraud-card/{version}/")
    return Action(
        kind=kind,
        model="fraud-card",
        promotion_id=kw.pop("promotion_id", "p-test"),
        actor="Alice <a@x>",
        reason="r",
        version=version,
        environment=env,
        **kw,
    )


# ---- settings: refused when the backend is created, naming the key -----------------------------


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"tracking_uri": "http://x", "colour": "red"}, "backends.mlflow.colour: unknown setting"),
        ({"tracking_uri": "http://x", "timeout": "fast"}, "backends.mlflow.timeout: must be a number of seconds"),
        (
            {"tracking_uri": "http://x", "aliases": {"production": "latest"}},
            "backends.mlflow.aliases.production: alias 'latest' is reserved",
        ),
        ({"tracking_uri": "http://x", "aliases": {"production": "v3"}}, "alias 'v3' is reserved"),
        ({"tracking_uri": "http://x", "aliases": {"production": "prod live"}}, "is not allowed by MLflow"),
        ({"tracking_uri": "http://x", "alias": "{env}"}, "backends.mlflow.alias: may only use {environment}, {model}"),
        ({"tracking_uri": "ftp://x"}, "must be an http:// or https:// URL"),
        ({"tracking_uri": "https://bob:hunter2@mlflow.example.com"}, "must not hold credentials"),
        ({"tracking_uri": "http://x", "tracking_uri_env": "URI"}, "not both"),
        (
            {"tracking_uri": "http://x", "token_env": "MY_TOKEN"},
            "backends.mlflow.token_env: backend mlflow: environment variable MY_TOKEN is not set",
        ),
        ({"tracking_uri": "http://x", "token_env": "not a name"}, "must be the name of an environment variable"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(tmp_path: Path, settings: dict[str, Any], needle: str) -> None:
    with pytest.raises(BackendConfigError) as err:
        backend(tmp_path, **settings)
    assert needle in str(err.value)
    assert "hunter2" not in str(err.value)


def test_no_tracking_uri_anywhere_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(BackendConfigError, match="no tracking URI"):
        create(PluginConfig("mlflow", "mlflow", {}), BackendContext(registry_root=tmp_path, environ={}))
    b = create(
        PluginConfig("m", "mlflow", {}), BackendContext(registry_root=tmp_path, environ={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    )
    assert isinstance(b, MlflowBackend)


def test_a_token_never_goes_over_plain_http_to_another_host(tmp_path: Path) -> None:
    env = {"MLFLOW_TRACKING_TOKEN": "tok-secret-123"}
    with pytest.raises(BackendConfigError, match="refusing to send credentials over plain http"):
        backend(tmp_path, env, tracking_uri="http://mlflow.example.com")
    assert backend(tmp_path, env, tracking_uri="https://mlflow.example.com").conn.token == "tok-secret-123"
    assert backend(tmp_path, env, tracking_uri="http://127.0.0.1:5000").conn.token == "tok-secret-123"
    assert redact("header tok-secret-123") == "header ***"


def test_an_environment_whose_alias_is_reserved_is_refused_at_config_time(tmp_path: Path) -> None:
    """The default alias is the environment's name, and an environment called v1 cannot be an alias."""
    root = make_registry(tmp_path / "reg")
    cfg = config()
    cfg["environments"] = [{"name": "v1", "backend": "mlflow"}]
    cfg["backends"] = {"mlflow": {"type": "mlflow", "tracking_uri": "http://127.0.0.1:9"}}
    write(root, "mlrelease.yaml", cfg)
    with pytest.raises(BackendConfigError, match=r"alias 'v1' is reserved.*aliases: \{v1: NAME\}"):
        backend(root)
    assert backend(root, aliases={"v1": "first"}).alias_for("v1") == "first"


def test_describe_names_the_call_without_reaching_mlflow(tmp_path: Path) -> None:
    b = backend(tmp_path, model="{model}-{environment}", aliases={"production": "champion"})
    text = b.describe(action(canary_weight=10))
    assert "fraud-card-production" in text and "champion-canary" in text and "10% canary" in text
    assert "mlrelease.version=1.1.0" in b.describe(action())


# ---- against a real server ------------------------------------------------------------------------


def mlflow_registry(root: Path, url: str, suffix: str, **settings: Any) -> Path:
    """The standard test registry with production deployed through MLflow (champion alias)."""
    make_registry(root)
    cfg = config()
    cfg["environments"][2]["backend"] = "mlflow"
    cfg["backends"]["mlflow"] = {
        "type": "mlflow",
        "tracking_uri": url,
        "model": "{model}-" + suffix,
        "aliases": {"production": "champion"},
        **settings,
    }
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "Deploy production through MLflow")
    return root


def cli(root: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["--repo", str(root), *args, "--yes", "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def live(root: Path, env: str, model: str = "fraud-card") -> Any:
    with Registry(root) as reg:
        return reg.release(env, model)


@pytest.mark.interop
def test_promote_and_rollback_move_the_alias_end_to_end(
    tmp_path: Path, mlflow_server: str, seeder: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    suffix = unique("e2e")
    name = f"fraud-card-{suffix}"
    root = mlflow_registry(tmp_path / "reg", mlflow_server, suffix)

    code, _ = cli(root, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "better recall", capsys=capsys)
    assert code == 0
    versions = seeder.versions(name)
    assert [v["version"] for v in versions] == ["1"]
    mv = versions[0]
    assert mv["source"] == "s3://ml-models/fraud-card/1.1.0/"
    tags = {t["key"]: t["value"] for t in mv["tags"]}
    assert tags["mlrelease.version"] == "1.1.0"
    assert tags["mlrelease.model"] == "fraud-card"
    assert float(tags["mlrelease.metric.f1"]) == pytest.approx(0.83)
    assert tags["mlrelease.parent"] == "1.0.0"
    assert tags["mlrelease.data.train"] == "transactions@2026.01"
    assert tags["mlrelease.artifact.sha256"] == "a" * 64
    assert seeder.alias(name, "champion") == "1"
    state = live(root, "production")
    assert state.live.version == "1.1.0"
    assert state.observed.phase == "Succeeded" and state.observed.backend_ref == "1" and state.observed.backend == "mlflow"
    assert tags["mlrelease.promotion_id"] == state.desired.promotion_id

    code, _ = cli(root, "rollback", "fraud-card", "--env", "production", "--reason", "alerts", capsys=capsys)
    assert code == 0
    assert seeder.alias(name, "champion") == "2"  # 1.0.0 had never been in MLflow: registered now
    assert seeder.get_version(name, "2")["source"] == "s3://ml-models/fraud-card/1.0.0/"
    state = live(root, "production")
    assert state.live.version == "1.0.0" and state.observed.backend_ref == "2" and state.desired.action == "rollback"
    # Staging, on the record backend, never touched MLflow.
    assert seeder.alias(name, "staging") is None


@pytest.mark.interop
def test_execute_is_idempotent_and_canary_uses_its_own_alias(tmp_path: Path, mlflow_server: str, seeder: Seeder) -> None:
    suffix = unique("canary")
    name = f"fraud-card-{suffix}"
    root = mlflow_registry(tmp_path / "reg", mlflow_server, suffix)
    b = backend(root, tracking_uri=mlflow_server, model="{model}-" + suffix, aliases={"production": "champion"})

    first = b.execute(action(canary_weight=10, promotion_id="p-1"))
    again = b.execute(action(canary_weight=10, promotion_id="p-1"))
    assert first.ok and again.ok and first.reference == again.reference == "1"
    assert len(seeder.versions(name)) == 1  # the same promotion never registers twice
    assert seeder.alias(name, "champion-canary") == "1" and seeder.alias(name, "champion") is None
    assert {t["key"]: t["value"] for t in seeder.registered(name)["tags"]}["mlrelease.canary_weight.champion"] == "10"
    assert b.status(action(canary_weight=10, promotion_id="p-1")).ok  # type: ignore[union-attr]

    full = b.execute(action(promotion_id="p-2"))
    assert full.ok and full.reference == "1" and len(seeder.versions(name)) == 1
    assert seeder.alias(name, "champion") == "1" and seeder.alias(name, "champion-canary") is None
    assert "mlrelease.canary_weight.champion" not in {t["key"] for t in seeder.registered(name).get("tags", [])}

    status = b.status(action(version="1.2.0", promotion_id="p-3"))
    assert status is not None and not status.ok and "did not happen" in (status.message or "")
    assert b.health().ok


@pytest.mark.interop
def test_mlflow_down_fails_clearly_and_nothing_is_live(tmp_path: Path, refused_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = mlflow_registry(tmp_path / "reg", refused_url, "down")
    code, out = cli(root, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", capsys=capsys)
    assert code == 5
    state = live(root, "production")
    assert state.observed.phase == "Failed"
    assert "is not reachable: connection refused" in state.observed.message
    assert state.live.version == "1.0.0"  # what was live before, untouched
    assert "connection refused" in json.dumps(out)
    b = backend(root, tracking_uri=refused_url)
    assert not b.health().ok and "connection refused" in b.health().message
    assert b.status(action()) is None  # cannot tell: never a guess


@pytest.mark.interop
def test_mlflow_answering_500_fails_clearly_and_nothing_is_live(
    tmp_path: Path, server_500: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = mlflow_registry(tmp_path / "reg", server_500, "err")
    code, _ = cli(root, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", capsys=capsys)
    assert code == 5
    state = live(root, "production")
    assert state.observed.phase == "Failed" and state.live.version == "1.0.0"
    assert "answered 500" in state.observed.message and "INTERNAL_ERROR: database is locked" in state.observed.message
    outcome = backend(root, tracking_uri=server_500).execute(action())
    assert not outcome.ok and "500" in (outcome.message or "")
