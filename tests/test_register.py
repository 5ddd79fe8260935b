"""`mlrelease register` end to end: the manifest it writes, the commit, and every refusal (nothing written)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlrelease.cli import main
from mlrelease.registry import yamlsafe
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import parse_trailers
from tests.builders import commit_all, config, git, write

VENV_BIN = Path(sys.executable).parent
SHA = "ab" * 32
METRICS = {"precision": 0.9, "recall": 0.8, "f1": 0.85, "auc": 0.93}


@pytest.fixture
def metrics_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(METRICS))
    return path


def register(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--repo", str(repo), "register", *args])
    out, err = capsys.readouterr()
    return code, out, err


def good_args(metrics: Path, model: str = "fraud-card", ver: str = "1.3.0") -> list[str]:
    return [model, ver, "--metrics", str(metrics), "--artifact", f"s3://ml-models/{model}/{ver}/", "--sha256", SHA]


def snapshot(repo: Path) -> tuple[str, str, str]:
    """HEAD, every branch tip and the work tree's status: what "nothing written" must leave alone."""
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
    )


def test_register_writes_a_manifest_that_passes_lint_and_commits_it(
    repo: Path, metrics_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = register(
        capsys,
        repo,
        *good_args(metrics_file),
        "--data",
        "train=transactions@2026.01",
        "--data",
        "test=holdout@v3",
        "--parent",
        "1.2.0",
        "--param",
        "max_depth=6",
        "--param",
        "learning_rate=0.05",
        "--param",
        "objective=binary:logistic",
        "--param",
        "seed=010",
        "--param",
        "balanced=true",
        "--image",
        "reg.example/ml/fraud-card:1.3.0@sha256:" + "c" * 64,
        "--description",
        "retrained on January",
        "--code-repo",
        "https://git.example/ml/fraud",
        "--code-commit",
        "abc123",
        "--entrypoint",
        "train.py:main",
    )
    assert (code, err) == (0, "")
    assert "Registered fraud-card 1.3.0: models/fraud-card/versions/1.3.0.yaml" in out
    path = repo / "models/fraud-card/versions/1.3.0.yaml"
    with Registry(repo, "HEAD", use_cache=False) as reg:
        v = reg.version("fraud-card", "1.3.0")
    assert v.version == "1.3.0" and v.parent == "1.2.0"
    assert v.author == "Test Author <author@example.com>"
    assert v.created.tzinfo is not None and v.created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - v.created) < timedelta(hours=1)
    assert v.artifact.uri == "s3://ml-models/fraud-card/1.3.0/" and v.artifact.sha256 == SHA
    assert v.image is not None and v.image.ref == "reg.example/ml/fraud-card:1.3.0" and v.image.digest == "sha256:" + "c" * 64
    assert v.code is not None and (v.code.repo, v.code.commit, v.code.entrypoint) == (
        "https://git.example/ml/fraud",
        "abc123",
        "train.py:main",
    )
    assert {r: (d.dataset, d.version) for r, d in v.data.items()} == {"train": ("transactions", "2026.01"), "test": ("holdout", "v3")}
    assert v.params == {"max_depth": 6, "learning_rate": 0.05, "objective": "binary:logistic", "seed": "010", "balanced": True}
    assert v.metrics == METRICS
    assert v.description == "retrained on January"
    # the checkout is on main: the new file is there and the tree is clean
    assert path.is_file()
    assert git(repo, "status", "--porcelain") == ""
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("Register fraud-card 1.3.0\n")
    assert parse_trailers(message) == {
        "action": "register",
        "model": "fraud-card",
        "version": "1.3.0",
        "actor": "Test Author <author@example.com>",
    }
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["models/fraud-card/versions/1.3.0.yaml"]
    assert main(["--repo", str(repo), "lint"]) == 0


