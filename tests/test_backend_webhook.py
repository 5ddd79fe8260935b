"""The ``webhook`` backend against a real HTTP server on 127.0.0.1, scripted per test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

import mlrelease.cli.output
from mlrelease.backends import create
from mlrelease.backends.base import Action, BackendContext, OutcomeUnknown
from mlrelease.backends.webhook import WebhookBackend, retry_after
from mlrelease.cli import main
from mlrelease.errors import BackendConfigError
from mlrelease.registry.types import PluginConfig
from tests.builders import commit_all, config, git, three_environments, write
from tests.local_http import respond, self_signed, serving
from tests.release_helpers import state_at

SECRET = "whk-7d1f0c5e9b2a4e61-test-secret"
ENV = {"HOOK_SECRET": SECRET, "HOOK_TOKEN": "tok-91ab27cd-bearer", "SHORT": "abc123"}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "backends.md"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A deployment hook: answers each request with the next planned reply (the last one repeats)."""

    url: str = ""
    plan: list[tuple[int, dict[str, str], bytes] | str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def reply(self, status: int = 200, body: object = b"", **headers: str) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.plan.append((status, {k.replace("_", "-"): v for k, v in headers.items()}, data))

    def hang(self) -> None:
        self.plan.append("hang")

    def next(self) -> tuple[int, dict[str, str], bytes] | str:
        return self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            receiver.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
            planned = receiver.next()
            if planned == "hang":
                receiver.release.wait(30)
                return
            assert not isinstance(planned, str)
            status, headers, data = planned
            respond(self, status, data, headers)

        do_POST = _serve
        do_GET = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    with serving(_handler(rec)) as url:
        rec.url = url
        yield rec
        rec.release.set()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    return root


def action(promotion_id: str = "01JQ7W8Z3K4M5N6P7Q8R9S0T1V", **kw: object) -> Action:
    base: dict[str, object] = {
        "kind": "promote",
        "model": "fraud-card",
        "version": "1.2.0",
        "environment": "production",
        "promotion_id": promotion_id,
        "actor": "Alice <alice@example.com>",
        "reason": "better recall",
        "previous": "1.1.0",
        "image": "registry.example.com/fraud-card:1.2.0",
        "metrics": {"f1": 0.85},
    }
    base.update(kw)
    return Action(**base)  # type: ignore[arg-type]


def hook(root: Path, url: str, environ: dict[str, str] | None = None, **settings: object) -> WebhookBackend:
    settings = {"url": url, "secret_env": "HOOK_SECRET", "backoff": 0.01, **settings}
    b = create(
        PluginConfig(name="deploy-hook", type="webhook", settings=settings), BackendContext(root, ENV if environ is None else environ)
    )
    assert isinstance(b, WebhookBackend)
    return b


def test_signed_payload_with_idempotency_key_and_reference(root: Path, receiver: Receiver) -> None:
    receiver.reply(202, {"reference": "deploy-7", "status": "accepted"})
    out = hook(root, f"{receiver.url}/hooks/ml", token_env="HOOK_TOKEN").execute(action())
    assert out.ok, out.message
    assert out.reference == "deploy-7"
    (req,) = receiver.seen
    assert req.method == "POST" and req.path == "/hooks/ml"
    h = req.headers
    assert h["content-type"] == "application/json"
    assert h["idempotency-key"] == "01JQ7W8Z3K4M5N6P7Q8R9S0T1V"
    assert h["authorization"] == "Bearer tok-91ab27cd-bearer"
    # the receiver's check, as docs/backends.md shows it
    stamp = h["x-mlrelease-timestamp"]
    expected = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(h["x-mlrelease-signature"], expected)
    assert abs(int(stamp) - time.time()) < 300
    # Standard Webhooks: id.timestamp.body
    std = base64.b64encode(
        hmac.new(SECRET.encode(), f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + req.body, hashlib.sha256).digest()
    )
    assert h["webhook-signature"] == f"v1,{std.decode()}"
    payload = json.loads(req.body)
    assert payload["action"] == "promote" and payload["model"] == "fraud-card" and payload["version"] == "1.2.0"
    assert payload["environment"] == "production" and payload["previous"] == "1.1.0"
    assert payload["promotion_id"] == "01JQ7W8Z3K4M5N6P7Q8R9S0T1V" and payload["metrics"] == {"f1": 0.85}
    assert payload["sent_at"].endswith("Z")
    assert SECRET not in req.body.decode()


def test_the_documented_receiver_check_accepts_a_real_request(root: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    snippet = re.search(r"A receiver's check, in Python:\n\n```python\n(.*?)```", DOCS.read_text(), re.S)
    assert snippet is not None
    monkeypatch.setenv("DEPLOY_HOOK_SECRET", SECRET)
    namespace: dict[str, object] = {}
    exec(snippet.group(1), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    receiver.reply(200)
    assert hook(root, receiver.url).execute(action("p-doc")).ok
    req = receiver.seen[0]
    headers = CaseInsensitive(req.headers)
    assert verify(headers, req.body)["promotion_id"] == "p-doc"
    with pytest.raises(ValueError, match="bad signature"):
        verify(headers, req.body.replace(b"p-doc", b"p-dog"))


class CaseInsensitive(dict):  # type: ignore[type-arg]
    """Header lookup as web frameworks do it."""

    def get(self, key: str, default: object = None) -> object:
        return super().get(key.lower(), default)


def test_standard_webhooks_secret_is_base64_key(root: Path, receiver: Receiver) -> None:
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    receiver.reply(200)
    out = hook(root, receiver.url, {"HOOK_SECRET": secret}).execute(action("p-std"))
    assert out.ok
    h, body = receiver.seen[0].headers, receiver.seen[0].body
    mac = hmac.new(key, f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + body, hashlib.sha256).digest()
    assert h["webhook-signature"] == "v1," + base64.b64encode(mac).decode()


def test_retry_on_503_then_success_keeps_the_key(root: Path, receiver: Receiver) -> None:
    receiver.reply(503, b"busy")
    receiver.reply(200, b"not json at all", X_Mlrelease_Reference="hdr-ref-1")
    out = hook(root, receiver.url).execute(action("p-503"))
    assert out.ok, out.message
    assert out.reference == "hdr-ref-1"
    assert out.message is not None and "after 2 attempts" in out.message
    assert [r.headers["idempotency-key"] for r in receiver.seen] == ["p-503", "p-503"]
    assert "attempt 1: HTTP 503 Service Unavailable" in out.log


def test_429_retry_after_is_honoured(root: Path, receiver: Receiver) -> None:
    receiver.reply(429, b"slow down", Retry_After="1")
    receiver.reply(200, {"id": 4711})
    out = hook(root, receiver.url).execute(action("p-429"))
    assert out.ok and out.reference == "4711"
    assert "retrying in 1.00 s (Retry-After 1 s)" in out.log
    first, second = receiver.seen
    assert second.at - first.at >= 0.9  # waited at least what the server asked for


def test_retry_after_longer_than_the_deadline_fails_without_waiting(root: Path, receiver: Receiver) -> None:
    receiver.reply(429, b"", Retry_After="20")
    out = hook(root, receiver.url, deadline=5).execute(action("p-429-long"))
    assert not out.ok
    assert out.message is not None and "HTTP 429 Too Many Requests" in out.message and "would pass the deadline of 5 s" in out.message
    assert len(receiver.seen) == 1


def test_retry_after_forms() -> None:
    now = time.time()
    assert retry_after("3") == 3.0
    assert retry_after("-4") == 0.0
    assert retry_after("soon") is None
    assert retry_after(None) is None
    later = format_datetime(datetime.fromtimestamp(now, UTC) + timedelta(seconds=90), usegmt=True)
    assert 85 <= (retry_after(later, now) or 0) <= 91


@pytest.mark.timeout(30)
def test_hanging_server_times_out_with_a_clear_message(root: Path, receiver: Receiver) -> None:
    """The request reached the receiver and no answer came: it may have acted, so the outcome is unknown."""
    receiver.hang()
    with pytest.raises(OutcomeUnknown) as info:
        hook(root, receiver.url, timeout=0.3, retries=1).execute(action("p-hang"))
    message = str(info.value)
    assert "attempt 2 of 2: no complete answer before the timeout of 0.3 s per attempt ran out" in message
    assert "the receiver may have acted" in message
    assert message.startswith(f"webhook {receiver.url}")


def test_connection_refused_fails_after_bounded_retries(root: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = hook(root, f"http://127.0.0.1:{port}/hook", retries=2).execute(action("p-refused"))
    assert not out.ok
    assert out.message is not None and "cannot connect" in out.message and "after 3 attempts" in out.message
    assert out.log.count("retrying in") == 2


def test_redirect_is_not_followed(root: Path, receiver: Receiver) -> None:
    receiver.reply(302, b"", Location="https://elsewhere.example.net/steal")
    out = hook(root, receiver.url).execute(action("p-302"))
    assert not out.ok
    assert out.message is not None and "redirect to https://elsewhere.example.net/steal not followed" in out.message
    assert len(receiver.seen) == 1


def test_client_errors_are_not_retried(root: Path, receiver: Receiver) -> None:
    receiver.reply(422, b"unknown model fraud-card\nsecond line")
    out = hook(root, receiver.url).execute(action("p-422"))
    assert not out.ok
    assert out.message is not None and out.message.endswith("HTTP 422 Unprocessable Entity: unknown model fraud-card")
    assert len(receiver.seen) == 1


def test_secret_echoed_back_is_redacted_and_escapes_are_visible(root: Path, receiver: Receiver) -> None:
    receiver.reply(500, f"signature mismatch for key {SECRET} \x1b[2J\x1b]0;pwned\x07".encode())
    out = hook(root, receiver.url, retries=1).execute(action("p-500"))
    assert not out.ok
    text = f"{out.message}\n{out.log}"
    assert SECRET not in text and "***" in text
    assert "\x1b" not in text and "\\x1b[2J" in text
    assert out.message is not None and "\n" not in out.message


def test_repeated_execute_sends_once(root: Path, receiver: Receiver) -> None:
    receiver.reply(200, {"reference": "dep-1"})
    first = hook(root, receiver.url).execute(action("p-once"))
    second = hook(root, receiver.url).execute(action("p-once"))
    assert first.ok and second.ok and second.reference == "dep-1"
    assert second.message is not None and "not sent again" in second.message
    assert len(receiver.seen) == 1


def test_status_url_contract(root: Path, receiver: Receiver) -> None:
    b = hook(root, receiver.url, status_url=f"{receiver.url}/promotions/{{promotion_id}}")
    for state, expected in (("succeeded", True), ("failed", False), ("pending", None), ("unknown", None)):
        receiver.plan = [(200, {}, json.dumps({"state": state, "reference": "dep-9", "message": f"it {state}"}).encode())]
        got = b.status(action(f"p-{state}"))
        assert (got.ok if got else None) is expected, state
        if got is not None:
            assert got.message == f"it {state}"
    receiver.plan = [(200, {}, b"<html>oops</html>")]
    assert b.status(action("p-html")) is None
    assert receiver.seen[0].path == "/promotions/p-succeeded" and receiver.seen[0].method == "GET"
    assert receiver.seen[0].headers["x-mlrelease-signature"].startswith("sha256=")
    assert hook(root, receiver.url).status(action("p-nourl")) is None


def test_status_url_without_placeholder_gets_a_query(root: Path, receiver: Receiver) -> None:
    receiver.reply(200, {"state": "succeeded"})
    got = hook(root, receiver.url, status_url=f"{receiver.url}/status?v=1").status(action("p q/1"))
    assert got is not None and got.ok
    assert receiver.seen[0].path == "/status?v=1&promotion_id=p%20q%2F1"


def test_health(root: Path, receiver: Receiver) -> None:
    receiver.reply(200, b"ok")
    assert hook(root, receiver.url, health_url=f"{receiver.url}/healthz").health().ok
    receiver.plan = [(503, {}, b"down")]
    bad = hook(root, receiver.url, health_url=f"{receiver.url}/healthz").health()
    assert not bad.ok and "HTTP 503" in bad.message
    quiet = hook(root, receiver.url).health()
    assert quiet.ok and "nothing was contacted" in quiet.message


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"url": "http://deploy.example.com/hook"}, "backends.deploy-hook.url: plain http:// is allowed only for a loopback host"),
        ({"url": "https://user:pw@deploy.example.com/hook"}, "backends.deploy-hook.url: must not hold credentials"),
        ({"url": "ftp://deploy.example.com/"}, "backends.deploy-hook.url: must be an https:// URL"),
        ({"url": "https://x.example.com", "retries": 99}, "backends.deploy-hook.retries: must be between 0 and 10"),
        ({"url": "https://x.example.com", "verify": False}, "backends.deploy-hook.verify: unknown setting for a webhook backend"),
        (
            {"url": "https://x.example.com", "secret_env": "MISSING_SECRET"},
            "backends.deploy-hook.secret_env: environment variable MISSING_SECRET is not set",
        ),
        (
            {"url": "https://x.example.com", "secret_env": "SHORT"},
            "backends.deploy-hook.secret_env: the secret in SHORT is shorter than 16 characters",
        ),
        (
            {"url": "https://x.example.com", "secret_env": "my secret"},
            "backends.deploy-hook.secret_env: must be the name of an environment variable",
        ),
        (
            {"url": "https://x.example.com", "status_url": "https://x.example.com/{model}"},
            "backends.deploy-hook.status_url: 'https://x.example.com/{model}' has braces",
        ),
        ({"url": "https://x.example.com", "ca_bundle": "nope.pem"}, "backends.deploy-hook.ca_bundle: 'nope.pem' is not a file"),
    ],
)
def test_bad_settings(root: Path, settings: dict[str, object], problem: str) -> None:
    with pytest.raises(BackendConfigError) as exc:
        hook(root, **settings)  # type: ignore[arg-type]
    assert str(exc.value).startswith("mlrelease.yaml: ")
    assert problem in str(exc.value)


