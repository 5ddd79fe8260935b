"""Notifications (issue 14.3): real receivers on 127.0.0.1, releases that land whatever they do.

An SMTP server (aiosmtpd) receives the e-mail, a loopback HTTP server the JSON webhook;
a channel that is down, hangs or is misconfigured is recorded and shown, and the release
still lands with its normal exit code.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from mlrelease.notify import send
from mlrelease.notify.config import read
from mlrelease.registry import yamlsafe
from mlrelease.secrets import forms, redact
from tests.builders import commit_all, config, git, write
from tests.cli_helpers import cli
from tests.local_http import free_port, respond, serving
from tests.release_helpers import state_at
from tests.rollout_helpers import World, world

TOKEN = "tok-5f3a9c81d2e4"  # the webhook's secret header value: never printed, recorded or committed


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=email_policy)))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    box = Mailbox()
    port = free_port()  # aiosmtpd's readiness probe connects to the configured port, so 0 cannot be used
    controller = Controller(box, hostname="127.0.0.1", port=port, server_hostname="smtp.test")  # no FQDN lookup
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


class Hook:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.status = 200


@pytest.fixture
def webhook() -> Iterator[tuple[int, Hook]]:
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.requests.append((self.path, dict(self.headers), json.loads(body)))
            respond(self, hook.status, b"")

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield int(url.rsplit(":", 1)[1]), hook


@pytest.fixture
def silent() -> Iterator[int]:
    """A server that accepts connections and never answers (a stalled receiver)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for c in held:
            c.close()
        listener.close()


def configure(root: Path, notify: dict[str, Any], **overrides: Any) -> None:
    write(root, "mlrelease.yaml", config(notify=notify, **overrides))
    commit_all(root, "Configure notifications")


