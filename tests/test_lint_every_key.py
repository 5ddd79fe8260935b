"""`mlrelease lint` knows every key (issue 10 item 1): a typo never deletes a gate or a setting.

Unknown keys under ``environments``, ``gates``, ``retrain``, ``backends`` and telemetry
settings are problems with ``mlrelease.yaml:LINE``; each backend and telemetry type
checks its own settings at lint time, with neither secrets nor the network, through the
plugin protocol — third-party plugins too, with or without a ``check_settings`` hook.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main
from tests.builders import config, write


def lint(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, list[str]]:
    code = main(["--repo", str(root), "lint"])
    out, _err = capsys.readouterr()
    return code, out.splitlines()


def with_config(root: Path, change: Any) -> list[str]:
    cfg = config()
    change(cfg)
    write(root, "mlrelease.yaml", cfg)
    return (root / "mlrelease.yaml").read_text().splitlines()


def line_of(lines: list[str], problem: str) -> str:
    """The mlrelease.yaml line a ``mlrelease.yaml:N: ...`` problem names."""
    where = problem.split(":", 2)
    assert where[0] == "mlrelease.yaml" and where[1].isdigit(), problem
    return lines[int(where[1]) - 1].strip()


def only(problems: list[str], needle: str) -> str:
    found = [p for p in problems if needle in p]
    assert len(found) == 1, problems
    return found[0]


@pytest.mark.parametrize(
    ("gates", "key"),
    [
        ({"treshold": {"f1": {"min": 0.9}}}, "treshold"),
        ({"approvalz": 2}, "approvalz"),
        ({"no_regresion": {"f1": None}}, "no_regresion"),
    ],
)
def test_a_misspelt_gate_is_a_lint_problem_at_its_line(
    repo: Path, capsys: pytest.CaptureFixture[str], gates: dict[str, Any], key: str
) -> None:
    lines = with_config(repo, lambda c: c["environments"][2].update(gates=gates))
    code, problems = lint(capsys, repo)
    assert code == 1
    problem = only(problems, f"gates.{key}")
    assert "unknown key" in problem
    assert line_of(lines, problem).startswith(f"{key}:")


def test_a_misspelt_backend_type_is_a_lint_problem(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = with_config(repo, lambda c: c["backends"].update(deploy={"type": "comand", "argv": ["deploy.sh"]}))
    code, problems = lint(capsys, repo)
    assert code == 1
    problem = only(problems, "has type 'comand', which is not installed")
    assert "command" in problem  # the installed types are listed
    assert line_of(lines, problem) in ("deploy:", "type: comand")


def test_a_setting_of_the_wrong_type_is_a_lint_problem(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = with_config(repo, lambda c: c["backends"].update(deploy={"type": "command", "argv": ["deploy.sh"], "timeout": "thirty"}))
    code, problems = lint(capsys, repo)
    assert code == 1
    problem = only(problems, "backends.deploy.timeout")
    assert "must be a number of seconds, not text" in problem
    assert line_of(lines, problem) == "timeout: thirty"


def test_a_literal_secret_in_the_settings_is_a_lint_problem(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hook = {"type": "webhook", "url": "https://deploy.example.com/hook", "secret_env": "HOOK_SECRET", "secret": "hunter2-hunter2"}
    lines = with_config(repo, lambda c: c["backends"].update(hook=hook))
    code, problems = lint(capsys, repo)
    assert code == 1
    problem = only(problems, "backends.hook.secret:")
    assert "unknown setting" in problem
    assert line_of(lines, problem).startswith("secret:")
    assert "hunter2" not in problem


def test_telemetry_settings_are_checked_by_lint(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    telemetry = {"type": "prometheus", "url": "https://prometheus.example.com", "windw": "5m", "timeout": "soon"}
    lines = with_config(repo, lambda c: c["environments"][2].update(telemetry=telemetry))
    code, problems = lint(capsys, repo)
    assert code == 1
    typo = only(problems, "environments.production.telemetry.windw")
    assert "unknown setting" in typo and line_of(lines, typo) == "windw: 5m"
    wrong = only(problems, "environments.production.telemetry.timeout")
    assert "must be a number" in wrong and line_of(lines, wrong) == "timeout: soon"


def test_unknown_keys_under_environments_and_retrain_are_lint_problems(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(c: dict[str, Any]) -> None:
        c["environments"][0]["bakend"] = "record"
        c["retrain"] = {"backend": "record", "polcy": {"max_age_days": 30}, "models": {"fraud-card": {"max_age_dayz": 3}}}

    lines = with_config(repo, change)
    code, problems = lint(capsys, repo)
    assert code == 1
    assert line_of(lines, only(problems, "environments[0].bakend")).startswith("bakend:")
    assert line_of(lines, only(problems, "retrain.polcy")).startswith("polcy:")
    assert line_of(lines, only(problems, "retrain.models.fraud-card.max_age_dayz")).startswith("max_age_dayz:")


def test_lint_needs_neither_secrets_nor_the_network(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def change(c: dict[str, Any]) -> None:
        c["backends"].update(
            hook={"type": "webhook", "url": "https://deploy.invalid/hook", "secret_env": "HOOK_SECRET", "token_env": "HOOK_TOKEN"},
            mlflow={"type": "mlflow", "tracking_uri": "https://mlflow.invalid", "token_env": "MLFLOW_TOKEN"},
            gitops={"type": "gitops-file", "repo": "https://git.invalid/deploy.git", "file": "values.yaml", "key": "image"},
        )
        c["environments"][2]["telemetry"] = {"type": "http-json", "url": "https://monitoring.invalid/{model}", "token_env": "T"}

    with_config(repo, change)
    code, problems = lint(capsys, repo)
    assert (code, problems) == (0, [])


# ---- third-party plugins: the same hook, and a default without one ------------------------------

PLUGIN = """
from mlrelease.backends.settings import Settings
from mlrelease.errors import Problem

