"""The CI files `mlrelease init` lays down, run for real: their shell steps, in a fresh virtualenv.

A wheel is built from this checkout once per session and the workflows install it through
their own `pip install "$MLRELEASE_SPEC"` step into a virtualenv that starts empty (one
per session: the first job's step installs, later ones find it there), so what is tested
is what a user's CI runs: the files as generated, the package as built (templates and
example included), nothing of this checkout's editable install. GitHub's `uses:` steps are stood in for by what they
do (checkout: a clone of the registry's remote; setup-python: the fresh virtualenv first
on PATH); GitLab's `script:` lines run in one shell that stops at the first failure, as a
runner does. Expressions (`${{ }}`) are not evaluated: a step that uses one fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main
from mlrelease.registry import yamlsafe
from mlrelease.release.scaffold import DEFAULT_SPEC
from mlrelease.resources import resource_dir
from tests.builders import commit_all, git, write
from tests.rollout_helpers import world

ROOT = Path(__file__).resolve().parents[1]
# Builds a wheel and installs it into a fresh virtualenv: ~20 s of CPU, far longer on a busy
# machine, so more time than the suite's 300 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Build:
    wheel: Path
    pip_cache: str  # the developer's (or CI's) pip cache: the suite gives each test an empty HOME
    venv: Path  # the CI machine's Python: a virtualenv made empty for this session


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """mlrelease's wheel, built from this checkout (session-scoped fixtures run before any test's HOME is swapped)."""
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        # hatchling comes with the test extra, so no build environment is made for it
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"building the wheel failed:\n{proc.stdout}\n{proc.stderr}"
    (wheel,) = out.glob("mlrelease-*.whl")
    cache = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False).stdout.strip()
    venv = tmp_path_factory.mktemp("ci-python") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    return Build(wheel, cache or str(Path.home() / ".cache" / "pip"), venv)


@dataclass
class Runner:
    """A CI machine: the session's virtualenv as its Python, the registry's remote, and the variables CI sets."""

    build: Build
    remote: Path
    checkout: Path

    @property
    def venv(self) -> Path:
        return self.build.venv

    def check_out(self, depth: int | None) -> None:
        """What a runner does first: a fresh clone of the pushed branch (shallow unless asked otherwise)."""
        shutil.rmtree(self.checkout, ignore_errors=True)
        depth_args = ["--depth", str(depth)] if depth else []
        git(self.checkout.parent, "clone", "-q", *depth_args, self.remote.as_uri(), str(self.checkout))

    def env(self, extra: dict[str, Any]) -> dict[str, str]:
        # PATH without any folder that already has an `mlrelease` (this checkout's .venv):
        # only the workflow's own install step may provide it.
        system = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p and not (Path(p) / "mlrelease").exists()]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "PIP_", "MLRELEASE_"))}
        env.update(
            PATH=os.pathsep.join([str(self.venv / "bin"), *system]),
            PIP_CACHE_DIR=self.build.pip_cache,
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            CI="true",
        )
        for key, value in extra.items():
            text = str(value)
            assert "${{" not in text, f"variable {key} uses an expression this test cannot evaluate: {text}"
            env[key] = text
        # The one change from the generated files: install the wheel built from this checkout.
        assert env.get("MLRELEASE_SPEC") == DEFAULT_SPEC, "the workflow no longer sets MLRELEASE_SPEC to init's default"
        env["MLRELEASE_SPEC"] = str(self.build.wheel)
        return env

    def run(self, script: str, env: dict[str, str], *, shell: tuple[str, ...] = ("bash", "-e")) -> subprocess.CompletedProcess[str]:
        assert "${{" not in script, f"step uses an expression this test cannot evaluate: {script}"
        return subprocess.run([*shell, "-c", script], cwd=self.checkout, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[Path, Path]]:
    """A registry made by `mlrelease init`, pushed to a bare remote: (the user's clone, the remote)."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    work = tmp_path / "work"
    assert main(["init", str(work)]) == 0
    capsys.readouterr()
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    yield work, remote


def ci_machine(tmp_path: Path, remote: Path, build: Build) -> Runner:
    return Runner(build, remote, tmp_path / "checkout")


def github_job(runner: Runner, workflow: Path, job: str) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
    """Run one job's steps in order, as a GitHub runner does, stopping at the first that fails."""
    doc = yamlsafe.load(workflow.read_bytes(), str(workflow))
    spec = doc["jobs"][job]
    done = []
    for step in spec["steps"]:
        name = step.get("name") or step.get("uses") or step.get("run")
        if "uses" in step:
            action = step["uses"].split("@")[0]
            assert action in ("actions/checkout", "actions/setup-python"), f"{workflow.name}: no stand-in for {step['uses']}"
            if action == "actions/checkout":
                depth = (step.get("with") or {}).get("fetch-depth", 1)  # 0: the whole history
                runner.check_out(depth or None)
            continue
        env = runner.env({**(spec.get("env") or {}), **(step.get("env") or {})})
        proc = runner.run(step["run"], env)
        done.append((name, proc))
        if proc.returncode != 0:
            break
    return done


def gitlab_job(runner: Runner, pipeline: Path, job: str) -> subprocess.CompletedProcess[str]:
    doc = yamlsafe.load(pipeline.read_bytes(), str(pipeline))
    spec = doc[job]
    assert str(spec["image"]).startswith("python:3."), "the job needs a Python image (this test stands in for it)"
    runner.check_out(20)  # GitLab's default GIT_DEPTH
    env = runner.env(spec.get("variables") or {})
    return runner.run("\n".join(spec["script"]), env, shell=("bash", "-e", "-o", "pipefail"))


def output(steps: list[tuple[str, subprocess.CompletedProcess[str]]]) -> str:
    return "\n".join(f"--- {name} (exit {p.returncode})\n{p.stdout}{p.stderr}" for name, p in steps)


def break_a_manifest(work: Path) -> None:
    write(work, "models/fraud-card/model.yaml", "name: fraud-card\nowner: [not, text]\n")
    commit_all(work, "a broken model manifest")
    git(work, "push", "-q", "origin", "main")


def test_github_lint_workflow_installs_the_package_and_lints_the_registry(
    registry: tuple[Path, Path], tmp_path: Path, build: Build
) -> None:
    work, remote = registry
    runner = ci_machine(tmp_path, remote, build)
    steps = github_job(runner, work / ".github/workflows/mlrelease-lint.yml", "lint")
    assert [name for name, _ in steps] == ["Install mlrelease", "Lint the registry", "Verify the release history"]
    assert all(p.returncode == 0 for _, p in steps), output(steps)
    assert shutil.which("mlrelease", path=str(runner.venv / "bin")) is not None
    # A broken manifest pushed later turns the same job red, naming the file.
    break_a_manifest(work)
    steps = github_job(runner, work / ".github/workflows/mlrelease-lint.yml", "lint")
    name, lint = steps[-1]
    assert (name, lint.returncode) == ("Lint the registry", 1), output(steps)
    assert "models/fraud-card/model.yaml" in lint.stdout + lint.stderr


def test_github_check_workflow_checks_and_pushes_its_record(registry: tuple[Path, Path], tmp_path: Path, build: Build) -> None:
    work, remote = registry
    runner = ci_machine(tmp_path, remote, build)
    steps = github_job(runner, work / ".github/workflows/mlrelease-check.yml", "check")
    assert [name for name, _ in steps] == [
        "Install mlrelease",
        "Who records the retraining requests",
        "Check, and start retraining for what is due",
    ]
    assert all(p.returncode == 0 for _, p in steps), output(steps)
    assert git(runner.checkout, "config", "user.name").strip() == "mlrelease check"
    assert git(remote, "rev-parse", "main") == git(runner.checkout, "rev-parse", "HEAD")


def test_github_rollout_workflow_moves_a_canary_on_and_pushes_its_record(tmp_path: Path, build: Build) -> None:
    """The scheduled rollout job, on a registry where fraud-card 1.1.0 runs a 10% canary whose hold is over and whose
    figures pass: one run advances it to 50% and pushes the two commits; the next run holds and pushes nothing."""
    w = world(tmp_path / "user")  # production's strategy: 10% for 1h, then 50% for 2h (tests/rollout_helpers.py)
    now = datetime.now(UTC).replace(microsecond=0)
    w.clock.now = now - timedelta(hours=2)
    w.start()
    w.traffic(now - timedelta(hours=1), champion=(90_000, 90), challenger=(10_000, 9), caught=(1800, 2000))
    template = (resource_dir("templates") / "github/workflows/mlrelease-rollout.yml").read_text(encoding="utf-8")
    write(
        w.root,
        ".github/workflows/mlrelease-rollout.yml",
        template.replace("@REGISTRY_PATH@", ".").replace("@MLRELEASE_SPEC@", DEFAULT_SPEC),
    )
    commit_all(w.root, "The rollout workflow, as init lays it down")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(w.root, "push", "-q", str(remote), "main")
    runner = ci_machine(tmp_path, remote, build)
    workflow = w.root / ".github/workflows/mlrelease-rollout.yml"
    steps = github_job(runner, workflow, "rollout")
    assert [name for name, _ in steps] == ["Install mlrelease", "Who records the rollout steps", "Judge every active rollout and act"]
    assert all(p.returncode == 0 for _, p in steps), output(steps)
    pushed = git(remote, "log", "-2", "--format=%s", "main").splitlines()
    assert pushed == [
        "fraud-card 1.1.0 is live in production (canary 50%)",
        "Promote fraud-card 1.1.0 to production (canary 50%)",
    ], output(steps)
    assert git(runner.checkout, "config", "user.name").strip() == "mlrelease rollout"
    tip = git(remote, "rev-parse", "main")
    steps = github_job(runner, workflow, "rollout")  # the next scheduled run: the 50% step's hold has just begun
    assert all(p.returncode == 0 for _, p in steps), output(steps)
    assert "holding until" in steps[-1][1].stdout, output(steps)
    assert git(remote, "rev-parse", "main") == tip


def test_gitlab_lint_job_installs_the_package_and_lints_the_registry(registry: tuple[Path, Path], tmp_path: Path, build: Build) -> None:
    work, remote = registry
    runner = ci_machine(tmp_path, remote, build)
    job = gitlab_job(runner, work / ".gitlab-ci.yml", "mlrelease-lint")
    assert job.returncode == 0, job.stdout + job.stderr
    break_a_manifest(work)
    job = gitlab_job(runner, work / ".gitlab-ci.yml", "mlrelease-lint")
    assert job.returncode == 1, job.stdout + job.stderr
    assert "models/fraud-card/model.yaml" in job.stdout + job.stderr


def test_init_tells_where_the_ci_files_get_mlrelease(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "reg")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"by default '{DEFAULT_SPEC}', which is not on PyPI yet: set MLRELEASE_SPEC" in out
    for generated in (".github/workflows/mlrelease-lint.yml", ".github/workflows/mlrelease-check.yml", ".gitlab-ci.yml"):
        assert "mlrelease is not on PyPI yet" in " ".join((tmp_path / "reg" / generated).read_text().split()).replace("# ", "")
