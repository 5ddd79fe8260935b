"""A pipeline never writes YAML or runs git (issue 14.5): `register` records all a manifest holds,
integer metrics stay integers, and `lineage` answers "what used this data set" and "what does this
application call, where" — end to end on real git registries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlrelease.registry import yamlsafe
from tests.builders import commit_all, config, git, model, write
from tests.cli_helpers import cli

SHA = "ab" * 32
DIGEST = "sha256:" + "cd" * 32
METRICS = {"precision": 0.9, "recall": 0.8, "f1": 0.85, "auc": 0.93, "support": 18250000}
PROFILE = {
    "rows": 2100000,
    "features": {
        "amount": {"type": "numeric", "edges": [10, 50, 200], "fractions": [0.2, 0.4, 0.3, 0.1]},
        "channel": {"type": "categorical", "fractions": {"chip": 0.6, "ecommerce": 0.4}},
    },
}


@pytest.fixture
def pipeline_repo(repo: Path) -> Path:
    """The test registry with a whole-number metric in the catalogue (no format: shown as it is)."""
    cfg = config()
    cfg["metrics"]["support"] = {"goal": "max", "kind": "model"}
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "A count among the metrics")
    return repo


def files(tmp_path: Path, metrics: object = METRICS, profile: object = PROFILE) -> tuple[Path, Path]:
    m, p = tmp_path / "metrics.json", tmp_path / "profile.json"
    m.write_text(json.dumps(metrics))
    p.write_text(json.dumps(profile))
    return m, p


def register(capsys: pytest.CaptureFixture[str], root: Path, metrics: Path, *extra: str, ver: str = "1.3.0") -> tuple[int, str, str]:
    return cli(
        capsys, root, "register", "fraud-card", ver, "--metrics", str(metrics), "--artifact", f"s3://ml-models/fraud-card/{ver}/",
        "--sha256", SHA, "--data", "train=transactions@2026.01", *extra,
    )  # fmt: skip


def snapshot(root: Path) -> tuple[str, str]:
    return git(root, "rev-parse", "HEAD"), git(root, "status", "--porcelain", "--untracked-files=all")


# ---- integer metrics stay integers (a defect on 2c498d0: 18250000 was written 18250000.0, shown 1.825e+07) ----


def test_integer_metrics_stay_integers(pipeline_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metrics, _ = files(tmp_path)
    rc, _, err = register(capsys, pipeline_repo, metrics)
    assert rc == 0, err
    text = (pipeline_repo / "models/fraud-card/versions/1.3.0.yaml").read_text()
    assert "support: 18250000\n" in text and "f1: 0.85\n" in text
    rc, out, _ = cli(capsys, pipeline_repo, "show", "fraud-card@1.3.0", "--json")
    shown = json.loads(out)
    found = shown["manifest"]["metrics"]
    assert rc == 0 and found["support"] == 18250000 and isinstance(found["support"], int)
    rc, out, _ = cli(capsys, pipeline_repo, "show", "fraud-card@1.3.0")
    assert rc == 0 and "18250000" in out and "1.825e+07" not in out


# ---- everything a version manifest holds ------------------------------------------------------------


def test_register_records_rows_digests_profile_format_and_tags(
    pipeline_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics, profile = files(tmp_path)
    rc, _, err = register(
        capsys, pipeline_repo, metrics,
        "--data", "validation=transactions@2026.01", "--data-rows", "train=18250000", "--data-digest", f"train={DIGEST.upper().replace('SHA256', 'sha256')}",
        "--data-rows", "validation=2100000", "--profile", str(profile), "--artifact-format", "onnx", "--artifact-bytes", "48213344",
        "--tag", "candidate", "--tag", "nightly", "--tag", "candidate",
    )  # fmt: skip
    assert rc == 0, err
    doc = yamlsafe.load((pipeline_repo / "models/fraud-card/versions/1.3.0.yaml").read_bytes(), "manifest")
    assert doc["data"] == {
        "train": {"dataset": "transactions", "version": "2026.01", "rows": 18250000, "digest": DIGEST},
        "validation": {"dataset": "transactions", "version": "2026.01", "rows": 2100000},
    }
    assert doc["artifact"] == {"uri": "s3://ml-models/fraud-card/1.3.0/", "sha256": SHA, "format": "onnx", "bytes": 48213344}
    assert doc["profile"] == PROFILE and doc["tags"] == ["candidate", "nightly"]
    assert cli(capsys, pipeline_repo, "lint")[0] == 0
    rc, out, _ = cli(capsys, pipeline_repo, "lineage", "fraud-card@1.3.0")
    assert rc == 0 and "18,250,000 rows" in out and DIGEST in out


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--data-rows", "test=5"], 2, "--data-rows test: no --data test=DATASET@VERSION was given (roles: train)"),
        (["--data-rows", "train=lots"], 2, "--data-rows train: rows must be a whole number, got 'lots'"),
        (["--data-rows", "train"], 2, "--data-rows expects ROLE=ROWS"),
        (["--data-rows", "train=1", "--data-rows", "train=2"], 2, "--data-rows role 'train' given twice"),
        (["--data-digest", "train=md5:abc"], 1, "--data-digest train 'md5:abc' must be sha256: and 64 hex digits"),
        (["--artifact-bytes", "-1"], 1, "--artifact-bytes must be 0 or more"),
        (["--tag", " "], 1, "--tag must not be empty"),
        (["--profile", "-", "--metrics", "-"], 2, "only one of --metrics and --profile can read stdin"),
        (["--profile", "nowhere.json"], 1, "nowhere.json: no such profile file"),
    ],
)
def test_bad_forms_are_refused_and_nothing_is_written(
    pipeline_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], code: int, message: str
) -> None:
    metrics, _ = files(tmp_path)
    before = snapshot(pipeline_repo)
    rc, _, err = register(capsys, pipeline_repo, metrics, *extra)
    assert rc == code and message in err
    assert snapshot(pipeline_repo) == before


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ([1, 2], "profile.json: a profile file must be a mapping, not a list"),
        ({"rows": 10}, "profile.json:1: missing required field 'features'"),
        ({"features": {"amount": {"type": "numeric", "edges": [1, 2], "fractions": [0.5, 0.5]}}}, "profile.json:1:"),
        ({"features": {}, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_profile_file_is_named_with_its_line(
    pipeline_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], profile: object, message: str
) -> None:
    metrics, path = files(tmp_path, profile=profile)
    before = snapshot(pipeline_repo)
    rc, _, err = register(capsys, pipeline_repo, metrics, "--profile", str(path))
    assert rc == 1 and message in err, err
    assert snapshot(pipeline_repo) == before


# ---- lineage: a data set's every version, and what an application calls ---------------------------


def test_lineage_of_a_whole_data_set_lists_every_version_that_used_any_version(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "datasets/transactions/2026.02.yaml", {"name": "transactions", "version": "2026.02", "rows": 1200})
    doc = yamlsafe.load((repo / "models/fraud-card/versions/1.2.0.yaml").read_bytes(), "v")
    doc = json.loads(json.dumps(doc))
    doc.update(version="1.3.0", parent="1.2.0")
    doc["data"] = {"train": {"dataset": "transactions", "version": "2026.02"}, "test": {"dataset": "transactions", "version": "2026.01"}}
    write(repo, "models/fraud-card/versions/1.3.0.yaml", doc)
    commit_all(repo, "A version on two versions of transactions")
    rc, out, _ = cli(capsys, repo, "lineage", "--dataset", "transactions", "--json")
    data = json.loads(out)
    assert rc == 0 and data["version"] is None
    uses = {(u["model"], u["version"]): list(zip(u["roles"], u["dataset_versions"], strict=True)) for u in data["uses"]}
    assert uses[("fraud-card", "1.3.0")] == [("train", "2026.02"), ("test", "2026.01")]
    assert uses[("fraud-card", "1.0.0")] == [("train", "2026.01")] and len(uses) == 6  # 4 fraud-card + 2 churn
    rc, out, _ = cli(capsys, repo, "lineage", "--dataset", "transactions@2026.02", "--json")
    assert rc == 0 and [(u["model"], u["version"]) for u in json.loads(out)["uses"]] == [("fraud-card", "1.3.0")]
    rc, out, _ = cli(capsys, repo, "lineage", "--dataset", "transactions")
    assert rc == 0 and "(every version)" in out and "train@2026.02, test@2026.01" in out and "used by 6 model versions" in out
    rc, _, err = cli(capsys, repo, "lineage", "--dataset", "nothing-like-it")
    assert rc == 1 and "no data set nothing-like-it in" in err


def test_lineage_of_a_consumer_says_which_models_it_calls_where_and_what_is_live(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    consumers = [{"name": "card-gateway", "contact": "payments@example.com"}, {"name": "crm-app"}]
    write(repo, "models/churn/model.yaml", model("churn", owner="team-crm", consumers=consumers))
    commit_all(repo, "The gateway calls churn too")
    rc, out, _ = cli(capsys, repo, "lineage", "--consumer", "card-gateway", "--json")
    data = json.loads(out)
    assert rc == 0
    calls = {c["model"]: c for c in data["calls"]}
    assert calls["fraud-card"]["environments"] == ["production"]
    assert [(r["environment"], r["version"]) for r in calls["fraud-card"]["running"]] == [("production", "1.0.0")]
    assert calls["churn"]["environments"] is None and calls["churn"]["contact"] == "payments@example.com"
    assert [(r["environment"], r["version"]) for r in calls["churn"]["running"]] == [("production", "0.2.0")]
    rc, out, _ = cli(capsys, repo, "lineage", "--consumer", "card-gateway")
    assert rc == 0 and "card-gateway calls 2 models" in out and "1.0.0 in production" in out and "all environments" in out
    rc, _, err = cli(capsys, repo, "lineage", "--consumer", "nobody")
    assert rc == 1 and "no model in" in err and "names 'nobody' among its consumers (consumers: card-gateway, crm-app)" in err


@pytest.mark.parametrize(
    "args", [[], ["fraud-card@1.0.0", "--dataset", "transactions"], ["--dataset", "transactions", "--consumer", "x"], ["--dataset", "@1"]]
)
def test_lineage_takes_exactly_one_form(repo: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    rc, _, err = cli(capsys, repo, "lineage", *args)
    assert rc == 2 and ("give one of" in err or "expected" in err)
