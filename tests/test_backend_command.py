"""The ``command`` backend with real subprocesses: literal arguments, bounded output and time."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

import mlrelease.cli.output
from mlrelease.backends import create
from mlrelease.backends.base import Action, BackendContext
from mlrelease.backends.command import CommandBackend
from mlrelease.cli import main
from mlrelease.errors import BackendConfigError
from mlrelease.registry.types import PluginConfig
from tests.builders import commit_all, config, git, three_environments, write
from tests.release_helpers import state_at

PY = sys.executable

# Prints its arguments, cwd and environment as one JSON line, counts its runs, and exits
# with the code in EXIT_CODE (default 0).
ECHO = """
import json, os, sys
count = os.path.join(os.environ.get("COUNT_DIR", "."), "runs")
with open(count, "a") as fh:
    fh.write("x")
print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}), flush=True)
print("MLRELEASE_REF=" + os.environ.get("REF", "ref-1"), flush=True)
print("last words", file=sys.stderr)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""

HOSTILE = [
    "x; rm -rf / #",
    "$(touch pwned)",
    "`touch pwned2`",
    "two words",
    "line1\nline2",
    "-rf",
    "--help",
    "'\"\\",
    "{model}",
    "| cat /etc/passwd > leaked &&",
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "echo.py").write_text(ECHO)
    return root


def action(**kw: object) -> Action:
    base: dict[str, object] = {
        "kind": "promote",
        "model": "fraud-card",
        "version": "1.2.0",
        "environment": "production",
        "promotion_id": "p-0001",
        "actor": "Alice <alice@example.com>",
        "reason": "better recall",
        "previous": "1.1.0",
        "canary_weight": 10.0,
        "image": "registry.example.com/fraud-card:1.2.0",
        "artifact": "s3://ml-models/fraud-card/1.2.0/",
    }
    base.update(kw)
    return Action(**base)  # type: ignore[arg-type]


def backend(root: Path, environ: dict[str, str] | None = None, **settings: object) -> CommandBackend:
    # COUNT_DIR is a literal setting: values passed with env_from are secrets, redacted from logs.
    if "argv" in settings:
        settings["env"] = {"COUNT_DIR": str(root), **settings.get("env", {})}  # type: ignore[dict-item]
    plugin = PluginConfig(name="deploy", type="command", settings=settings)
    env = {"PATH": os.environ["PATH"]} if environ is None else environ
    b = create(plugin, BackendContext(registry_root=root, environ=env))
    assert isinstance(b, CommandBackend)
    return b


def echoed(log: str) -> dict[str, object]:
    return json.loads(next(line for line in log.splitlines() if line.startswith("{")))


def test_hostile_values_arrive_as_single_literal_arguments(root: Path) -> None:
    b = backend(root, argv=[PY, "echo.py", "--reason", "{reason}", "--model={model}", "{version}"])
    for i, reason in enumerate(HOSTILE):
        out = b.execute(action(reason=reason, promotion_id=f"p-hostile-{i}"))
        assert out.ok, out.message
        assert echoed(out.log)["argv"] == [
            "--reason",
            reason,
            "--model=fraud-card",
            "1.2.0",
        ]
    assert not (root / "pwned").exists() and not (root / "pwned2").exists()


def test_newline_value_is_one_argument(root: Path) -> None:
    # The log escapes control characters, so read what the child saw from a file instead.
    script = root / "save.py"
    script.write_text("import json, sys\nopen('argv.json', 'w').write(json.dumps(sys.argv[1:]))\n")
    b = backend(root, argv=[PY, "save.py", "{reason}", "{previous}"])
    out = b.execute(action(reason="a\nb; $(x)", previous=None))
    assert out.ok, out.message
    assert json.loads((root / "argv.json").read_text()) == ["a\nb; $(x)", ""]


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["deploy", "{modle}"], "backends.deploy.argv[1]: unknown placeholder {modle}"),
        (["deploy", "{model.__class__}"], "unknown placeholder {model.__class__}"),
        (["deploy", "{model:>10}"], "unknown placeholder {model:>10}"),
        (["deploy", "{model!r}"], "unknown placeholder {model!r}"),
        (["deploy", "{}"], "unknown placeholder {}"),
        (["deploy", "{model"], "backends.deploy.argv[1]: '{model'"),
    ],
)
def test_bad_templates_are_config_errors(root: Path, argv: list[str], problem: str) -> None:
    with pytest.raises(BackendConfigError) as exc:
        backend(root, argv=argv)
    assert str(exc.value).startswith("mlrelease.yaml: backends.deploy.argv[1]: ")
    assert problem in str(exc.value)


