"""A secret never leaves the process, in any form it can take (issue 9 item 3).

A token read from a file or a Kubernetes secret often ends with a newline. Each test runs
the real ``mlrelease`` executable against real servers on 127.0.0.1 and then looks for
every form of the value — raw, stripped, JSON-escaped, URL-encoded, base64 (as in a
Basic-auth header) — in every place mlrelease writes: stdout (``--json`` too), stderr,
every git object (commits, trees, release files: what a push shares), the release files
in the work tree, and everything under ``.git/mlrelease`` (backend logs, journal, parse
cache).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.builders import commit_all, config, git, write
from tests.telemetry_servers import json_service

EXE = str(Path(sys.executable).with_name("mlrelease"))
TOKEN = "t0k3n/Xq+9z=Lm-7Rf\n"  # as a file or a Kubernetes secret hands it over
HOOK_SECRET = "whk-7d1f0c5e9b2a4e61-test-secret"


def forms(value: str) -> set[str]:
    """Every spelling of ``value`` a message, a log or a header could carry."""
    out: set[str] = set()
    for v in {value, value.strip()}:
        raw = v.encode()
        out |= {v, json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1], repr(v)[1:-1]}
        out |= {quote(v, safe=""), quote(v), quote_plus(v)}
        for b64 in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            out |= {b64, b64.rstrip("=")}
    return {f for f in out if len(f) >= 4}


def places(repo: Path, outputs: list[subprocess.CompletedProcess[str]]) -> dict[str, bytes]:
    """Everything mlrelease wrote, by where it is."""
    found: dict[str, bytes] = {}
    for i, proc in enumerate(outputs):
        found[f"stdout of run {i + 1} ({' '.join(proc.args[3:5])})"] = proc.stdout.encode()
        found[f"stderr of run {i + 1} ({' '.join(proc.args[3:5])})"] = proc.stderr.encode()
    objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True, check=True).stdout
    found["git objects (commits, trees, files)"] = objects
    for path in (repo / "releases").rglob("*.yaml"):
        found[str(path.relative_to(repo))] = path.read_bytes()
    for path in (repo / ".git" / "mlrelease").rglob("*"):
        if path.is_file():
            found[str(path.relative_to(repo))] = path.read_bytes()
    return found


def assert_absent(value: str, found: dict[str, bytes]) -> None:
    leaks = [(where, form) for where, data in found.items() for form in forms(value) if form.encode() in data]
    assert not leaks, f"the secret leaked: {leaks[:6]}"


def run(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "--repo", str(repo), *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120, check=False
    )


def after(repo: Path, env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Reads that show the record (and fill the parse cache from it)."""
    return [run(repo, "history", "--json", env=env), run(repo, "list", env=env)]


def staging_on(repo: Path, backend: dict[str, object]) -> None:
    cfg = config(
        backends={"record": {"type": "record"}, "deploy": backend},
        environments=[
            {"name": "dev", "backend": "record"},
            {"name": "staging", "requires": ["dev"], "backend": "deploy"},
            {"name": "production", "requires": ["staging"], "backend": "record"},
        ],
    )
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "Deploy staging through a backend with a secret")


