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


def refused(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str]:
    """Run a command that must change nothing (HEAD, index, work tree); its exit code and stderr."""
    before = snapshot(root)
    rc, _, err = cli(capsys, root, *args)
    assert snapshot(root) == before, err
    return rc, err


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


# ---- dataset register: a pipeline publishes its data set versions --------------------------------


def test_dataset_register_publishes_a_manifest_models_can_then_name(
    pipeline_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics, profile = files(tmp_path)
    before = git(pipeline_repo, "rev-parse", "HEAD").strip()
    rc, _, err = register(capsys, pipeline_repo, metrics, "--data", "test=transactions@2026.02")
    assert rc == 1 and "data set 'transactions' has no version '2026.02'" in err  # the folder exists: only published versions
    rc, out, err = cli(
        capsys, pipeline_repo, "dataset", "register", "transactions", "2026.02", "--uri", "s3://data/transactions/2026.02/",
        "--digest", DIGEST, "--rows", "1200", "--column", "amount=float", "--column", "is_fraud=bool",
        "--update-frequency", "monthly", "--description", "Card payments, Feb", "--profile", str(profile), "--json",
    )  # fmt: skip
    assert rc == 0, err
    data = json.loads(out)
    assert data["path"] == "datasets/transactions/2026.02.yaml" and data["commit"]
    doc = yamlsafe.load((pipeline_repo / data["path"]).read_bytes(), "d")
    assert doc["name"] == "transactions" and doc["version"] == "2026.02" and doc["rows"] == 1200 and doc["digest"] == DIGEST
    assert doc["columns"] == {"amount": "float", "is_fraud": "bool"} and doc["profile"] == PROFILE and "created" in doc
    trailers = git(pipeline_repo, "log", "-1", "--format=%(trailers:only,unfold)")
    assert "Mlrelease-Action: register" in trailers and "Mlrelease-Dataset: transactions" in trailers
    assert "Mlrelease-Version: 2026.02" in trailers
    assert git(pipeline_repo, "status", "--porcelain") == "" and git(pipeline_repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert cli(capsys, pipeline_repo, "lint")[0] == 0
    rc, _, err = register(capsys, pipeline_repo, metrics, "--data", "test=transactions@2026.02")
    assert rc == 0, err
    rc, out, _ = cli(capsys, pipeline_repo, "lineage", "--dataset", "transactions@2026.02")
    assert rc == 0 and "1,200 rows" in out and "fraud-card" in out
    rc, out, _ = cli(capsys, pipeline_repo, "history", "--json")
    assert rc == 0 and all(e.get("model") for e in json.loads(out)["events"])  # a data set is no model's event
    rc, _, err = cli(capsys, pipeline_repo, "dataset", "register", "transactions", "2026.02")
    assert rc == 1 and "is already registered; data set versions are immutable" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["Bad_Name", "1"], 1, "not registered: "),
        (["transactions", "../x"], 1, "data set version name '../x'"),
        (["transactions", "2026.03", "--digest", "md5:1"], 1, "--digest 'md5:1' must be sha256: and 64 hex digits"),
        (["transactions", "2026.03", "--rows", "-3"], 1, "--rows must be 0 or more"),
        (["transactions", "2026.03", "--column", "amount"], 2, "--column expects NAME=TYPE"),
        (["transactions", "2026.03", "--column", "a=float", "--column", "a=int"], 2, "--column 'a' given twice"),
        (["transactions", "2026.03", "--columns", "-", "--profile", "-"], 2, "only one of --columns and --profile"),
        (["transactions", "2026.03", "--ref", "main"], 2, "--ref cannot be used"),
    ],
)
def test_dataset_register_refuses_bad_input_and_writes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    if "--ref" in args:
        rc, err = refused(capsys, repo, "--ref", "main", "dataset", "register", *[a for a in args if a not in ("--ref", "main")])
    else:
        rc, err = refused(capsys, repo, "dataset", "register", *args)
    assert rc == code and message in err, err


