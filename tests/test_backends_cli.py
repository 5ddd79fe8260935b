"""``mlrelease backends``: installed types, configured instances, health checks, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main
from tests.builders import config, three_environments, write
from tests.local_http import free_port, respond, serving

SECRET = "hook-secret-5a8e2f7c91d4"


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """A health endpoint on 127.0.0.1 that answers 200 and records each path asked for."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            respond(self, 200, b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url, seen


@pytest.fixture
def hook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def hook(url: str, **settings: Any) -> dict[str, Any]:
    """The webhook backend against the test server, signing with $HOOK_SECRET."""
    return {"type": "webhook", "url": f"{url}/deploy", "health_url": f"{url}/healthz", "secret_env": "HOOK_SECRET", **settings}


def configure(repo: Path, backends: dict[str, Any], **overrides: Any) -> None:
    """mlrelease.yaml with the record backend and ``backends``; production deploys through "hook"."""
    overrides.setdefault("environments", three_environments(production="hook"))
    write(repo, "mlrelease.yaml", config(backends={"record": {"type": "record"}, **backends}, **overrides))


def run_json(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["backends", "--repo", str(repo), "--json", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out)


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["configured"]}


@pytest.mark.usefixtures("hook_secret")
def test_lists_types_instances_usage_and_healthy_checks(
    repo: Path, server: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = server
    configure(
        repo,
        {
            "hook": hook(url),
            "trainer": {"type": "command", "argv": [sys.executable, "-c", "print('{model}')"], "env_from": ["TRAIN_TOKEN"]},
        },
        retrain={"backend": "trainer"},
    )
    code, data = run_json(repo, capsys)
    assert code == 0
    types = {t["name"]: t for t in data["installed"]}
    assert {"record", "command", "webhook", "gitops-file"} <= set(types)
    assert types["webhook"]["module"] == "mlrelease.backends.webhook:factory"
    assert types["webhook"]["package"].startswith("mlrelease ")
    got = by_name(data)
    assert got["record"]["used_by"] == ["dev", "staging"]
    assert got["hook"]["used_by"] == ["production"] and got["trainer"]["used_by"] == ["retrain"]
    assert got["hook"]["settings"]["secret_env"] == {"variable": "HOOK_SECRET", "set": True}
    assert got["trainer"]["settings"]["env_from"] == [{"variable": "TRAIN_TOKEN", "set": False}]
    assert {c["state"] for c in data["configured"]} == {"ok"}
    assert "HTTP 200" in got["hook"]["message"]
    assert seen == ["/healthz"]


@pytest.mark.usefixtures("hook_secret")
def test_human_output_shows_fail_and_never_the_secret(
    repo: Path, server: tuple[str, list[str]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    configure(repo, {"hook": hook(server[0], health_url=f"http://127.0.0.1:{free_port()}/healthz", timeout=2)})
    code = main(["backends", "--repo", str(repo)])
    out = capsys.readouterr().out
    assert code == 5
    assert "Installed backend types" in out and "Configured backends" in out
    assert "FAIL" in out and "cannot connect" in out
    assert "$HOOK_SECRET (set)" in out
    assert SECRET not in out


def test_config_errors_are_lines_and_exit_1(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    configure(
        repo,
        {
            "hook": {"type": "webhook", "url": "https://deploy.example.com/hook", "secret_env": "HOOK_SECRET"},
            "typo": {"type": "command", "argv": ["deploy", "{modle}"]},
            "alien": {"type": "kubernetes-operator"},
        },
        environments=[{"name": "dev", "backend": "record"}, {"name": "production", "requires": ["dev"], "backend": "nope"}],
    )
    code, data = run_json(repo, capsys)
    assert code == 1
    got = by_name(data)
    assert got["hook"]["state"] == "config-error"
    assert "backends.hook.secret_env: environment variable HOOK_SECRET is not set" in got["hook"]["message"]
    assert got["hook"]["settings"]["secret_env"] == {"variable": "HOOK_SECRET", "set": False}
    assert "backends.typo.argv[1]: unknown placeholder {modle}" in got["typo"]["message"]
    assert got["alien"]["installed"] is False and "is not installed" in got["alien"]["message"]
    assert got["record"]["state"] == "ok"
    assert data["problems"] == ["mlrelease.yaml: environment 'production' uses backend 'nope', which is not configured"]


@pytest.mark.usefixtures("hook_secret")
def test_no_health_contacts_nothing(repo: Path, server: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    url, seen = server
    configure(repo, {"hook": hook(url)})
    code, data = run_json(repo, capsys, "--no-health")
    assert code == 0
    assert {c["state"] for c in data["configured"]} == {"unchecked"}
    assert seen == []


@pytest.mark.timeout(60)
def test_a_hanging_health_check_is_bounded(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure(
        repo,
        {
            "hook": {"type": "record"},
            "slow": {
                "type": "command",
                "argv": ["true"],
                "health_argv": [sys.executable, "-c", "import time; time.sleep(30)"],
                "timeout": 2,
            },
        },
    )
    code, data = run_json(repo, capsys, "--timeout", "0.5")
    assert code == 5
    got = by_name(data)
    assert got["slow"]["state"] == "fail" and got["slow"]["message"] == "no answer within 0.5 s"
    assert got["record"]["state"] == "ok"


def test_listing_imports_no_backend_it_does_not_use(repo: Path) -> None:
    code = (
        "import sys\n"
        "from mlrelease.cli import main\n"
        f"rc = main(['backends', '--repo', {str(repo)!r}, '--json'])\n"
        "loaded = [m for m in ('mlrelease.backends.webhook', 'mlrelease.backends.command', 'mlrelease.backends.gitops_file', 'httpx', 'textual') if m in sys.modules]\n"
        "assert rc == 0 and not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), check=False)
    assert proc.returncode == 0, proc.stderr
    assert '"webhook"' in proc.stdout  # listed from entry-point metadata all the same
