"""The bundled example: a believable, internally consistent registry that every command reads.

The example is built once per module (it is deterministic, so one build stands for all);
each test checks one promise of the story against the real git repository.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mlrelease import example
from mlrelease.cli import main
from mlrelease.cli.commands import demo
from mlrelease.registry.fields import parse_timestamp
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import parse_trailers
from mlrelease.resources import resource_dir
from mlrelease.telemetry import health


@dataclass(frozen=True)
class LogEntry:
    commit: str
    author: str
    at: datetime
    message: str
    paths: tuple[str, ...]

    @property
    def trailers(self) -> dict[str, str]:
        return parse_trailers(self.message)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[example.Built]:
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:  # no developer git config leaks into the build
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        yield example.build(tmp_path_factory.mktemp("example") / "registry")


@pytest.fixture(scope="module")
def log(built: example.Built) -> list[LogEntry]:
    out = subprocess.run(
        ["git", "log", "--reverse", "--name-only", "--format=%x1e%H%x00%an <%ae>%x00%aI%x00%B%x00"],
        cwd=built.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    entries = []
    for record in out.split("\x1e")[1:]:
        commit, author, when, message, names = record.split("\x00")
        entries.append(LogEntry(commit, author, datetime.fromisoformat(when), message, tuple(n for n in names.split("\n") if n)))
    return entries


def releases_of(log: list[LogEntry]) -> list[LogEntry]:
    return [e for e in log if any(p.startswith("releases/") for p in e.paths)]


def test_every_file_parses(built: example.Built) -> None:
    with Registry(built.root) as reg:
        config = reg.config
        assert config.environment_names == ("dev", "staging", "production")
        assert config.environment("production").gates.approvals == 2
        assert config.environment("production").gates.windows.deny
        assert config.retrain.backend in config.backends
        models = reg.model_names()
        assert set(models) >= {"fraud-card", "fraud-mobile", "txn-anomaly", "churn"}
        for name in models:
            model = reg.model(name)
            assert model.consumers
            versions = reg.versions(name)
            assert 5 <= len(versions) <= 12
            for v in versions:
                assert v.parent is None or v.parent in reg.version_names(name)
                assert set(v.data) == {"train", "validation", "test"}
                assert {"precision", "recall", "f1", "auc"} <= set(v.metrics)
                assert set(v.metrics) <= set(config.metrics)
                assert v.artifact.uri == config.conventions.artifact_uri.format(model=name, version=v.version)
                assert v.profile is not None and v.image is not None and v.image.digest
                for ref in v.data.values():
                    assert reg.dataset(ref.dataset, ref.version) is not None
            reg.rejections(name)
            reg.retrain_requests(name)
        states = reg.releases()
        assert {env for env, _ in states} == {"dev", "staging", "production"}
        for (_env, model_name), state in states.items():
            assert state.live is not None and state.live.version in reg.version_names(model_name)
        datasets = reg.dataset_names()
        assert len(datasets) >= 4
        for name in datasets:
            for ver in reg.dataset_versions(name):
                ds = reg.dataset(name, ver)
                assert ds is not None and ds.profile is not None and ds.columns and ds.rows
        telemetry = [p for p in reg.source.files("telemetry") if p.endswith(".yaml")]
        assert len(telemetry) >= 4
        for path in telemetry:
            _, env, fname = path.split("/")
            t = reg.telemetry(env, fname[:-5])
            assert t is not None and len(t.snapshots) >= 21
            latest = t.latest
            assert latest is not None and latest.profile is not None and latest.callers and latest.latency_ms


def test_example_lints_clean(built: example.Built, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--repo", str(built.root), "lint"]) == 0, capsys.readouterr().out


def test_history_has_many_people_over_months(log: list[LogEntry]) -> None:
    assert len(log) > 200
    people = {e.author for e in log}
    assert len(people) >= 8
    assert log[-1].at - log[0].at > timedelta(days=150)
    assert [e.at for e in log] == sorted(e.at for e in log)
    # Registrations are authored by the data scientist and committed by the pipeline.
    registers = [e for e in log if e.trailers.get("action") == "register"]
    assert len(registers) >= 20
    assert len({e.author for e in registers}) >= 4


def test_every_release_commit_has_trailers_except_one_hand_edit(log: list[LogEntry]) -> None:
    plain = [e for e in releases_of(log) if not e.trailers]
    assert len(plain) == 1
    assert plain[0].paths == ("releases/staging/churn.yaml",)
    assert "by hand" in plain[0].message


def test_the_demo_verifies_clean_with_its_hand_edit_accepted_by_a_second_person(
    built: example.Built, log: list[LogEntry], capsys: pytest.CaptureFixture[str]
) -> None:
    """The story keeps its hand edit, and the model risk manager accepts it on the record (issue 10)."""
    [edit] = [e for e in releases_of(log) if not e.trailers]
    [acceptance] = [e for e in log if e.trailers.get("finding")]
    assert acceptance.trailers["finding"] == edit.commit and acceptance.trailers["action"] == "review"
    assert acceptance.author == "Mei Chen <mei.chen@northbank.example>" != edit.author
    assert acceptance.paths == ("audit/accepted.yaml",) and acceptance.at > edit.at
    capsys.readouterr()
    assert main(["--repo", str(built.root), "verify", "--no-cache", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["findings"] == [] and report["counts"]["accepted"] == 1
    [accepted] = report["accepted"]
    assert (accepted["commit"], accepted["kind"], accepted["path"]) == (edit.commit, "hand-edit", "releases/staging/churn.yaml")
    assert accepted["accepted"]["by"] == "Mei Chen <mei.chen@northbank.example>" and accepted["accepted"]["commit"] == acceptance.commit
    # history still marks the hand edit, as accepted
    assert main(["--repo", str(built.root), "history", "churn", "--env", "staging", "--json"]) == 0
    [ev] = [e for e in json.loads(capsys.readouterr().out)["events"] if e["commit"] == edit.commit]
    assert ev["marks"] == [] and ev["accepted"] == ["hand-edited (accepted)"]


def test_every_promotion_is_an_intent_then_an_outcome(log: list[LogEntry]) -> None:
    phases: dict[str, list[str]] = {}
    for e in releases_of(log):
        t = e.trailers
        if t.get("action") in ("promote", "rollback", "outcome"):
            assert {"model", "version", "environment", "promotion_id", "phase", "backend", "actor"} <= set(t)
            phases.setdefault(t["promotion_id"], []).append(t["phase"])
    assert len(phases) > 80
    for promotion, seen in phases.items():
        assert seen in (["Pending", "Succeeded"], ["Pending", "Failed"]), promotion


def test_production_promotions_respect_the_gates(built: example.Built, log: list[LogEntry]) -> None:
    """Two distinct approvers first, never on a Friday evening in London (the config's deny window)."""
    london = ZoneInfo("Europe/London")
    with Registry(built.root) as reg:
        approvals = {m: reg.release("production", m).approvals for m in reg.model_names()}
    promotions = [e for e in releases_of(log) if e.trailers.get("action") == "promote" and e.trailers["environment"] == "production"]
    assert len(promotions) >= 15
    for e in promotions:
        t = e.trailers
        local = e.at.astimezone(london)
        assert not (local.weekday() == 4 and local.hour >= 16), e.message
        approvers = {a.by for a in approvals[t["model"]] if a.version == t["version"] and a.at <= e.at}
        assert len(approvers) >= 2, e.message
    forced = [e for e in promotions if "forced" in e.trailers]
    assert [e.trailers["model"] for e in forced] == ["churn"]


def test_story_has_a_canary_a_pinned_rollback_a_failure_and_a_rejection(built: example.Built, log: list[LogEntry]) -> None:
    with Registry(built.root) as reg:
        card = reg.release("production", "fraud-card")
        assert card.live.canary is not None and card.live.canary.weight == 10
        assert card.live.version != card.live.canary.version

        mobile = reg.release("production", "fraud-mobile")
        assert mobile.desired.action == "rollback" and mobile.pin is not None
        assert mobile.live.version == mobile.desired.version == "1.3.1"

        anomaly = reg.release("production", "txn-anomaly")
        assert anomaly.failed and anomaly.desired.version == "0.9.0"
        assert anomaly.live.version == "0.8.1"
        assert "not found" in (anomaly.observed.message or "")

        rejected = reg.rejections("fraud-card")
        assert [r.version for r in rejected] == ["2.0.1"]
        assert reg.retrain_requests("txn-anomaly")[0].phase == "Succeeded"
    # The failed version never became live in production, at any point of the history.
    outcomes = [e.trailers for e in log if e.trailers.get("action") == "outcome" and e.trailers.get("model") == "txn-anomaly"]
    assert {t["phase"] for t in outcomes if t.get("version") == "0.9.0" and t.get("environment") == "production"} == {"Failed"}
    # Approvals by two distinct people.
    approvers = {e.author for e in log if e.trailers.get("action") == "approve"}
    assert len(approvers) >= 3


def test_fraud_mobile_drifts_so_retraining_is_due_and_the_rest_is_healthy(built: example.Built) -> None:
    with Registry(built.root) as reg:
        end_of_story = max(s.at for s in reg.telemetry("production", "fraud-mobile").snapshots)
        rows = health.assess(reg, environment="production", now=end_of_story).rows
    status = {r.model: str(r.status) for r in rows}
    assert status == {"fraud-card": "ok", "fraud-mobile": "due", "txn-anomaly": "ok", "churn": "ok"}
    mobile = next(r for r in rows if r.model == "fraud-mobile")
    assert any("login_method" in reason for reason in mobile.reasons)


def test_the_build_is_deterministic(built: example.Built, tmp_path: Path) -> None:
    again = example.build(tmp_path / "again")
    assert again.head == built.head
    assert again.commits == built.commits


def test_example_sources_are_found_as_package_resources() -> None:
    source = example.example_dir()
    assert source == resource_dir("examples") / "bank-fraud"
    assert (source / "story.yaml").is_file() and (source / "registry" / "mlrelease.yaml").is_file()
    assert parse_timestamp("2026-04-30T09:15:00Z") == example.load_story(source / "story.yaml").setup_at


def test_demo_builds_once_then_reuses_and_prints_the_overview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "demo"
    assert main(["demo", "--path", str(target)]) == 0
    out, err = capsys.readouterr()
    for name in ("fraud-card", "fraud-mobile", "txn-anomaly", "churn"):
        assert name in out
    assert str(target) in out and "show fraud-card" in out
    assert "built" in err
    assert (target / ".git" / demo.MARKER).is_file()

    (target / "scratch.txt").write_text("a change of mine")
    assert main(["demo", "--path", str(target)]) == 0
    assert capsys.readouterr().err == ""  # reused as it was
    assert (target / "scratch.txt").exists()

    assert main(["demo", "--path", str(target), "--rebuild"]) == 0
    assert "rebuilt" in capsys.readouterr().err
    assert not (target / "scratch.txt").exists()


def test_demo_never_replaces_a_folder_it_did_not_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "work"
    target.mkdir()
    (target / "precious.txt").write_text("keep me")
    assert main(["demo", "--path", str(target), "--rebuild"]) == 1
    assert "not a demo built by mlrelease" in capsys.readouterr().err
    assert (target / "precious.txt").read_text() == "keep me"


def test_demo_defaults_to_the_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert demo.default_path() == tmp_path / "cache" / "mlrelease" / "demo"


def test_synthetic_registries_for_the_benchmarks_are_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.synth import build

    info = build(tmp_path / "synth", models=3, versions=4, releases=20)
    assert main(["--repo", str(info.root), "lint"]) == 0, capsys.readouterr().out
    with Registry(info.root) as reg:
        assert reg.model_names() == list(info.models)
        assert all(len(reg.version_names(m)) == 4 for m in info.models)
        assert all(state.live is not None for state in reg.releases().values())
    assert info.commits == 1 + 3 + 20
