"""Comparing versions: verdicts by each metric's goal, params, data; the diff command's formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlrelease.cli import main
from mlrelease.errors import NotFound
from mlrelease.registry import yamlsafe
from mlrelease.registry.compare import against_live, compare_versions
from mlrelease.registry.loader import Registry
from mlrelease.registry.parse import parse_config
from mlrelease.registry.types import Artifact, Code, DataRef, Version
from tests.builders import commit_all, config, version, write
from tests.cli_helpers import cli, fails

CONFIG = parse_config(yamlsafe.load(yamlsafe.dump(config()), "mlrelease.yaml"))


def v(ver: str, **kw: object) -> Version:
    base: dict[str, object] = {
        "model": "m",
        "version": ver,
        "created": datetime(2026, 3, 1, tzinfo=UTC),
        "author": "a",
        "artifact": Artifact(uri=f"s3://m/{ver}/"),
    }
    base.update(kw)
    return Version(**base)  # type: ignore[arg-type]


def test_verdicts_follow_each_metrics_goal() -> None:
    old = v("1.0.0", metrics={"f1": 0.80, "false_positive_ratio": 0.020, "auc": 0.9, "recall": 0.7, "latency": 10.0, "gone": 1.0})
    new = v("1.1.0", metrics={"f1": 0.85, "false_positive_ratio": 0.025, "auc": 0.9, "recall": 0.6, "latency": 12.0, "fresh": 2.0})
    c = compare_versions(CONFIG, old, new)
    verdicts = {m.name: m.verdict for m in c.metrics}
    assert verdicts == {
        "f1": "better",  # max, went up
        "false_positive_ratio": "worse",  # min, went up
        "auc": "same",
        "recall": "worse",  # max, went down
        "latency": "unknown",  # not in the catalogue: shown, direction unknown
        "gone": "removed",
        "fresh": "added",
    }
    # catalogue order first, then the others as they appear
    assert [m.name for m in c.metrics] == ["recall", "f1", "auc", "false_positive_ratio", "latency", "gone", "fresh"]
    assert c.counts() == {"better": 1, "worse": 2, "same": 1, "unknown": 1, "added": 1, "removed": 1}


def test_lower_is_better_going_down_is_better() -> None:
    c = compare_versions(CONFIG, v("1", metrics={"false_positive_ratio": 0.03}), v("2", metrics={"false_positive_ratio": 0.01}))
    assert c.metrics[0].verdict == "better"


def test_deltas_render_in_the_metrics_own_format() -> None:
    c = compare_versions(
        CONFIG,
        v("1", metrics={"value_detection_rate": 0.70, "f1": 0.85, "x": 3.0}),
        v("2", metrics={"value_detection_rate": 0.725, "f1": 0.80, "x": 3.0}),
    )
    by = {m.name: m for m in c.metrics}
    assert by["value_detection_rate"].render_delta() == "+2.5%"
    assert by["f1"].render_delta() == "−0.050"
    assert by["x"].render_delta() == "±0"
    assert by["f1"].delta == pytest.approx(-0.05)


def test_float_noise_is_the_same() -> None:
    c = compare_versions(CONFIG, v("1", metrics={"f1": 0.1 + 0.2}), v("2", metrics={"f1": 0.3}))
    assert c.metrics[0].verdict == "same"


def test_params_added_removed_changed_and_type_changes() -> None:
    old = v("1", params={"depth": 6, "lr": 0.1, "flag": True, "same": "x", "dropped": 1, "text": "1"})
    new = v("2", params={"depth": 8, "lr": 0.1, "flag": 1, "same": "x", "added": None, "text": 1})
    c = compare_versions(CONFIG, old, new)
    assert {(p.name, p.kind) for p in c.params} == {
        ("depth", "changed"),
        ("flag", "changed"),  # True and 1 are not the same setting
        ("text", "changed"),  # "1" and 1 neither
        ("dropped", "removed"),
        ("added", "added"),
    }
    assert c.unchanged_params == 2


def test_data_changes_per_role() -> None:
    old = v(
        "1",
        data={
            "train": DataRef("tx", "2026.01", rows=100, digest="d1"),
            "validation": DataRef("tx", "2026.02"),
            "test": DataRef("holdout", "1"),
        },
    )
    new = v(
        "2",
        data={
            "train": DataRef("tx", "2026.02", rows=120, digest="d1"),
            "validation": DataRef("tx", "2026.02"),
            "extra": DataRef("labels", "3"),
        },
    )
    c = compare_versions(CONFIG, old, new)
    by = {d.role: d for d in c.data}
    assert set(by) == {"train", "test", "extra"}
    assert by["train"].changed == ("version", "rows")
    assert by["test"].kind == "removed"
    assert by["extra"].kind == "added"


def test_other_field_changes() -> None:
    c = compare_versions(CONFIG, v("1", code=Code(commit="aaa")), v("2", parent="1", code=Code(commit="bbb")))
    assert {(f.field, f.old, f.new) for f in c.fields} >= {("code.commit", "aaa", "bbb"), ("parent", None, "1")}


def test_against_live(repo: Path) -> None:
    with Registry(repo) as reg:
        c = against_live(reg, "fraud-card", "1.2.0", "production")
        assert c is not None
        assert (c.old.version, c.new.version) == ("1.0.0", "1.2.0")
        assert {m.name: m.verdict for m in c.metrics}["f1"] == "better"
        assert against_live(reg, "churn", "0.2.0", "dev") is None  # nothing live there
        with pytest.raises(NotFound, match="no environment 'prod'"):
            against_live(reg, "churn", "0.2.0", "prod")
        with pytest.raises(NotFound, match=r"no version '7\.0\.0'"):
            against_live(reg, "churn", "7.0.0", "production")


# ---- the diff command ----------------------------------------------------------------------


@pytest.fixture
def diffrepo(repo: Path) -> Path:
    newer = version("fraud-card", "1.3.0", f1=0.86, parent="1.2.0", params={"max_depth": 8, "lr": 0.05})
    newer["metrics"]["false_positive_ratio"] = 0.03
    newer["metrics"]["latency_ms"] = 12.0
    newer["data"]["validation"] = {"dataset": "transactions", "version": "2026.02", "rows": 50}
    write(repo, "models/fraud-card/versions/1.3.0.yaml", newer)
    commit_all(repo, "1.3.0")
    return repo


def test_diff_table_marks_better_and_worse_with_symbol_and_word(capsys: pytest.CaptureFixture[str], diffrepo: Path) -> None:
    rc, out, _ = cli(capsys, diffrepo, "diff", "fraud-card@1.2.0", "fraud-card@1.3.0")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].strip() == "fraud-card 1.2.0 → 1.3.0"
    f1 = next(line for line in lines if line.strip().startswith("f1 "))
    assert "0.850" in f1 and "0.860" in f1 and "+0.010" in f1 and "▲ better" in f1
    fpr = next(line for line in lines if line.strip().startswith("false_positive_ratio"))
    assert "▼ worse" in fpr and "+1.00%" in fpr
    assert "+ only in new" in next(line for line in lines if "latency_ms" in line)
    assert "max_depth" in out and "changed" in out and "lr" in out and "added" in out
    assert "validation" in out and "transactions@2026.02, 50 rows" in out


def test_diff_json_equals_format_json(capsys: pytest.CaptureFixture[str], diffrepo: Path) -> None:
    _, a, _ = cli(capsys, diffrepo, "diff", "fraud-card@1.2.0", "fraud-card@1.3.0", "--json")
    _, b, _ = cli(capsys, diffrepo, "diff", "fraud-card@1.2.0", "fraud-card@1.3.0", "--format", "json")
    assert a == b
    data = json.loads(a)
    assert data["old"] == {"model": "fraud-card", "version": "1.2.0"}
    f1 = next(m for m in data["metrics"] if m["name"] == "f1")
    assert f1["verdict"] == "better" and f1["goal"] == "max" and f1["display"] == {"old": "0.850", "new": "0.860", "delta": "+0.010"}
    assert data["summary"]["worse"] == 1
    assert {p["name"]: p["change"] for p in data["params"]} == {"max_depth": "changed", "lr": "added"}
    assert data["data"][0]["role"] == "validation" and data["data"][0]["change"] == "added"


def test_diff_markdown_is_a_table_for_a_pull_request(capsys: pytest.CaptureFixture[str], diffrepo: Path) -> None:
    rc, out, _ = cli(capsys, diffrepo, "diff", "fraud-card@1.2.0", "fraud-card@1.3.0", "--format", "markdown")
    assert rc == 0
    assert out.startswith("### fraud-card 1.2.0 → 1.3.0\n")
    assert "| Metric | 1.2.0 | 1.3.0 | Δ | Verdict |" in out
    assert "| f1 | 0.850 | 0.860 | +0.010 | ▲ better |" in out
    assert "| false\\_positive\\_ratio | 2.00% | 3.00% | +1.00% | ▼ worse |" in out


def test_diff_markdown_neutralises_hostile_text(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    evil = version(
        "fraud-card", "1.3.0", f1=0.86, params={"x": "a | b <script>alert(1)</script> ![i](http://e/x.png) [l](http://e)\x1b[2J"}
    )
    evil["metrics"]["m|`x`"] = 1.0
    write(repo, "models/fraud-card/versions/1.3.0.yaml", evil)
    commit_all(repo, "evil")
    rc, out, _ = cli(capsys, repo, "diff", "fraud-card@1.2.0", "fraud-card@1.3.0", "--format", "markdown")
    assert rc == 0
    row = next(line for line in out.splitlines() if line.startswith("| x |"))
    assert row.count(" | ") == 3  # the pipe inside the value did not add a column
    assert "<script>" not in out and "](" not in out.replace("\\](", "")
    assert "\\<script\\>" in row and "\\x1b" in row and "\x1b" not in out
    assert "| m\\|\\`x\\` |" in out


def test_diff_across_models(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    rc, out, _ = cli(capsys, repo, "diff", "churn@0.2.0", "fraud-card@1.0.0")
    assert rc == 0
    assert "churn@0.2.0 → fraud-card@1.0.0" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["diff", "fraud-card@1.0.0", "fraud-card@4.0.0"], 1, "no version '4.0.0'"),
        (["diff", "nope@1.0.0", "fraud-card@1.0.0"], 1, "no model 'nope'"),
        (["diff", "fraud-card", "fraud-card@1.0.0"], 2, "expected MODEL@VERSION"),
        (["diff", "fraud-card@1.0.0", "fraud-card@"], 2, "expected MODEL@VERSION"),
    ],
)
def test_diff_errors(capsys: pytest.CaptureFixture[str], repo: Path, args: list[str], code: int, message: str) -> None:
    fails(capsys, repo, args, code, message)


def test_diff_bad_format_is_usage(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--repo", str(repo), "diff", "fraud-card@1.0.0", "fraud-card@1.1.0", "--format", "html"])
    assert exc.value.code == 2


def test_best_of_follows_the_goal_and_treats_an_unknown_metric_as_higher_is_better() -> None:
    from mlrelease.registry.compare import best_of
    from mlrelease.registry.types import MetricDef

    values = [("1.0.0", 0.2), ("1.1.0", 0.1), ("1.2.0", 0.3)]
    assert best_of(MetricDef("fpr", goal="min"), values) == ("1.1.0", 0.1)
    assert best_of(MetricDef("f1", goal="max"), values) == ("1.2.0", 0.3)
    assert best_of(None, values) == ("1.2.0", 0.3)