def test_http_allowed_for_localhost_names(root: Path) -> None:
    for url in ("http://localhost:9/x", "http://127.0.0.5/x", "http://[::1]:9/x"):
        assert hook(root, url).url == url


def test_describe(root: Path) -> None:
    text = hook(root, "https://deploy.example.com/hooks/ml?token=abc").describe(action("p-d"))
    assert "POST signed JSON (promote fraud-card 1.2.0 → production) to https://deploy.example.com/hooks/ml" in text
    assert "Idempotency-Key p-d" in text and "token=abc" not in text


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An https receiver with a self-signed certificate for 127.0.0.1."""
    cert, key = self_signed(tmp_path)
    rec = Receiver()
    rec.reply(200, {"reference": "tls-ok"})
    with serving(_handler(rec), tls=(cert, key)) as url:
        yield f"{url}/hook", cert


def test_tls_is_verified_and_ca_bundle_trusts_a_private_ca(root: Path, tls_receiver: tuple[str, Path]) -> None:
    url, cert = tls_receiver
    refused = hook(root, url).execute(action("p-tls-1"))
    assert not refused.ok
    assert refused.message is not None and "CERTIFICATE_VERIFY_FAILED" in refused.message
    assert "after" not in refused.message  # a certificate failure is not retried
    trusted = hook(root, url, ca_bundle=str(cert)).execute(action("p-tls-2"))
    assert trusted.ok and trusted.reference == "tls-ok"


def test_ca_bundle_must_be_a_pem_bundle(root: Path) -> None:
    (root / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(BackendConfigError, match=r"backends\.deploy-hook\.ca_bundle: .*junk\.pem: not a usable PEM bundle"):
        hook(root, "https://deploy.example.com/hook", ca_bundle="junk.pem")


# ---- end to end: `mlrelease promote` through the release service -----------------------------


def _promote_with_hook(
    repo: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setattr(mlrelease.cli.output, "_console", None)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    cfg = config(
        backends={
            "record": {"type": "record"},
            "hook": {"type": "webhook", "url": f"{receiver.url}/deploy", "secret_env": "HOOK_SECRET", "retries": 1, "backoff": 0.01},
        },
        environments=three_environments(staging="hook"),
    )
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "Deploy staging through the hook")
    rc = main(["--repo", str(repo), "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "better recall", "--yes"])
    out, err = capsys.readouterr()
    return rc, out + err


def test_promote_records_a_failed_webhook_as_failed_and_never_live(
    repo: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.reply(500, f"deploy broke; key={SECRET}".encode())
    rc, text = _promote_with_hook(repo, receiver, monkeypatch, capsys)
    assert rc == 5
    state = state_at(repo, "staging", "fraud-card")
    assert state.observed is not None and state.observed.phase == "Failed"
    assert state.live is not None and state.live.version == "1.1.0"  # what was live stays live
    assert len(receiver.seen) == 2 and receiver.seen[0].headers["idempotency-key"] == state.observed.promotion_id
    assert SECRET not in text and SECRET not in git(repo, "log", "-p", "main")


def test_promote_records_the_webhook_reference(
    repo: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.reply(202, {"reference": "deploy-77"})
    rc, _ = _promote_with_hook(repo, receiver, monkeypatch, capsys)
    assert rc == 0
    state = state_at(repo, "staging", "fraud-card")
    assert state.observed is not None and state.observed.phase == "Succeeded" and state.observed.backend_ref == "deploy-77"
    assert state.live is not None and state.live.version == "1.2.0"
    assert json.loads(receiver.seen[0].body)["promotion_id"] == state.observed.promotion_id