def test_literal_braces_and_all_placeholders(root: Path) -> None:
    b = backend(
        root,
        argv=[
            PY,
            "echo.py",
            "{{literal}}",
            "{action}",
            "{env}",
            "{previous}",
            "{canary_weight}",
            "{image}",
            "{artifact}",
            "{promotion_id}",
        ],
        env_from=["COUNT_DIR"],
    )
    out = b.execute(action(promotion_id="p-all"))
    assert echoed(out.log)["argv"] == [
        "{literal}",
        "promote",
        "production",
        "1.1.0",
        "10",
        "registry.example.com/fraud-card:1.2.0",
        "s3://ml-models/fraud-card/1.2.0/",
        "p-all",
    ]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"argv": ["x"], "timout": 5}, "backends.deploy.timout: unknown setting for a command backend"),
        ({"argv": ["x"], "timeout": "10"}, "backends.deploy.timeout: must be a number of seconds, not text"),
        ({"argv": ["x"], "timeout": -1}, "backends.deploy.timeout: must be more than 0"),
        ({"argv": "deploy.sh {model}"}, "backends.deploy.argv: must be a list, not text"),
        ({}, "backends.deploy.argv: is required for a command backend"),
        ({"argv": ["x"], "cwd": "../elsewhere"}, "backends.deploy.cwd: '../elsewhere' leads outside the registry folder"),
        ({"argv": ["x"], "cwd": "/tmp"}, "backends.deploy.cwd: must be a path relative to the registry folder"),
        ({"argv": ["x"], "env": {"A": ["list"]}}, "backends.deploy.env.A: must be text, not a list"),
        ({"argv": ["x"], "env_from": ["OK", "NOT-OK"]}, "backends.deploy.env_from[1]: must be the name of an environment variable"),
        ({"argv": ["x"], "health_argv": ["check", "{model}"]}, "backends.deploy.health_argv[1]: takes no placeholders"),
    ],
)
def test_bad_settings_name_the_key(root: Path, settings: dict[str, object], problem: str) -> None:
    with pytest.raises(BackendConfigError) as exc:
        backend(root, **settings)
    assert str(exc.value).startswith("mlrelease.yaml: ")
    assert problem in str(exc.value)


def test_cwd_is_relative_to_the_registry(root: Path) -> None:
    (root / "deploy").mkdir()
    b = backend(root, argv=[PY, "../echo.py"], cwd="deploy")
    out = b.execute(action(promotion_id="p-cwd"))
    assert out.ok, out.message
    assert echoed(out.log)["cwd"] == str((root / "deploy").resolve())


def test_minimal_environment_env_from_and_redaction(root: Path) -> None:
    environ = {
        "PATH": os.environ["PATH"],
        "DEPLOY_TOKEN": "tok-3f9a8c7e-secret",
        "UNRELATED_CREDENTIAL": "must-not-leak",
    }
    b = backend(root, environ, argv=[PY, "echo.py"], env_from=["DEPLOY_TOKEN", "NOT_SET"], env={"TARGET": "eu-west"})
    out = b.execute(action(promotion_id="p-env"))
    assert out.ok, out.message
    env = echoed(out.log)["env"]
    assert isinstance(env, dict)
    assert "UNRELATED_CREDENTIAL" not in env and "NOT_SET" not in env
    assert env["DEPLOY_TOKEN"] == "***"  # the child got it; the log shows it redacted
    assert env["TARGET"] == "eu-west"
    assert env["MLRELEASE_MODEL"] == "fraud-card" and env["MLRELEASE_ENVIRONMENT"] == "production"
    assert env["MLRELEASE_PROMOTION_ID"] == "p-env"
    assert "tok-3f9a8c7e-secret" not in out.log + (out.message or "")


def test_failure_message_has_exit_code_and_last_line(root: Path) -> None:
    b = backend(root, {"PATH": os.environ["PATH"]}, argv=[PY, "echo.py"], env={"EXIT_CODE": "7"})
    out = b.execute(action(promotion_id="p-fail"))
    assert not out.ok
    assert out.message is not None and "exited with code 7: last words" in out.message
    assert "\n" not in out.message
    # a failure is not remembered: the same promotion id runs again
    b.execute(action(promotion_id="p-fail"))
    assert (root / "runs").read_text() == "xx"


def test_reference_from_output_and_idempotent_per_promotion_id(root: Path) -> None:
    b = backend(root, argv=[PY, "echo.py"], env={"REF": "deploy-42"})
    first = b.execute(action(promotion_id="p-once"))
    assert first.ok and first.reference == "deploy-42"
    again = backend(root, argv=[PY, "echo.py"], env={"REF": "deploy-42"}).execute(action(promotion_id="p-once"))
    assert again.ok and again.reference == "deploy-42"
    assert again.message is not None and "already done" in again.message
    assert (root / "runs").read_text() == "x"
    status = b.status(action(promotion_id="p-once"))
    assert status is not None and status.ok and status.reference == "deploy-42"


