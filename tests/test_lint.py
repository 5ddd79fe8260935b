"""`mlrelease lint` end to end on real git registries: each class of problem, text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main
from mlrelease.registry import yamlsafe
from mlrelease.textsafe import visible
from tests.builders import commit_all, config, git, model, release, telemetry, version, write

VENV_BIN = Path(sys.executable).parent


def lint(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["--repo", str(root), "lint", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def edit(root: Path, rel: str, change: Callable[[dict[str, Any]], None]) -> None:
    data = yamlsafe.load((root / rel).read_bytes(), rel)
    change(data)
    write(root, rel, data)


def set_config(**overrides: Any) -> Callable[[Path], None]:
    return lambda root: write(root, "mlrelease.yaml", config(**overrides))


def test_clean_registry_passes_in_text_and_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = lint(capsys, repo)
    assert (code, out) == (0, "")
    assert "no problems" in err
    code, out, _ = lint(capsys, repo, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["ok"] is True
    assert data["problems"] == []
    assert data["counts"] == {"files": 13, "problems": 0, "files_with_problems": 0}


# Each case: a change to the clean registry, and a line lint must print for it.
CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "invalid YAML": (
        lambda r: write(r, "models/fraud-card/versions/1.1.0.yaml", "model: fraud-card\nversion: [1.1.0\n"),
        "models/fraud-card/versions/1.1.0.yaml:3: invalid YAML",
    ),
    "unknown key": (
        lambda r: edit(r, "models/fraud-card/model.yaml", lambda d: d.update(colour="blue")),
        "models/fraud-card/model.yaml:9: unknown key 'colour'",
    ),
    "wrong type": (
        lambda r: edit(r, "models/churn/versions/0.1.0.yaml", lambda d: d["metrics"].update(f1="high")),
        "models/churn/versions/0.1.0.yaml:18: 'metrics.f1' must be a number, not text",
    ),
    "model name against the pattern": (
        lambda r: write(r, "models/Fraud_Card/model.yaml", model("Fraud_Card")),
        "models/Fraud_Card/: model name 'Fraud_Card' does not match the naming convention '[a-z][a-z0-9-]{1,40}'",
    ),
    "dataset name against the pattern": (
        lambda r: write(r, "datasets/TX/2026.01.yaml", {"name": "TX", "version": "2026.01"}),
        "datasets/TX/: dataset name 'TX' does not match the naming convention",
    ),
    "unsafe folder name": (
        lambda r: write(r, "models/-rf/model.yaml", model("-rf")),
        "models/-rf/: model name '-rf' starts with '-' (it would read as an option)",
    ),
    "terminal escape in a folder name": (
        lambda r: write(r, "models/x\x1b[31m/model.yaml", model("x\x1b[31m")),
        "models/x\\x1b[31m/: model name 'x\\x1b[31m' contains control or invisible (bidi/format) characters",
    ),
    "version not semver": (
        lambda r: write(r, "models/fraud-card/versions/1.10.yaml", version("fraud-card", "1.10")),
        "models/fraud-card/versions/1.10.yaml:2: version '1.10' is not semver",
    ),
    "version not calver": (
        set_config(conventions={"version_scheme": "calver"}),
        "models/churn/versions/0.1.0.yaml:2: version '0.1.0' is not calver",
    ),
    "version against a regex": (
        set_config(conventions={"version_scheme": "regex", "version_pattern": "v[0-9]+"}),
        "models/churn/versions/0.1.0.yaml:2: version '0.1.0' does not match the version pattern 'v[0-9]+'",
    ),
    "version file name differs from contents": (
        lambda r: write(r, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.2.0")),
        "models/fraud-card/versions/1.3.0.yaml:2: the file name says version '1.3.0' but the manifest says '1.2.0'",
    ),
    "version in another model's folder": (
        lambda r: write(r, "models/churn/versions/1.0.0.yaml", version("fraud-card", "1.0.0")),
        "models/churn/versions/1.0.0.yaml:1: the folder says model 'churn' but the manifest says 'fraud-card'",
    ),
    "model.yaml of another model": (
        lambda r: write(r, "models/churn/model.yaml", model("fraud-card")),
        "models/churn/model.yaml:1: the folder says model 'churn' but the file says 'fraud-card'",
    ),
    "dataset file name differs from contents": (
        lambda r: write(r, "datasets/transactions/2026.02.yaml", {"name": "transactions", "version": "2026.01"}),
        "datasets/transactions/2026.02.yaml:2: the file name says version '2026.02' but the manifest says '2026.01'",
    ),
    "release state of another environment": (
        lambda r: write(r, "releases/dev/churn.yaml", release("churn", "staging", "0.1.0")),
        "releases/dev/churn.yaml:2: the folder says environment 'dev' but the state says 'staging'",
    ),
    "release state of another model": (
        lambda r: write(r, "releases/dev/churn.yaml", release("fraud-card", "dev", "1.0.0")),
        "releases/dev/churn.yaml:1: the file name says model 'churn' but the state says 'fraud-card'",
    ),
    "telemetry of another model": (
        lambda r: write(r, "telemetry/dev/churn.yaml", telemetry("fraud-card", "dev")),
        "telemetry/dev/churn.yaml:1: the file name says model 'churn' but the snapshots say 'fraud-card'",
    ),
    "environment folder not in config": (
        lambda r: write(r, "releases/qa/churn.yaml", release("churn", "qa", "0.1.0")),
        "releases/qa/: environment 'qa' is not in mlrelease.yaml (environments: dev, production, staging)",
    ),
    "telemetry environment not in config": (
        lambda r: write(r, "telemetry/qa/churn.yaml", telemetry("churn", "qa")),
        "telemetry/qa/: environment 'qa' is not in mlrelease.yaml",
    ),
    "release state of an unknown model": (
        lambda r: write(r, "releases/dev/ghost.yaml", release("ghost", "dev", "1.0.0")),
        "releases/dev/ghost.yaml: model 'ghost' does not exist (models/ghost/model.yaml)",
    ),
    "parent does not exist": (
        lambda r: write(r, "models/churn/versions/0.3.0.yaml", version("churn", "0.3.0", parent="0.2.5")),
        "models/churn/versions/0.3.0.yaml:22: parent version '0.2.5' of 'churn' does not exist (models/churn/versions/0.2.5.yaml)",
    ),
    "parent is itself": (
        lambda r: write(r, "models/churn/versions/0.3.0.yaml", version("churn", "0.3.0", parent="0.3.0")),
        "models/churn/versions/0.3.0.yaml:22: parent '0.3.0' is this version itself",
    ),
    "data set version does not exist": (
        lambda r: edit(r, "models/churn/versions/0.2.0.yaml", lambda d: d["data"]["train"].update(version="2026.02")),
        "models/churn/versions/0.2.0.yaml:9: data.train: data set 'transactions' has no version '2026.02' (datasets/transactions/)",
    ),
    "unsafe data role": (
        lambda r: edit(
            r, "models/churn/versions/0.2.0.yaml", lambda d: d["data"].update({"-rf": {"dataset": "transactions", "version": "2026.01"}})
        ),
        "models/churn/versions/0.2.0.yaml:9: data role '-rf' starts with '-' (it would read as an option)",
    ),
    "desired version does not exist": (
        lambda r: write(r, "releases/dev/churn.yaml", release("churn", "dev", "0.9.0")),
        "releases/dev/churn.yaml:3: desired.version '0.9.0' is not a version of 'churn'",
    ),
    "live version does not exist": (
        lambda r: edit(r, "releases/production/churn.yaml", lambda d: d["live"].update(version="0.0.1")),
        "releases/production/churn.yaml:15: live.version '0.0.1' is not a version of 'churn'",
    ),
    "canary version does not exist": (
        lambda r: edit(r, "releases/production/churn.yaml", lambda d: d["live"].update(canary={"version": "0.3.0", "weight": 10})),
        "releases/production/churn.yaml:15: live.canary.version '0.3.0' is not a version of 'churn'",
    ),
    "approved version does not exist": (
        lambda r: edit(
            r,
            "releases/production/churn.yaml",
            lambda d: d.update(approvals=[{"version": "7.0.0", "by": "Bo", "at": "2026-03-01T00:00:00Z"}]),
        ),
        "releases/production/churn.yaml:19: approvals[0].version '7.0.0' is not a version of 'churn'",
    ),
    "rejected version does not exist": (
        lambda r: write(
            r,
            "models/churn/rejections.yaml",
            {"model": "churn", "rejected": [{"version": "0.0.9", "by": "Bo", "at": "2026-03-01T00:00:00Z", "reason": "bad"}]},
        ),
        "models/churn/rejections.yaml:1: '0.0.9' is not a version of 'churn'",
    ),
    "telemetry version does not exist": (
        lambda r: write(r, "telemetry/dev/churn.yaml", telemetry("churn", "dev", version="9.9.9")),
        "telemetry/dev/churn.yaml:3: snapshots[0].version '9.9.9' is not a version of 'churn'",
    ),
    "environment requires an unknown environment": (
        set_config(environments=[{"name": "dev"}, {"name": "production", "requires": ["staging"]}]),
        "mlrelease.yaml:38: environment 'production' requires 'staging', which is not an environment",
    ),
    "environments require each other": (
        set_config(environments=[{"name": "dev", "requires": ["production"]}, {"name": "production", "requires": ["dev"]}]),
        "environments require each other in a cycle: dev → production → dev",
    ),
    "environment backend unknown": (
        set_config(environments=[{"name": "dev", "backend": "argo"}]),
        "mlrelease.yaml:37: environment 'dev' uses backend 'argo', which is not in backends",
    ),
    "gate metric not in the catalogue": (
        set_config(environments=[{"name": "dev", "gates": {"thresholds": {"accuracy": {"min": 0.9}}}}]),
        "gate of 'dev' uses metric 'accuracy', which is not in the metric catalogue",
    ),
    "headline metric not in the catalogue": (
        set_config(headline=["f1", "accuracy"]),
        "mlrelease.yaml:33: headline metric 'accuracy' is not in the metric catalogue (mlrelease.yaml metrics)",
    ),
    "retrain metric not in the catalogue": (
        set_config(retrain={"policy": {"metric_drop": {"accuracy": 0.1}}}),
        "retrain policy metric 'accuracy' is not in the metric catalogue",
    ),
    "retrain backend unknown": (
        set_config(retrain={"backend": "pipeline"}),
        "retrain uses backend 'pipeline', which is not in backends",
    ),
    "retrain policy for an unknown model": (
        set_config(retrain={"models": {"ghost": {"max_age_days": 3}}}),
        "retrain policy for model 'ghost', which does not exist",
    ),
    "required path names no field": (
        set_config(conventions={"required": ["artifact.sha"]}),
        "mlrelease.yaml:3: required field 'artifact.sha': artifact has no field 'sha'",
    ),
    "required field missing": (
        set_config(conventions={"required": ["code.commit"]}),
        "models/churn/versions/0.1.0.yaml:1: missing required field 'code.commit' (conventions.required)",
    ),
    "metric not in the catalogue": (
        lambda r: edit(r, "models/churn/versions/0.2.0.yaml", lambda d: d["metrics"].update(accuracy=0.9)),
        "models/churn/versions/0.2.0.yaml:15: metric 'accuracy' is not in the metric catalogue (mlrelease.yaml metrics)",
    ),
    "telemetry metric not in the catalogue": (
        lambda r: write(r, "telemetry/dev/churn.yaml", telemetry("churn", "dev", metrics={"mape": 1})),
        "telemetry/dev/churn.yaml:3: snapshots[0] metric 'mape' is not in the metric catalogue",
    ),
    "model headline metric not in the catalogue": (
        lambda r: edit(r, "models/churn/model.yaml", lambda d: d.update(headline=["mape"])),
        "models/churn/model.yaml:7: headline metric 'mape' is not in the metric catalogue",
    ),
    "consumer in an unknown environment": (
        lambda r: edit(r, "models/churn/model.yaml", lambda d: d.update(consumers=[{"name": "crm", "environments": ["qa"]}])),
        "models/churn/model.yaml:5: consumer 'crm' names environment 'qa', which is not in mlrelease.yaml",
    ),
    "artifact URI against the template": (
        lambda r: edit(r, "models/churn/versions/0.2.0.yaml", lambda d: d["artifact"].update(uri="s3://elsewhere/churn/0.2.0/")),
        "models/churn/versions/0.2.0.yaml:5: artifact URI 's3://elsewhere/churn/0.2.0/' does not follow the template: "
        "expected 's3://ml-models/churn/0.2.0/' (or a path inside it)",
    ),
    "image against the template": (
        lambda r: (
            set_config(conventions={"image": "reg.example/ml/{model}:{version}"})(r),
            edit(r, "models/churn/versions/0.2.0.yaml", lambda d: d.update(image={"ref": "reg.example/ml/churn:latest"})),
        ),
        "models/churn/versions/0.2.0.yaml:22: image 'reg.example/ml/churn:latest' does not follow the template: expected 'reg.example/ml/churn:0.2.0'",
    ),
    "unknown file in a model folder": (
        lambda r: write(r, "models/churn/notes.txt", "hello"),
        "models/churn/notes.txt: unknown file in models/ (expected models/<model>/model.yaml",
    ),
    "a .yml file": (
        lambda r: write(r, "models/churn/versions/0.3.0.yml", version("churn", "0.3.0")),
        "models/churn/versions/0.3.0.yml: unknown file in models/ (expected models/<model>/model.yaml, models/<model>/rejections.yaml "
        "or models/<model>/versions/<version>.yaml); registry files end in .yaml, not .yml",
    ),
    "a manifest outside versions/": (
        lambda r: write(r, "models/churn/0.3.0.yaml", version("churn", "0.3.0")),
        "models/churn/0.3.0.yaml: unknown file in models/",
    ),
    "a file directly in releases/": (
        lambda r: write(r, "releases/churn.yaml", release("churn", "dev", "0.1.0")),
        "releases/churn.yaml: unknown file in releases/ (expected releases/<environment>/<model>.yaml)",
    ),
    "model folder without model.yaml": (
        lambda r: write(r, "models/orphan/versions/1.0.0.yaml", version("orphan", "1.0.0")),
        "models/orphan/: model folder 'orphan' has no model.yaml",
    ),
    "config broken": (
        lambda r: write(r, "mlrelease.yaml", {**config(), "version": 2}),
        "mlrelease.yaml:1: format version 2 is not supported (this mlrelease reads version 1)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_class_of_problem_is_reported(repo: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    change, expected = CASES[case]
    change(repo)
    code, out, err = lint(capsys, repo)
    assert code == 1
    assert expected in out, out
    assert "Traceback" not in out + err
    assert "\x1b" not in out  # names from disk are shown escaped, never as terminal escapes

    code, out, _ = lint(capsys, repo, "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    rendered = [f"{p['path']}:{p['line']}: {p['message']}" if p["line"] else f"{p['path']}: {p['message']}" for p in data["problems"]]
    assert any(expected in visible(line, single_line=True) for line in rendered), rendered
    assert data["counts"]["problems"] == len(data["problems"]) >= 1


def test_every_problem_of_every_file_sorted_by_file_and_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, "models/fraud-card/versions/1.2.0.yaml", lambda d: d["metrics"].update(accuracy=1, mape=2))
    write(repo, "models/churn/versions/0.2.0.yaml", "model: churn\nmodel: churn\n")
    write(repo, "models/churn/notes.txt", "x")
    edit(repo, "models/churn/model.yaml", lambda d: d.update(extra=1))
    code, out, err = lint(capsys, repo)
    assert code == 1
    lines = out.splitlines()
    assert lines == [
        "models/churn/model.yaml:7: unknown key 'extra'",
        "models/churn/notes.txt: unknown file in models/ (expected models/<model>/model.yaml, models/<model>/rejections.yaml "
        "or models/<model>/versions/<version>.yaml)",
        "models/churn/versions/0.2.0.yaml:2: duplicate key 'model' (first at line 1)",
        "models/fraud-card/versions/1.2.0.yaml:15: metric 'accuracy' is not in the metric catalogue (mlrelease.yaml metrics)",
        "models/fraud-card/versions/1.2.0.yaml:15: metric 'mape' is not in the metric catalogue (mlrelease.yaml metrics)",
    ]
    assert "5 problems in 4 files" in err
    data = json.loads((lint(capsys, repo, "--json"))[1])
    assert data["counts"] == {"files": 14, "problems": 5, "files_with_problems": 4}
    assert data["problems"][2] == {
        "path": "models/churn/versions/0.2.0.yaml",
        "line": 2,
        "message": "duplicate key 'model' (first at line 1)",
    }


def test_one_problem_per_bad_folder_not_per_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "models/Bad/model.yaml", model("Bad"))
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        write(repo, f"models/Bad/versions/{v}.yaml", version("Bad", v))
    code, out, _ = lint(capsys, repo)
    assert code == 1
    assert out.count("model name 'Bad'") == 1


def test_lint_reads_a_ref_without_checking_it_out(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "models/churn/versions/0.2.0.yaml", "model: [")
    assert lint(capsys, repo)[0] == 1
    assert lint(capsys, repo, "--ref", "HEAD")[0] == 0
    commit_all(repo, "break churn")
    write(repo, "models/churn/versions/0.2.0.yaml", "model: churn\n")  # a different breakage in the work tree
    code, out, _ = lint(capsys, repo, "--ref", "HEAD")
    assert code == 1 and out.startswith("models/churn/versions/0.2.0.yaml:2: invalid YAML")
    head = git(repo, "rev-parse", "HEAD")
    assert lint(capsys, repo, "--ref", "HEAD~1")[0] == 0
    assert git(repo, "rev-parse", "HEAD") == head  # nothing was checked out
    assert (repo / "models/churn/versions/0.2.0.yaml").read_text() == "model: churn\n"


def test_many_manifests_are_parsed_in_parallel_and_all_problems_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the parallel threshold (400 files) the pool path runs; every problem still surfaces."""
    from mlrelease.registry import parallel
    from tests.builders import make_registry

    pools: list[object] = []
    real_pool = parallel.start_pool

    def counting_pool(processes: int) -> Any:
        pools.append(processes)
        return real_pool(processes)

    monkeypatch.setattr(parallel, "start_pool", counting_pool)
    root = make_registry(tmp_path / "big", commit=False)
    for i in range(450):
        write(root, f"models/fraud-card/versions/2.{i}.0.yaml", version("fraud-card", f"2.{i}.0"))
    write(root, "models/fraud-card/versions/2.7.0.yaml", "model: fraud-card\nversion: &v 2.7.0\n")
    write(root, "models/fraud-card/versions/2.300.0.yaml", version("fraud-card", "2.300.0", parent="9.9.9"))
    code, out, _ = lint(capsys, root)
    assert code == 1
    assert out.splitlines() == [
        "models/fraud-card/versions/2.300.0.yaml:22: parent version '9.9.9' of 'fraud-card' does not exist "
        "(models/fraud-card/versions/9.9.9.yaml)",
        "models/fraud-card/versions/2.7.0.yaml:2: YAML anchors and aliases are not allowed",
    ]
    assert len(pools) == (1 if (os.cpu_count() or 1) > 1 else 0)


def test_lint_through_the_installed_script(repo: Path) -> None:
    write(repo, "models/churn/notes.txt", "x")
    proc = subprocess.run([str(VENV_BIN / "mlrelease"), "lint"], cwd=repo / "models", capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stdout.startswith("models/churn/notes.txt: unknown file in models/")
    assert "1 problem in 1 file" in proc.stderr