class _Hook:
    """A deployment hook that echoes the Authorization it got in every spelling, with HTTP 500."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.seen.append({k.lower(): v for k, v in self.headers.items()})
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                echo = {"error": f"token {token} refused", "url": quote(token, safe=""), "b64": base64.b64encode(token.encode()).decode()}
                body = (json.dumps(echo) + "\n" + "\n".join(echo.values()) + "\n").encode()
                self.send_response(500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/deploy"


@pytest.fixture
def hook() -> Iterator[_Hook]:
    h = _Hook()
    thread = threading.Thread(target=h.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield h
    h.server.shutdown()
    h.server.server_close()


PROMOTE = ("promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "better recall", "--yes")


def test_a_webhook_token_with_a_trailing_newline_is_refused_before_sending_and_never_shown(repo: Path, hook: _Hook) -> None:
    staging_on(repo, {"type": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET", "token_env": "HOOK_TOKEN", "retries": 1})
    before = git(repo, "rev-parse", "main").strip()
    env = {"HOOK_SECRET": HOOK_SECRET, "HOOK_TOKEN": TOKEN}
    outputs = [run(repo, *PROMOTE, env=env), run(repo, *PROMOTE, "--json", env=env)]
    assert_absent(TOKEN, places(repo, outputs + after(repo, env)))
    for proc in outputs:
        assert proc.returncode == 1, proc.stderr
        text = proc.stdout + proc.stderr
        assert "HOOK_TOKEN" in text and "control character" in text, text
    assert hook.seen == []  # refused before anything was sent
    assert git(repo, "rev-parse", "main").strip() == before  # and nothing was recorded


def test_a_webhook_reply_echoing_the_token_in_any_spelling_is_redacted_everywhere(repo: Path, hook: _Hook) -> None:
    clean = TOKEN.strip()
    staging_on(repo, {"type": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET", "token_env": "HOOK_TOKEN", "retries": 0})
    env = {"HOOK_SECRET": HOOK_SECRET, "HOOK_TOKEN": clean}
    outputs = [run(repo, *PROMOTE, "--json", env=env)]
    assert outputs[0].returncode == 5, outputs[0].stderr
    assert hook.seen and hook.seen[0]["authorization"] == f"Bearer {clean}"
    assert "Failed" in git(repo, "show", "main:releases/staging/fraud-card.yaml")
    assert_absent(clean, places(repo, outputs + after(repo, env)))


DEPLOY = """
import base64, json, os, sys, urllib.parse
t = os.environ["DEPLOY_TOKEN"]
print("using token " + t.strip() + " for the rollout")
print(json.dumps({"token": t}))
print("https://deploy.example.com/?token=" + urllib.parse.quote(t, safe=""))
print("Authorization: Basic " + base64.b64encode(t.encode()).decode())
print("MLRELEASE_REF=run-" + t.strip())
sys.exit("denied for " + t.strip() + "!")
"""


def test_a_command_env_from_value_with_a_trailing_newline_is_redacted_everywhere(repo: Path) -> None:
    write(repo, "deploy/deploy.py", DEPLOY)
    staging_on(repo, {"type": "command", "argv": [sys.executable, "deploy.py"], "cwd": "deploy", "env_from": ["DEPLOY_TOKEN"]})
    env = {"DEPLOY_TOKEN": TOKEN}
    outputs = [run(repo, *PROMOTE, "--json", env=env), run(repo, *PROMOTE, env=env)]
    assert outputs[0].returncode == 5, outputs[0].stderr
    state = git(repo, "show", "main:releases/staging/fraud-card.yaml")
    assert "Failed" in state and "denied for" in state  # the message is recorded, the value is not
    logs = list((repo / ".git" / "mlrelease" / "logs").glob("*.log"))
    assert logs and "using token" in logs[0].read_text()
    assert_absent(TOKEN, places(repo, outputs + after(repo, env)))


def test_an_http_json_token_with_a_trailing_newline_is_refused_before_sending_and_never_shown(repo: Path) -> None:
    with json_service() as svc:
        svc.set_json("/production/fraud-card", [{"at": "2026-03-02T10:00:00Z", "version": "1.0.0", "calls": 100, "errors": 1}])
        environments = [
            {"name": "dev", "backend": "record"},
            {"name": "staging", "requires": ["dev"], "backend": "record"},
            {
                "name": "production",
                "requires": ["staging"],
                "backend": "record",
                "telemetry": {"type": "http-json", "url": svc.url + "/{env}/{model}", "token_env": "MONITOR_TOKEN", "timeout": 5},
            },
        ]
        write(repo, "mlrelease.yaml", config(environments=environments))
        commit_all(repo, "Telemetry from a monitoring service")
        env = {"MONITOR_TOKEN": TOKEN}
        outputs = [run(repo, "check", "--json", env=env), run(repo, "telemetry", "fraud-card", env=env)]
    assert_absent(TOKEN, places(repo, outputs + after(repo, env)))
    assert svc.requests == []  # refused before anything was sent
    text = "".join(p.stdout + p.stderr for p in outputs)
    assert "MONITOR_TOKEN" in text and "control character" in text, text


# ---- the one redaction, in process ---------------------------------------------------------------


def test_redact_knows_every_form_of_a_secret() -> None:
    from mlrelease.secrets import redact, secret

    value = "r3d/act+me=Now-42\n"
    assert secret("ZZ_REDACT_TOKEN", what="a test", environ={"ZZ_REDACT_TOKEN": value}) == value
    for form in forms(value):
        assert redact(f"before {form} after") == "before *** after", form


def test_basic_auth_headers_and_leak_checks() -> None:
    from mlrelease.secrets import basic_auth, header_problem, leaked, redact

    header = basic_auth("deployer", "pa55-word-77", "ZZ_PASSWORD")
    assert header == "Basic " + base64.b64encode(b"deployer:pa55-word-77").decode()
    assert redact(header) == "Basic ***" and redact("pa55-word-77") == "***"
    assert leaked(f"reason: {quote('pa55-word-77')}") == "ZZ_PASSWORD" and leaked("nothing here") is None
    assert header_problem("tok-ok\tstill-ok") is None
    assert "at the end (a trailing newline?)" in (header_problem("tok-abc\n") or "")
    assert "at position 4" in (header_problem("tok\x1b[31m") or "")
    assert "tok" not in (header_problem("tok-abc\r\n") or "")


def test_a_reason_carrying_the_secret_is_refused_with_nothing_written(repo: Path, hook: _Hook) -> None:
    clean = TOKEN.strip()
    staging_on(repo, {"type": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET", "token_env": "HOOK_TOKEN", "retries": 0})
    before = git(repo, "rev-parse", "main").strip()
    env = {"HOOK_SECRET": HOOK_SECRET, "HOOK_TOKEN": clean}
    proc = run(repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", f"rotated to {clean}", "--yes", env=env)
    assert proc.returncode == 1 and "would record the value of the secret in HOOK_TOKEN; nothing was written" in proc.stderr
    assert git(repo, "rev-parse", "main").strip() == before and hook.seen == []
    assert_absent(clean, places(repo, [proc]))