def promote(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    rc, out, err = cli(
        capsys, root, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "nightly eval passed", "--yes", "--json", *extra
    )
    return rc, json.loads(out), err


def everything_written(root: Path) -> str:
    """Every object in the repository and every file under .git/mlrelease, as text."""
    objects = git(root, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)").split()
    texts = [git(root, "cat-file", "-p", o) for o in objects]
    private = root / ".git" / "mlrelease"
    texts += (
        [p.read_text(errors="replace") for p in private.rglob("*") if p.is_file() and p.suffix != ".sqlite"] if private.exists() else []
    )
    return "\n".join(texts)


# ---- real receivers --------------------------------------------------------------------------


def test_a_promotion_is_mailed_through_a_real_smtp_server(
    capsys: pytest.CaptureFixture[str], repo: Path, smtp: tuple[int, Mailbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, box = smtp
    monkeypatch.setenv("MAIL_URL", f"mailto://127.0.0.1:{port}?from=mlrelease@example.com&to=ml-team@example.com")
    configure(repo, {"channels": {"team-mail": {"url_env": "MAIL_URL"}}, "events": {"promoted": ["team-mail"]}})
    rc, data, _ = promote(capsys, repo)
    assert rc == 0
    assert box.arrived.wait(10)
    sender, recipients, mail = box.messages[0]
    assert sender == "mlrelease@example.com" and recipients == ["ml-team@example.com"]
    assert "fraud-card 1.2.0 is live in staging" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain", "html")).get_content()
    assert "nightly eval passed" in text and "Test Author" in text and "before: 1.1.0" in text
    assert [d["ok"] for d in data["result"]["notifications"]] == [True]
    assert state_at(repo, "staging", "fraud-card").live.version == "1.2.0"


def test_the_addresses_of_a_mail_url_are_not_secrets_afterwards(
    capsys: pytest.CaptureFixture[str], repo: Path, smtp: tuple[int, Mailbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a mail notification, the same process (the TUI makes many actions) can still write the
    addresses the URL named: only credentials are remembered as secrets, never from=/to= addresses."""
    port, box = smtp
    url = f"mailto://127.0.0.1:{port}?from=owners@example.com&to=ml-risk@example.com&name=Release%20bot2026"
    monkeypatch.setenv("MAIL_URL", url)
    configure(repo, {"channels": {"mail": {"url_env": "MAIL_URL"}}, "events": {"promoted": ["mail"]}})
    rc, data, _ = promote(capsys, repo)
    assert rc == 0 and box.arrived.wait(10) and data["result"]["notifications"][0]["ok"]
    assert (
        redact("owners@example.com, ml-risk@example.com via mail.example.com")
        == "owners@example.com, ml-risk@example.com via mail.example.com"
    )
    send._remember("OTHER_MAIL", "mailtos://bot:s3cret-pw@smtp.example.com:587?smtp=mail.example.com&to=a@example.com&pass=hunter2x")
    assert redact("login s3cret-pw hunter2x mail.example.com a@example.com") == "login *** *** mail.example.com a@example.com"
    rc, _, err = cli(capsys, repo, "model", "fraud-card", "--owner", "ml-risk@example.com")
    assert rc == 0, err
    assert "owner: ml-risk@example.com" in (repo / "models/fraud-card/model.yaml").read_text()


def test_a_json_webhook_receives_the_event_and_its_token_never_leaves_the_process(
    capsys: pytest.CaptureFixture[str], repo: Path, webhook: tuple[int, Hook], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, hook = webhook
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/hooks/releases?+X-Token={TOKEN}")
    configure(repo, {"channels": {"ops": {"url_env": "HOOK_URL"}}, "events": {"promoted": ["ops"], "break_glass": ["ops"]}})
    rc, data, err = promote(capsys, repo)
    assert rc == 0
    (path, headers, body) = hook.requests[0]
    assert path == "/hooks/releases" and headers["X-Token"] == TOKEN
    assert body["type"] == "success" and "fraud-card 1.2.0 is live in staging" in body["title"]
    assert "nightly eval passed" in body["message"]
    assert len(hook.requests) == 1  # no gate was overridden: no break-glass event
    delivered = data["result"]["notifications"]
    assert delivered == [delivered[0]] and delivered[0]["ok"] and delivered[0]["detail"] == "sent to json://127.0.0.1"
    rc, out, _ = cli(capsys, repo, "notify", "log", "--json")
    assert rc == 0 and json.loads(out)["deliveries"][0]["channel"] == "ops"
    shown = json.dumps(data) + err + out + everything_written(repo)
    assert not [f for f in forms(TOKEN) if f in shown]  # nor URL-quoted, JSON-escaped, base64 …


def test_break_glass_and_failure_are_events_of_their_own(
    capsys: pytest.CaptureFixture[str], repo: Path, webhook: tuple[int, Hook], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, hook = webhook
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/h")
    backends = {"record": {"type": "record"}, "broken": {"type": "command", "argv": ["sh", "-c", "echo no capacity; exit 3"]}}
    environments = [
        {"name": "dev", "backend": "record"},
        {"name": "staging", "requires": ["dev"], "backend": "broken", "gates": {"thresholds": {"f1": {"min": 0.99}}}},
        {"name": "production", "requires": ["staging"], "backend": "record"},
    ]
    route = ["ops"]
    configure(
        repo,
        {"channels": {"ops": {"url_env": "HOOK_URL"}}, "events": {"failed": route, "break_glass": route, "promoted": route}},
        backends=backends,
        environments=environments,
    )
    rc, data, _ = promote(capsys, repo, "--force")
    assert rc == 5  # the backend's failure, as without notifications
    events = [(body["type"], body["title"]) for _p, _h, body in hook.requests]
    assert [t for t, _ in events] == ["failure", "warning"]
    assert "failed" in events[0][1] and "break-glass" in events[1][1]
    assert "Gates overridden: threshold:f1" in hook.requests[1][2]["message"]
    assert [d["event"] for d in data["result"]["notifications"]] == ["failed", "break_glass"]


def test_a_refusal_for_want_of_approvals_asks_for_them(
    capsys: pytest.CaptureFixture[str], repo: Path, webhook: tuple[int, Hook], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, hook = webhook
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/h")
    environments = [
        {"name": "dev", "backend": "record"},
        {"name": "staging", "requires": ["dev"], "backend": "record", "gates": {"approvals": 1}},
        {"name": "production", "requires": ["staging"], "backend": "record"},
    ]
    configure(repo, {"channels": {"ops": {"url_env": "HOOK_URL"}}, "events": {"waiting_for_approval": ["ops"]}}, environments=environments)
    rc, _, _ = promote(capsys, repo)
    assert rc == 3
    body = hook.requests[0][2]
    assert "waits for approval in staging" in body["title"]
    assert "mlrelease approve fraud-card@1.2.0 --env staging" in body["message"]


# ---- channels that fail: recorded and shown, never a failed release --------------------------


def test_a_channel_that_is_down_is_recorded_and_the_release_still_lands(
    capsys: pytest.CaptureFixture[str], repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{free_port()}/h")
    configure(repo, {"channels": {"ops": {"url_env": "HOOK_URL"}}, "events": {"promoted": ["ops"]}})
    rc, out, err = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes")
    assert rc == 0
    assert state_at(repo, "staging", "fraud-card").live.version == "1.2.0"
    assert "is live in staging" in out
    assert "notification 'promoted' to channel ops not delivered" in err and "json://127.0.0.1" in err
    rc, out, _ = cli(capsys, repo, "notify", "log", "--failed", "--json")
    entry = json.loads(out)["deliveries"][0]
    assert rc == 0 and entry["event"] == "promoted" and entry["ok"] is False and entry["model"] == "fraud-card"
    rc, out, _ = cli(capsys, repo, "notify", "log", "--failed")
    assert "FAILED" in out and "promoted" in out


def test_a_stalled_channel_costs_at_most_the_timeout(
    capsys: pytest.CaptureFixture[str], repo: Path, silent: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{silent}/h")
    configure(repo, {"timeout": 1, "channels": {"ops": {"url_env": "HOOK_URL"}}, "events": {"promoted": ["ops"]}})
    rc, data, _ = promote(capsys, repo)
    assert rc == 0 and data["result"]["status"] == "done"
    (delivery,) = data["result"]["notifications"]
    assert not delivery["ok"] and "no answer within 1 s" in delivery["detail"]


def test_an_unset_variable_and_a_url_apprise_cannot_read_are_recorded(
    capsys: pytest.CaptureFixture[str], repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAD_URL", "slack://onlyone")
    monkeypatch.delenv("UNSET_URL", raising=False)
    channels = {"a": {"url_env": "UNSET_URL"}, "b": {"url_env": "BAD_URL"}}
    configure(repo, {"channels": channels, "events": {"promoted": ["a", "b"]}})
    rc, data, _ = promote(capsys, repo)
    assert rc == 0
    details = {d["channel"]: d["detail"] for d in data["result"]["notifications"]}
    assert details["a"] == "environment variable UNSET_URL is not set"
    assert "not one Apprise understands (slack://onlyone" not in details["b"]  # the URL's path may be a token
    assert "is not one Apprise understands (slack://" in details["b"]


def test_credentials_in_the_clear_and_tls_checks_off_are_refused_except_to_loopback() -> None:
    assert (
        send.url_problem("json://user:pw@hooks.example.com/x")
        == "would send credentials in the clear to hooks.example.com; use jsons:// (TLS)"
    )
    assert "in the clear" in (send.url_problem("json://hooks.example.com/x?+Authorization=Bearer%20abc") or "")
    assert send.url_problem("jsons://user:pw@hooks.example.com/x") is None
    assert send.url_problem("json://user:pw@127.0.0.1:8080/x") is None
    assert "TLS verification off" in (send.url_problem("jsons://hooks.example.com/x?verify=no") or "")
    assert send.url_problem("no-scheme-here") is not None


def test_a_channels_token_like_parts_are_redacted(capsys: pytest.CaptureFixture[str], repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "slack://T01ABCDEF/B02GHIJKL/xoxb7c2e9f0a1b2c3d4e5f6a7b8/#releases"
    monkeypatch.setenv("SLACK_URL", url)
    configure(repo, {"channels": {"slack": {"url_env": "SLACK_URL"}}, "events": {"promoted": ["slack"]}})
    send._remember("SLACK_URL", url)
    assert "B02GHIJKL" not in redact("posting to B02GHIJKL failed") and "xoxb7c2e9f0a1b2c3d4e5f6a7b8" not in redact(
        "x xoxb7c2e9f0a1b2c3d4e5f6a7b8"
    )
    assert send.where(url) == "slack://…"  # its "host" is a token
    assert send.where("mailtos://bot:pw@smtp.example.com:587") == "mailtos://smtp.example.com"


# ---- notify test CHANNEL ----------------------------------------------------------------------


def test_notify_test_sends_to_one_channel_and_says_why_not(
    capsys: pytest.CaptureFixture[str], repo: Path, webhook: tuple[int, Hook], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, hook = webhook
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/test")
    monkeypatch.setenv("DOWN_URL", f"json://127.0.0.1:{free_port()}/test")
    channels = {"ops": {"url_env": "HOOK_URL"}, "down": {"url_env": "DOWN_URL"}, "unset": {"url_env": "NOT_SET_ANYWHERE"}}
    configure(repo, {"channels": channels, "events": {"promoted": ["ops"]}})
    rc, out, _ = cli(capsys, repo, "notify", "test", "ops")
    assert rc == 0 and "sent to json://127.0.0.1" in out
    assert hook.requests[0][2]["title"] == "mlrelease: test notification" and "Test Author" in hook.requests[0][2]["message"]
    rc, out, err = cli(capsys, repo, "notify", "test", "down", "--json")
    assert rc == 1 and json.loads(out)["delivery"]["ok"] is False and "not delivered" in err
    rc, _, err = cli(capsys, repo, "notify", "test", "unset")
    assert rc == 1 and "environment variable NOT_SET_ANYWHERE is not set" in err
    rc, _, err = cli(capsys, repo, "notify", "test", "nope")
    assert rc == 1 and "no channel 'nope' under notify.channels (configured: down, ops, unset)" in err
    rc, out, _ = cli(capsys, repo, "notify", "channels", "--json")
    data = json.loads(out)
    assert rc == 0 and {c["name"]: c["set"] for c in data["channels"]} == {"ops": True, "down": True, "unset": False}
    assert data["routes"] == [{"event": "promoted", "channels": ["ops"], "environments": None}]


def test_notify_needs_a_subcommand(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli(capsys, repo, "notify")
    assert exc.value.code == 2


# ---- lint checks the section ---------------------------------------------------------------------


BAD_SECTION = """\
notify:
  timeout: -1
  colour: blue
  channels:
    ops:
      url_env: not a variable
      url: slack://x/y/z
    mail: just-text
  events:
    promotd: [ops]
    failed: [ops, pager]
    promoted: {channels: [ops], environments: [prod]}
    rolled_back: {channel: [ops]}
"""


def test_lint_names_every_problem_of_the_notify_section_with_its_line(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    text = (repo / "mlrelease.yaml").read_text() + BAD_SECTION
    (repo / "mlrelease.yaml").write_text(text)
    commit_all(repo, "bad notify")
    first = len(text.splitlines()) - len(BAD_SECTION.splitlines()) + 1  # the line of "notify:"
    rc, out, _ = cli(capsys, repo, "lint", "--json")
    assert rc == 1
    found = {(p["line"] - first, p["message"]) for p in json.loads(out)["problems"]}
    assert (1, "notify.timeout: must be more than 0 and at most 300, not -1") in found
    assert (2, "notify.colour: unknown setting for a notify section") in found
    assert (
        5,
        "notify.channels.ops.url_env: must be the name of an environment variable (letters, digits, _), not 'not a variable'",
    ) in found
    assert (6, "notify.channels.ops.url: unknown setting for a notification channel") in found
    assert (7, "notify.channels.mail: must be a mapping (e.g. {url_env: MLRELEASE_SLACK_URL})") in found
    assert any(line == 9 and "notify.events.promotd: is not an event; events are promoted, rolled_back" in m for line, m in found)
    assert any(line == 10 and "names channel 'pager', which is not under notify.channels" in m for line, m in found)
    assert any(line == 11 and "names environment 'prod', which is not configured" in m for line, m in found)
    assert (12, "notify.events.rolled_back.channels: is required for a notify event route") in found
    assert (12, "notify.events.rolled_back.channel: unknown setting for a notify event route") in found


def test_a_broken_notify_section_never_stops_a_release(
    capsys: pytest.CaptureFixture[str], repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", "json://127.0.0.1:9/h")
    configure(repo, {"channels": {"ops": {"url_env": "HOOK_URL", "colour": "red"}}, "events": {"promoted": ["ops"]}})
    rc, data, _ = promote(capsys, repo)
    assert rc == 0 and data["result"]["status"] == "done"
    (delivery,) = data["result"]["notifications"]
    assert not delivery["ok"] and "notify section has problems" in delivery["detail"] and "mlrelease lint" in delivery["detail"]


def test_the_section_reads_both_route_forms() -> None:
    section = yamlsafe.load(
        "channels: {a: {url_env: A}, b: {url_env: B}}\nevents:\n  promoted: [a]\n  failed: {channels: [a, b], environments: [production]}\n",
        "mlrelease.yaml",
    )
    cfg, problems = read(section, ("dev", "production"))
    assert problems == []
    assert cfg.channels_for("promoted", "dev") == ("a",)
    assert cfg.channels_for("failed", "production") == ("a", "b") and cfg.channels_for("failed", "dev") == ()
    assert cfg.channels_for("rolled_back", "production") == ()


def test_a_rollback_is_announced_as_one(
    capsys: pytest.CaptureFixture[str], repo: Path, webhook: tuple[int, Hook], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, hook = webhook
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/h")
    configure(
        repo, {"channels": {"ops": {"url_env": "HOOK_URL"}}, "events": {"rolled_back": {"channels": ["ops"], "environments": ["staging"]}}}
    )
    assert promote(capsys, repo)[0] == 0
    assert hook.requests == []  # promoted is routed nowhere
    rc, _, _ = cli(capsys, repo, "rollback", "fraud-card", "--env", "staging", "--reason", "f1 fell", "--yes")
    assert rc == 0
    body = hook.requests[0][2]
    assert body["type"] == "warning" and "fraud-card rolled back to 1.1.0 in staging" in body["title"] and "f1 fell" in body["message"]


def test_the_format_docs_notify_section_reads_clean() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "format.md").read_text()
    block = doc[doc.index("# file: mlrelease.yaml") :]
    block = block[: block.index("```")]
    data = yamlsafe.load(block, "mlrelease.yaml")
    names = tuple(e["name"] for e in data["environments"])
    cfg, problems = read(data["notify"], names)
    assert problems == [] and set(cfg.routes) == {"promoted", "rolled_back", "failed", "break_glass", "waiting_for_approval"}


# ---- rollouts announce their steps and their abort ------------------------------------------------


def _rollout_world(tmp_path: Path, *, bad: bool) -> World:
    w = world(tmp_path)
    cfg = yamlsafe.load((w.root / "mlrelease.yaml").read_text(), "mlrelease.yaml")
    route = {"channels": ["ops"], "environments": ["production"]}
    events = {"rollout_advanced": route, "rollout_aborted": route, "promoted": route, "rolled_back": route}
    cfg = {**cfg, "notify": {"channels": {"ops": {"url_env": "HOOK_URL"}}, "events": events}}
    write(w.root, "mlrelease.yaml", cfg)
    commit_all(w.root, "Notify rollouts")
    now = datetime.now(UTC).replace(microsecond=0)
    w.clock.now = now - timedelta(hours=2)
    w.start()  # through the service, not the rollout runner: a promotion like any other
    w.traffic(now - timedelta(hours=1), champion=(90_000, 90), challenger=(10_000, 400 if bad else 9), caught=(1800, 2000))
    return w


@pytest.mark.parametrize("bad", [False, True], ids=["advanced", "aborted"])
def test_a_rollout_announces_its_step_or_its_abort(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, webhook: tuple[int, Hook], monkeypatch: pytest.MonkeyPatch, bad: bool
) -> None:
    port, hook = webhook
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/h")
    w = _rollout_world(tmp_path, bad=bad)
    assert [b["title"] for _p, _h, b in hook.requests] == ["fraud-card 1.1.0 is live in production as a 10% canary"]
    rc, out, err = cli(capsys, w.root, "rollout", "fraud-card", "--env", "production", "--yes", "--json")
    assert rc == (9 if bad else 0), err
    later = hook.requests[1:]
    assert len(later) == 1  # one event per outcome: not also promoted / rolled_back
    body = later[0][2]
    if bad:
        assert body["type"] == "warning" and "fraud-card rolled back to 1.0.0 in production" in body["title"]
        assert "aborted" in body["message"] and "error_rate" in body["message"]
    else:
        assert body["type"] == "success" and "fraud-card 1.1.0 is live in production as a 50% canary" in body["title"]
        assert "step 1 of 2 passed" in body["message"]
    events = [d["event"] for a in json.loads(out)["actions"] if a.get("result") for d in a["result"]["notifications"]]
    assert events == ["rollout_aborted" if bad else "rollout_advanced"]


def test_a_registry_outside_git_is_notified_and_its_journal_is_simply_not_kept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, webhook: tuple[int, Hook], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal lives under .git/mlrelease; a registry folder that is not a clone has none, and says so.

    The delivery's own result is the answer (the journal "is worth less than what it
    follows"): before, `notify test` delivered and then failed with "git rev-parse failed:
    not a git repository", and `notify log` did too.
    """
    from tests.builders import make_registry

    root = make_registry(tmp_path / "plain")
    shutil.rmtree(root / ".git")
    port, hook = webhook
    monkeypatch.setenv("HOOK_URL", f"json://127.0.0.1:{port}/test")
    write(root, "mlrelease.yaml", config(notify={"channels": {"ops": {"url_env": "HOOK_URL"}}, "events": {"promoted": ["ops"]}}))
    rc, out, err = cli(capsys, root, "notify", "test", "ops")
    assert (rc, err) == (0, "") and "sent to json://127.0.0.1" in out and len(hook.requests) == 1
    rc, out, err = cli(capsys, root, "notify", "log")
    assert (rc, err) == (0, "") and "no notifications recorded on this clone" in out