def test_a_bad_columns_file_is_named_with_its_line(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "columns.yaml"
    bad.write_text("amount: float\nchannel: [a, b]\n")
    rc, _, err = cli(capsys, repo, "dataset", "register", "transactions", "2026.03", "--columns", str(bad))
    assert rc == 1 and "columns.yaml:2: column 'channel' must have a type name" in err


# ---- model: what a model's own record says ---------------------------------------------------------


def test_model_sets_description_tags_headline_and_consumers_keeping_the_rest(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo / "models/fraud-card/model.yaml"
    rc, out, err = cli(
        capsys, repo, "model", "fraud-card", "--description", "Scores card payments", "--tag", "fraud", "--tag", "cards",
        "--headline", "f1", "--consumer", "card-gateway@staging,production", "--consumer", "risk-dashboard",
    )  # fmt: skip
    assert rc == 0 and "Updated models/fraud-card/model.yaml" in out, err
    doc = yamlsafe.load(path.read_bytes(), "m")
    assert list(doc) == ["name", "owner", "description", "task", "consumers", "tags", "headline"]  # new keys after the old
    assert doc["owner"] == "team-fraud" and doc["task"] == "binary-classification" and doc["description"] == "Scores card payments"
    assert doc["consumers"] == [{"name": "card-gateway", "environments": ["staging", "production"]}, {"name": "risk-dashboard"}]
    assert doc["tags"] == ["fraud", "cards"] and doc["headline"] == ["f1"]
    assert "Mlrelease-Action: model" in git(repo, "log", "-1", "--format=%B")
    head = git(repo, "rev-parse", "HEAD")
    rc, out, _ = cli(capsys, repo, "model", "fraud-card", "--tag", "fraud", "--tag", "cards", "--json")
    assert rc == 0 and json.loads(out)["changed"] is False and git(repo, "rev-parse", "HEAD") == head
    rc, _, _ = cli(capsys, repo, "model", "fraud-card", "--remove-consumer", "risk-dashboard", "--description", "")
    doc = yamlsafe.load(path.read_bytes(), "m")
    assert rc == 0 and "description" not in doc and [c["name"] for c in doc["consumers"]] == ["card-gateway"]
    rc, out, _ = cli(capsys, repo, "lineage", "--consumer", "card-gateway")
    assert rc == 0 and "staging, production" in out


def test_model_creates_a_model_with_an_owner_and_takes_a_consumers_file(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    consumers = tmp_path / "consumers.json"
    consumers.write_text(json.dumps([{"name": "scoring-api", "environments": ["production"], "contact": "api@example.com"}]))
    rc, _, _ = cli(capsys, repo, "model", "anomaly", "--description", "x")
    assert rc == 1  # no such model, and no --owner to create it
    rc, out, err = cli(capsys, repo, "model", "anomaly", "--owner", "team-risk", "--consumers", str(consumers), "--json")
    assert rc == 0 and json.loads(out)["created"] is True, err
    doc = yamlsafe.load((repo / "models/anomaly/model.yaml").read_bytes(), "m")
    assert doc == {"name": "anomaly", "owner": "team-risk", "consumers": [json.loads(consumers.read_text())[0]]}
    assert cli(capsys, repo, "lint")[0] == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "nothing to set"),
        (["--headline", "not_a_metric"], 1, "not_a_metric"),
        (["--consumer", "gw@nowhere"], 1, "names environment 'nowhere', which is not in mlrelease.yaml"),
        (["--consumer", "gw@"], 2, "--consumer expects NAME or NAME@ENV"),
        (["--consumer", "gw", "--remove-consumer", "gw"], 2, "consumer 'gw' named twice"),
        (["--remove-consumer", "nobody"], 1, "no consumer 'nobody' to remove (consumers: card-gateway)"),
        (["--consumers", "missing.json"], 1, "missing.json: cannot read"),
    ],
)
def test_model_refuses_bad_input_and_writes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    rc, err = refused(capsys, repo, "model", "fraud-card", *args)
    assert rc == code and message in err, err


def test_a_bad_consumers_file_is_named_with_its_line(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "consumers.yaml"
    bad.write_text("- name: ok\n- environments: [production]\n")
    rc, _, err = cli(capsys, repo, "model", "fraud-card", "--consumers", str(bad))
    assert rc == 1 and "consumers.yaml:2:" in err and "name" in err
    bad.write_text("name: not-a-list\n")
    rc, _, err = cli(capsys, repo, "model", "fraud-card", "--consumers", str(bad))
    assert rc == 1 and "must be a list" in err