class Argo:
    type_name = "argo"
    def __init__(self, name, settings, context):
        s = Settings(name, "argo", settings)
        self.server = s.text("server", required=True)
        s.done()
        raise AssertionError("check mode must stop the constructor at done()")

def factory(name, settings, context):
    return Argo(name, settings, context)
"""

HOOKED = """
from mlrelease.errors import Problem

def check_settings(name, settings, context):
    return [Problem("mlrelease.yaml", None, f"backends.{name}: the hook says {sorted(settings)}")]

def factory(name, settings, context):
    raise AssertionError("lint must call check_settings, not the factory")
"""

BROKEN = """
def factory(name, settings, context):
    raise KeyError("boom")
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    for module, text in (("argo_plugin", PLUGIN), ("hooked_plugin", HOOKED), ("broken_plugin", BROKEN)):
        (site / f"{module}.py").parent.mkdir(parents=True, exist_ok=True)
        (site / f"{module}.py").write_text(textwrap.dedent(text))
    info = site / "house_test_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: house-test-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[mlrelease.backends]\nargo = argo_plugin:factory\nhooked = hooked_plugin:factory\nbroken = broken_plugin:factory\n"
    )
    monkeypatch.syspath_prepend(str(site))
    for name in ("argo_plugin", "hooked_plugin", "broken_plugin"):
        monkeypatch.delitem(sys.modules, name, raising=False)


@pytest.mark.usefixtures("plugins")
def test_third_party_backends_are_checked_with_or_without_a_hook(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(c: dict[str, Any]) -> None:
        c["backends"].update(
            argo={"type": "argo", "server": "https://argo.example.com", "sever": "typo"},
            hooked={"type": "hooked", "anything": 1},
            broken={"type": "broken"},
        )

    lines = with_config(repo, change)
    code, problems = lint(capsys, repo)
    assert code == 1
    typo = only(problems, "backends.argo.sever")
    assert "unknown setting for a argo backend" in typo and line_of(lines, typo) == "sever: typo"
    assert only(problems, "backends.hooked: the hook says ['anything']") == "mlrelease.yaml: backends.hooked: the hook says ['anything']"
    broken = only(problems, "'broken'")
    assert "failed to check its settings: KeyError" in broken
    assert len(problems) == 3