@pytest.mark.timeout(60)
def test_timeout_stops_the_whole_process_group(root: Path) -> None:
    (root / "hang.py").write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open('grandchild.pid', 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n"
    )
    b = backend(root, argv=[PY, "hang.py"], timeout=1)
    out = b.execute(action(promotion_id="p-hang"))
    assert not out.ok
    assert out.message is not None and "timed out after 1 s" in out.message and "process group was stopped" in out.message
    assert "started" in out.log
    pid = int((root / "grandchild.pid").read_text())
    for _ in range(200):  # the grandchild is killed with the group (a zombie until reaped counts as dead)
        if not _alive(pid):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the grandchild outlived the timeout")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_output_is_bounded(root: Path) -> None:
    (root / "loud.py").write_text("import sys\nfor i in range(40000):\n    print('x' * 50)\nprint('MLRELEASE_REF=after-the-flood')\n")
    out = backend(root, argv=[PY, "loud.py"]).execute(action(promotion_id="p-loud"))
    assert out.ok
    assert len(out.log) < 70_000 and "omitted" in out.log
    assert out.reference == "after-the-flood"


def test_missing_program_is_a_failure_not_an_exception(root: Path) -> None:
    out = backend(root, argv=["no-such-program-anywhere", "{model}"]).execute(action(promotion_id="p-missing"))
    assert not out.ok and out.message == "no-such-program-anywhere: command not found"


def test_status_argv_exit_codes(root: Path) -> None:
    (root / "status.py").write_text("import sys\nsys.exit({'p-done': 0, 'p-not': 3}.get(sys.argv[1], 1))\n")
    b = backend(root, argv=[PY, "echo.py"], status_argv=[PY, "status.py", "{promotion_id}"])
    done = b.status(action(promotion_id="p-done"))
    assert done is not None and done.ok
    not_done = b.status(action(promotion_id="p-not"))
    assert not_done is not None and not not_done.ok
    assert b.status(action(promotion_id="p-other")) is None
    assert backend(root, argv=[PY, "echo.py"]).status(action(promotion_id="p-x")) is None


def test_health(root: Path) -> None:
    (root / "health.py").write_text(
        "import sys\nprint('db reachable' if sys.argv[1] == 'ok' else 'db down')\nsys.exit(sys.argv[1] != 'ok')\n"
    )
    good = backend(root, argv=[PY, "echo.py"], health_argv=[PY, "health.py", "ok"]).health()
    assert good.ok and "db reachable" in good.message
    bad = backend(root, argv=[PY, "echo.py"], health_argv=[PY, "health.py", "no"]).health()
    assert not bad.ok and "exited with code 1: db down" in bad.message
    found = backend(root, argv=["python3"]).health()
    assert found.ok and "nothing was run" in found.message
    assert not backend(root, argv=["no-such-program-anywhere"]).health().ok


def test_describe_shows_the_argv(root: Path) -> None:
    text = backend(root, argv=["deploy.sh", "--reason", "{reason}"]).describe(action(reason="it's; fine"))
    assert "deploy.sh --reason" in text and "no shell" in text and "\n" not in text


def test_promote_passes_a_hostile_reason_as_one_argument(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: `mlrelease promote` → release service → command backend → a real process."""
    monkeypatch.setattr(mlrelease.cli.output, "_console", None)
    write(
        repo, "deploy/save.py", "import json, sys\nopen('argv.json', 'w').write(json.dumps(sys.argv[1:]))\nprint('MLRELEASE_REF=run-5')\n"
    )
    cfg = config(
        backends={
            "record": {"type": "record"},
            "rollout": {"type": "command", "argv": [PY, "save.py", "{model}", "--", "{reason}"], "cwd": "deploy"},
        },
        environments=three_environments(staging="rollout"),
    )
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "Deploy staging with a command")
    reason = "$(touch pwned); rm -rf / `id` -rf"
    rc = main(["--repo", str(repo), "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", reason, "--yes"])
    capsys.readouterr()
    assert rc == 0
    assert json.loads((repo / "deploy/argv.json").read_text()) == ["fraud-card", "--", reason]
    assert not (repo / "deploy/pwned").exists() and not (repo / "pwned").exists()
    state = state_at(repo, "staging", "fraud-card")
    assert state.observed is not None and state.observed.phase == "Succeeded" and state.observed.backend_ref == "run-5"
