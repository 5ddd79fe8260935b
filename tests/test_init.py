"""`mlrelease init`: a new registry that lints clean, committed without touching anything else."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlrelease.cli import main
from mlrelease.registry import yamlsafe
from mlrelease.registry.parse import parse_config
from mlrelease.registry.trailers import parse_trailers
from mlrelease.resources import resource_dir
from tests.builders import commit_all, git, write

VENV_BIN = Path(sys.executable).parent
EXPECTED = [
    "models/.gitkeep",
    "datasets/.gitkeep",
    "telemetry/.gitkeep",
    "releases/dev/.gitkeep",
    "releases/staging/.gitkeep",
    "releases/production/.gitkeep",
    ".github/workflows/mlrelease-lint.yml",
    ".github/workflows/mlrelease-check.yml",
    ".github/workflows/mlrelease-rollout.yml",
    ".gitlab-ci.yml",
    "mlrelease.yaml",
]


def init(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["init", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_init_creates_a_repository_and_a_registry_that_lints_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "new-registry"
    code, out, err = init(capsys, str(root))
    assert (code, err) == (0, "")
    assert "created a git repository" in out
    assert (root / ".git").is_dir()
    assert git(root, "ls-files").split() == sorted(EXPECTED)
    assert git(root, "status", "--porcelain") == ""
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"
    message = git(root, "log", "-1", "--format=%B")
    assert parse_trailers(message) == {"action": "init", "actor": "Test Author <author@example.com>"}
    assert git(root, "branch", "--show-current").strip() == "main"
    config = parse_config(yamlsafe.load((root / "mlrelease.yaml").read_bytes(), "mlrelease.yaml"))
    assert config.name == "new-registry"
    assert main(["--repo", str(root), "lint"]) == 0
    assert main(["--repo", str(root), "--ref", "HEAD", "lint"]) == 0


def test_ci_files_run_lint_on_pull_requests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "reg"
    assert init(capsys, str(root))[0] == 0
    github = yamlsafe.load((root / ".github/workflows/mlrelease-lint.yml").read_bytes(), "gh")
    assert "pull_request" in github["on"]
    steps = github["jobs"]["lint"]["steps"]
    assert any(s.get("run") == 'mlrelease --repo "." lint' for s in steps)
    gitlab = yamlsafe.load((root / ".gitlab-ci.yml").read_bytes(), "gl")
    job = gitlab["mlrelease-lint"]
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in job["rules"]
    assert 'mlrelease --repo "." lint' in job["script"]
    ci_files = ("mlrelease-lint.yml", "mlrelease-check.yml", "mlrelease-rollout.yml")
    for text in (*((root / ".github/workflows" / f).read_text() for f in ci_files), (root / ".gitlab-ci.yml").read_text()):
        assert "@" + "REGISTRY_PATH@" not in text and "@MLRELEASE_SPEC@" not in text


def test_ci_files_run_every_active_rollout_on_a_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "reg"
    assert init(capsys, str(root))[0] == 0
    github = yamlsafe.load((root / ".github/workflows/mlrelease-rollout.yml").read_bytes(), "gh")
    assert github["on"]["schedule"] and github["permissions"] == {"contents": "write"}
    steps = github["jobs"]["rollout"]["steps"]
    assert any('mlrelease --repo "." rollout --all --yes' in (s.get("run") or "") for s in steps)
    assert steps[0]["with"]["fetch-depth"] == 0
    job = yamlsafe.load((root / ".gitlab-ci.yml").read_bytes(), "gl")["mlrelease-rollout"]
    assert any("rollout --all --yes" in line for line in job["script"]) and job["variables"]["GIT_DEPTH"] == "0"


def test_the_config_template_explains_every_section() -> None:
    text = (resource_dir("templates") / "mlrelease.yaml").read_text()
    lines = text.splitlines()
    keys = [i for i, line in enumerate(lines) if re.match(r"[a-z_]+:", line)]
    assert [lines[i].split(":")[0] for i in keys] == [
        "version",
        "name",
        "conventions",
        "metrics",
        "headline",
        "environments",
        "backends",
        "retrain",
    ]
    for i in keys:
        assert lines[i - 1].startswith("#"), f"top-level key {lines[i]!r} has no comment above it"
    assert "# remote:" in text  # optional section, shown commented out
    for section in ("version_scheme", "artifact_uri", "required", "thresholds", "no_regression", "approvals", "windows", "psi_threshold"):
        assert section in text


def test_init_in_a_subfolder_of_an_existing_repository_leaves_other_work_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "src/app.py", "print('hi')\n")
    write(repo, ".gitlab-ci.yml", "build:\n  script: [make]\n")
    commit_all(repo, "app")
    write(repo, "src/app.py", "print('edited')\n")  # unstaged edit
    write(repo, "src/new.py", "x = 1\n")
    git(repo, "add", "src/new.py")  # staged new file
    code, out, err = init(capsys, str(repo / "ml" / "registry"))
    assert code == 0, err
    assert "created a git repository" not in out
    assert "skipped .gitlab-ci.yml" in out
    assert (repo / ".gitlab-ci.yml").read_text() == "build:\n  script: [make]\n"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == sorted(
        [f"ml/registry/{p}" for p in EXPECTED if not p.startswith(".")]
        + [".github/workflows/mlrelease-check.yml", ".github/workflows/mlrelease-lint.yml", ".github/workflows/mlrelease-rollout.yml"]
    )
    workflow = (repo / ".github/workflows/mlrelease-lint.yml").read_text()
    assert 'mlrelease --repo "ml/registry" lint' in workflow
    assert '"ml/registry"' in (repo / ".github/workflows/mlrelease-check.yml").read_text()
    assert 'mlrelease --repo "ml/registry" rollout --all --yes' in (repo / ".github/workflows/mlrelease-rollout.yml").read_text()
    assert (repo / "src/app.py").read_text() == "print('edited')\n"
    assert git(repo, "status", "--porcelain").splitlines() == [" M src/app.py", "A  src/new.py"]
    assert main(["--repo", str(repo / "ml" / "registry"), "lint"]) == 0


def test_existing_registry_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "reg"
    assert init(capsys, str(root))[0] == 0
    (root / "mlrelease.yaml").write_text("version: 1\nenvironments: [{name: mine}]\n")
    (root / "models/.gitkeep").unlink()
    before = (git(root, "rev-parse", "HEAD"), git(root, "status", "--porcelain"))
    code, _, err = init(capsys, str(root))
    assert code == 1
    assert err.strip() == f"mlrelease: error: {root / 'mlrelease.yaml'}: already exists; mlrelease init never overwrites a registry"
    assert (root / "mlrelease.yaml").read_text() == "version: 1\nenvironments: [{name: mine}]\n"
    assert not (root / "models/.gitkeep").exists()
    assert (git(root, "rev-parse", "HEAD"), git(root, "status", "--porcelain")) == before


def test_no_commit_only_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "reg"
    code, out, _ = init(capsys, str(root), "--no-commit", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["commit"] is None and data["created_repository"] is True
    assert data["written"] == EXPECTED and data["skipped"] == []
    assert git(root, "rev-list", "--all") == ""
    assert sorted(line[3:] for line in git(root, "status", "--porcelain", "--untracked-files=all").splitlines()) == sorted(EXPECTED)
    assert main(["--repo", str(root), "lint"]) == 0


def test_detached_head_is_refused_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "README.md", "hi\n")
    commit_all(repo, "readme")
    git(repo, "checkout", "-q", "--detach")
    code, _, err = init(capsys, str(repo / "registry"))
    assert code == 1 and "HEAD is detached" in err
    assert not (repo / "registry").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_init_uses_repo_or_the_current_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "here"
    root.mkdir()
    monkeypatch.chdir(root)
    assert init(capsys)[0] == 0
    assert (root / "mlrelease.yaml").is_file()
    other = tmp_path / "there"
    assert main(["--repo", str(other), "init"]) == 0
    assert (other / "mlrelease.yaml").is_file()


def test_init_then_register_then_lint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The first day of a registry, through the installed script."""
    root = tmp_path / "reg"
    metrics = tmp_path / "metrics.json"
    metrics.write_text('{"f1": 0.81, "auc": 0.9}')

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(VENV_BIN / "mlrelease"), *args], capture_output=True, text=True, check=False)

    assert run("init", str(root)).returncode == 0
    proc = run(
        "--repo", str(root), "register", "fraud", "1.0.0", "--metrics", str(metrics),
        "--artifact", "s3://ml-models/fraud/1.0.0/", "--sha256", "0" * 64, "--data", "train=transactions@2026.01",
        "--create-model", "--owner", "team-fraud",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proc = run("--repo", str(root), "lint")
    assert proc.returncode == 0, proc.stdout
    assert git(root, "rev-list", "--count", "HEAD").strip() == "2"