def test_metrics_file_may_be_yaml_and_json_output(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metrics = tmp_path / "metrics.yaml"
    metrics.write_text("# from the evaluation step\nf1: 0.86\nauc: 0.94\n")
    code, out, _ = register(capsys, repo, *good_args(metrics), "--data", "train=transactions@2026.01", "--json", "--author", "CI <ci@x>")
    assert code == 0
    data = json.loads(out)
    assert data["model"] == "fraud-card" and data["version"] == "1.3.0" and data["created_model"] is False
    assert data["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert data["branch"] == "main" and data["pushed"] is False
    manifest = yamlsafe.load((repo / data["path"]).read_bytes(), data["path"])
    assert manifest["metrics"] == {"f1": 0.86, "auc": 0.94}
    assert manifest["author"] == "CI <ci@x>"


def test_create_model_in_the_same_commit(repo: Path, metrics_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = register(capsys, repo, *good_args(metrics_file, "anomaly", "0.1.0"), "--create-model", "--owner", "team-risk")
    assert code == 0, out
    assert "(new model)" in out
    files = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert files == ["models/anomaly/model.yaml", "models/anomaly/versions/0.1.0.yaml"]
    with Registry(repo, "HEAD", use_cache=False) as reg:
        assert reg.model("anomaly").owner == "team-risk"
    # an existing model is left as it is
    code, out, _ = register(
        capsys, repo, *good_args(metrics_file, "anomaly", "0.2.0"), "--create-model", "--owner", "someone-else", "--json"
    )
    assert code == 0 and json.loads(out)["created_model"] is False
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["models/anomaly/versions/0.2.0.yaml"]
    assert main(["--repo", str(repo), "lint"]) == 0


REFUSALS: dict[str, tuple[list[str], str]] = {
    "existing version (immutable)": (
        ["fraud-card", "1.2.0"],
        "models/fraud-card/versions/1.2.0.yaml: fraud-card 1.2.0 is already registered; released manifests are immutable",
    ),
    "unknown model": (
        ["ghost", "1.0.0"],
        "models/ghost/model.yaml: no model 'ghost'; create it first, or pass --create-model --owner OWNER",
    ),
    "model name against the convention": (
        ["Fraud", "1.0.0", "--create-model", "--owner", "x"],
        "model name 'Fraud' does not match the naming convention",
    ),
    "version not semver: 1.10": (["fraud-card", "1.10"], "version '1.10' is not semver"),
    "version not semver: 010": (["fraud-card", "010"], "version '010' is not semver"),
    "version not semver: NO": (["fraud-card", "NO"], "version 'NO' is not semver"),
    "unknown metric": (["fraud-card", "1.3.0", "--metrics", "{extra}"], "metric 'accuracy' is not in the metric catalogue"),
    "unknown parent": (["fraud-card", "1.3.0", "--parent", "0.9.0"], "parent version '0.9.0' of 'fraud-card' does not exist"),
    "artifact against the template": (
        ["fraud-card", "1.3.0", "--artifact", "s3://other/fraud-card/1.3.0/"],
        "artifact URI 's3://other/fraud-card/1.3.0/' does not follow the template",
    ),
    "data set version that does not exist": (
        ["fraud-card", "1.3.0", "--data", "train=transactions@2026.07"],
        "data.train: data set 'transactions' has no version '2026.07'",
    ),
    "bad sha256": (["fraud-card", "1.3.0", "--sha256", "xyz"], "--sha256 must be 64 hex digits"),
    "bad image digest": (["fraud-card", "1.3.0", "--image", "reg/x:1@sha256:beef"], "--image digest 'sha256:beef' must be sha256:"),
    "metrics file missing": (["fraud-card", "1.3.0", "--metrics", "{missing}"], "no such metrics file"),
    "metrics file not a mapping": (
        ["fraud-card", "1.3.0", "--metrics", "{listfile}"],
        "a metrics file must be a mapping of metric name to number",
    ),
    "metric not a number": (["fraud-card", "1.3.0", "--metrics", "{textvalue}"], ":1: metric 'auc' must be a number, not text"),
    "metrics file with an alias": (["fraud-card", "1.3.0", "--metrics", "{alias}"], ":1: YAML anchors and aliases are not allowed"),
    "metrics file empty": (["fraud-card", "1.3.0", "--metrics", "{empty}"], "has no metrics"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_write_nothing(repo: Path, metrics_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    files = {
        "extra": {"f1": 0.9, "accuracy": 0.99},
        "listfile": [1, 2],
        "textvalue": {"f1": 0.9, "auc": "high"},
        "alias": "a: &x 1\nb: *x\n",
        "empty": "{}\n",
    }
    paths = {"missing": str(tmp_path / "nope.json")}
    for name, data in files.items():
        target = tmp_path / f"{name}.yaml"
        target.write_text(data if isinstance(data, str) else json.dumps(data))
        paths[name] = str(target)
    args, expected = REFUSALS[case]
    name, ver, *rest = args
    rest = [a.format(**paths) for a in rest]
    base = {"--metrics": str(metrics_file), "--artifact": f"s3://ml-models/{name}/{ver}/", "--sha256": SHA}
    for flag in list(base):
        if flag in rest:
            del base[flag]
    before = snapshot(repo)
    code, _, err = register(capsys, repo, name, ver, *[x for kv in base.items() for x in kv], *rest)
    assert code == 1
    assert expected in err, err
    assert err.count("\n") == 1 and err.startswith("mlrelease: error: ")
    assert "Traceback" not in err
    assert snapshot(repo) == before
    assert not (repo / f"models/{name}/versions/{ver}.yaml").exists() or case.startswith("existing")


@pytest.mark.parametrize("name", ["..", "a/b", "-rf", "\x1b[31m", "x\u202ey", " fraud-card", "fraud-card ", "a..b", "a\\b"])
@pytest.mark.parametrize("where", ["model", "version"])
def test_hostile_names_are_refused(repo: Path, metrics_file: Path, capsys: pytest.CaptureFixture[str], name: str, where: str) -> None:
    model, ver = (name, "1.3.0") if where == "model" else ("fraud-card", name)
    before = snapshot(repo)
    flags = ["--metrics", str(metrics_file), "--artifact", "s3://ml-models/x/", "--create-model", "--owner", "o"]
    code, _, err = register(capsys, repo, *flags, "--", model, ver)
    assert code == 1
    assert err.startswith("mlrelease: error: ") and err.count("\n") == 1
    assert "\x1b" not in err and "\u202e" not in err  # shown escaped, never acted on by the terminal
    assert snapshot(repo) == before
    assert sorted(p.name for p in (repo / "models").iterdir()) == ["churn", "fraud-card"]


def test_usage_errors_exit_2(repo: Path, metrics_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(repo)
    for extra in (
        ["--param", "novalue"],
        ["--data", "transactions@2026.01"],
        ["--data", "train=transactions"],
        ["--create-model"],
        ["--param", "a=1", "--param", "a=2"],
    ):
        code, _, err = register(capsys, repo, *good_args(metrics_file), *extra)
        assert code == 2, (extra, err)
        assert err.startswith("mlrelease: error: ")
    code, _, err = register(capsys, repo, *good_args(metrics_file), "--ref", "HEAD")
    assert code == 2 and "--ref cannot be used" in err
    assert snapshot(repo) == before


def test_dirty_work_tree_is_left_alone(repo: Path, metrics_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    churn = repo / "models/churn/model.yaml"
    churn.write_text(churn.read_text() + "# my uncommitted note\n")
    write(repo, "scratch.txt", "untracked work\n")
    write(
        repo, "models/fraud-card/model.yaml", (repo / "models/fraud-card/model.yaml").read_text().replace("fraud-card model", "staged edit")
    )
    git(repo, "add", "models/fraud-card/model.yaml")
    status = git(repo, "status", "--porcelain")
    code, _, err = register(capsys, repo, *good_args(metrics_file), "--data", "train=transactions@2026.01")
    assert code == 0, err
    assert churn.read_text().endswith("# my uncommitted note\n")
    assert git(repo, "status", "--porcelain") == status  # same edits, still staged/unstaged as they were
    assert "staged edit" not in git(repo, "show", "HEAD:models/fraud-card/model.yaml")
    assert (repo / "models/fraud-card/versions/1.3.0.yaml").is_file()


def test_uncommitted_file_at_the_same_path_is_never_overwritten(repo: Path, metrics_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "models/fraud-card/versions/1.3.0.yaml", "my draft\n")
    before = snapshot(repo)
    code, _, err = register(capsys, repo, *good_args(metrics_file), "--data", "train=transactions@2026.01")
    assert code == 1 and "has uncommitted changes in your checkout" in err
    assert (repo / "models/fraud-card/versions/1.3.0.yaml").read_text() == "my draft\n"
    assert snapshot(repo) == before


def test_detached_head_commits_on_the_branch_and_leaves_the_checkout(
    repo: Path, metrics_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    head = git(repo, "rev-parse", "HEAD").strip()
    code, out, err = register(capsys, repo, *good_args(metrics_file), "--data", "train=transactions@2026.01", "--json")
    assert code == 0, err
    assert json.loads(out)["branch"] == "main"
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert not (repo / "models/fraud-card/versions/1.3.0.yaml").exists()
    assert "version: '1.3.0'" in git(repo, "show", "main:models/fraud-card/versions/1.3.0.yaml")
    # checks run against the branch tip, not the old checkout: the version now exists there
    code, _, err = register(capsys, repo, *good_args(metrics_file), "--data", "train=transactions@2026.01")
    assert code == 1 and "already registered" in err


def test_push_to_the_configured_remote(repo: Path, tmp_path: Path, metrics_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    git(repo, "remote", "add", "upstream", str(remote))
    write(repo, "mlrelease.yaml", config(remote={"name": "upstream", "branch": "main"}))
    commit_all(repo, "use upstream")
    git(repo, "push", "-q", "upstream", "main")
    code, out, err = register(capsys, repo, *good_args(metrics_file), "--data", "train=transactions@2026.01", "--push")
    assert code == 0, err
    assert "pushed to upstream" in out
    assert git(remote, "rev-parse", "main") == git(repo, "rev-parse", "main")
    assert "Mlrelease-Action: register" in git(remote, "log", "-1", "--format=%B", "main")


def test_push_without_a_remote_fails_cleanly(repo: Path, metrics_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(repo)
    code, _, err = register(capsys, repo, *good_args(metrics_file), "--data", "train=transactions@2026.01", "--push")
    assert code == 1 and "git remote 'origin' is not configured" in err
    assert snapshot(repo) == before


def test_register_through_the_installed_script_reads_metrics_from_stdin(repo: Path) -> None:
    proc = subprocess.run(
        [str(VENV_BIN / "mlrelease"), "register", "churn", "0.3.0", "--metrics", "-", "--artifact", "s3://ml-models/churn/0.3.0/model.pkl"],
        input='{"f1": 0.7}',
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Registered churn 0.3.0")
    assert "model.pkl" in git(repo, "show", "HEAD:models/churn/versions/0.3.0.yaml")
