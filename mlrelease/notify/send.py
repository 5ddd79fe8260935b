"""Deliver a release event to its channels through Apprise, and keep the record of each delivery.

Apprise (one library that speaks Slack, Microsoft Teams workflows, e-mail, ntfy, generic
JSON webhooks and a hundred more, from one URL per channel) does the talking; this module
decides what may be sent and records what happened:

- A channel's URL comes from its environment variable through :func:`mlrelease.secrets.secret`,
  and its token-like parts (password, query values, long path segments) are remembered
  too, so :func:`~mlrelease.secrets.redact` scrubs them from every message, log and record.
  A channel is only ever shown as ``name (scheme://host)``.
- Credentials never go over plain http or SMTP except to loopback, and TLS verification
  cannot be turned off (``verify=no``) except for loopback.
- :func:`deliver` never raises and is bounded in time (``notify.timeout`` for all the
  channels of one event together): a notification that fails is a :class:`Delivery`
  that says why, never a failed release. Every delivery, sent or not, is appended to
  ``.git/mlrelease/notifications.jsonl`` (redacted), which ``mlrelease notify log`` reads.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlrelease.notify.config import NotifyConfig, read
from mlrelease.registry.gitio import git_dir, git_toplevel
from mlrelease.secrets import redact, remember, secret
from mlrelease.textsafe import visible
from mlrelease.urlpolicy import is_loopback

JOURNAL = "notifications.jsonl"
KEEP = 1000  # deliveries kept in the journal (the oldest are dropped)
LEVELS = ("info", "success", "warning", "failure")
# Apprise schemes that send in the clear: credentials in them only go to loopback.
PLAIN = {"json", "form", "xml", "ntfy", "mailto", "gotify", "apprise", "matrix", "rocket", "mqtt"}
TOKEN_LENGTH = 8  # a path segment or user name at least this long, with a digit in it, is treated as a token
# Query keys whose values are credentials in Apprise URLs, whatever they look like.
SECRET_KEYS = {
    "token",
    "key",
    "apikey",
    "api_key",
    "secret",
    "password",
    "pass",
    "pw",
    "auth",
    "access_token",
    "sig",
    "signature",
    "webhook",
}
_HOSTNAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}", re.IGNORECASE)


@dataclass(frozen=True)
class Message:
    """One event, as people read it."""

    event: str
    title: str
    body: str
    level: str = "info"  # info | success | warning | failure (Apprise's notify types)
    environment: str | None = None
    model: str | None = None
    action_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    """What happened to one message on one channel."""

    event: str
    channel: str
    ok: bool
    detail: str  # "sent to slack://hooks.slack.com", or why not
    at: datetime
    model: str | None = None
    environment: str | None = None
    action_id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "event": self.event,
            "channel": self.channel,
            "ok": self.ok,
            "detail": self.detail,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "model": self.model,
            "environment": self.environment,
            "action_id": self.action_id,
        }

    def note(self) -> str:
        """A line for the face that ran the action."""
        return f"notification {self.event!r} to channel {self.channel} not delivered: {self.detail} (the release itself is recorded)"


def deliver(root: Path, raw: object, message: Message, *, environ: Mapping[str, str] | None = None) -> tuple[Delivery, ...]:
    """Send ``message`` to every channel its event is routed to; never raises."""
    try:
        config, problems = read(raw)
        names = config.channels_for(message.event, message.environment)
        if problems and names:
            detail = f"mlrelease.yaml's notify section has problems ({problems[0]}); run `mlrelease lint`"
            deliveries = tuple(_failed(message, n, detail) for n in names)
        else:
            deliveries = _send(config, names, message, environ)
    except Exception as exc:  # a notification must never fail a release, whatever goes wrong in it
        deliveries = (_failed(message, "?", f"{type(exc).__name__}: {exc}"),)
    _journal(root, deliveries)
    return deliveries


def test(root: Path, raw: object, channel: str, *, actor: str, environ: Mapping[str, str] | None = None) -> Delivery:
    """``mlrelease notify test CHANNEL``: a test message to one channel, whatever the routes say."""
    config, _problems = read(raw)
    message = Message("test", "mlrelease: test notification", f"A test notification from mlrelease, sent by {actor}.")
    if channel not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none"
        delivery = _failed(message, channel, f"no channel {channel!r} under notify.channels (configured: {known})")
    else:
        delivery = _send(config, (channel,), message, environ)[0]
    _journal(root, (delivery,))
    return delivery


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _failed(message: Message, channel: str, detail: str) -> Delivery:
    return Delivery(message.event, channel, False, _clean(detail), _now(), message.model, message.environment, message.action_id)


def _clean(text: str) -> str:
    return visible(redact(text), single_line=True)


def where(url: str) -> str:
    """A channel's URL as it may be shown: scheme and host, nothing that could be a token."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    # Some services keep a token where the host goes (slack://TokenA/…): show only real host names.
    shown = host if "." in host or ":" in host or host == "localhost" else "…"
    return f"{parts.scheme}://{shown}"


def _remember(variable: str, url: str) -> None:
    """The secret parts of a channel URL are secrets too (redact only knows what it was told).

    Only what can be a credential: the password, the values of credential-bearing query keys
    and HTTP headers (``+X-Token=…``), and token-like user names, host parts and path
    segments (long, with a digit, no ``@`` — Slack's and Teams' tokens). Addresses
    (``from=``/``to=`` e-mail, ``smtp=`` hosts) are not: remembering them would mask an
    owner's e-mail everywhere, and refuse every later commit naming it as a leak.
    """
    parts = urllib.parse.urlsplit(url)
    pieces = [parts.password or ""]
    host = parts.hostname if parts.hostname and "." not in parts.hostname else None
    pieces += [name for name in (parts.username, host) if name and _token_like(name)]
    pieces += [s for s in parts.path.split("/") if _token_like(s)]
    pieces += [v for k, v in _query(parts.query) if k.startswith("+") or k.lower() in SECRET_KEYS or _token_like(v)]
    for piece in pieces:
        if piece:
            remember(piece, variable)


def _token_like(text: str) -> bool:
    return len(text) >= TOKEN_LENGTH and any(c.isdigit() for c in text) and "@" not in text and not _HOSTNAME.fullmatch(text)


def _query(query: str) -> list[tuple[str, str]]:
    """Query pairs as Apprise reads them: a leading ``+`` (an HTTP header) is not a space."""
    return urllib.parse.parse_qsl(query.replace("+", "%2B"), keep_blank_values=True)


def url_problem(url: str) -> str | None:
    """Why this channel URL must not be used (credentials in the clear, TLS checks off), or None."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if not parts.scheme:
        return "is not an Apprise URL (it has no scheme, e.g. slack://, mailtos://, jsons://)"
    query = dict(_query(parts.query))
    loopback = is_loopback(host)
    if query.get("verify", "yes").lower() in ("no", "false", "0", "off") and not loopback:
        return f"turns TLS verification off (verify={query['verify']}) for {host}; only loopback may do that"
    holds_credentials = bool(parts.password) or any(k.startswith("+") for k in query)
    if parts.scheme.lower() in PLAIN and holds_credentials and not loopback:
        return f"would send credentials in the clear to {host}; use {parts.scheme}s:// (TLS)"
    return None


def _send(config: NotifyConfig, names: tuple[str, ...], message: Message, environ: Mapping[str, str] | None) -> tuple[Delivery, ...]:
    if not names:
        return ()
    import apprise  # imported when there is something to send: it costs ~0.1 s

    asset = apprise.AppriseAsset(app_id="mlrelease", app_desc="mlrelease release manager", secure_logging=True)
    sender = apprise.Apprise(asset=asset)
    out: list[Delivery] = []
    shown: dict[str, str] = {}
    for name in names:
        channel = config.channels.get(name)
        if channel is None:
            out.append(_failed(message, name, f"no channel {name!r} under notify.channels"))
            continue
        url = secret(channel.url_env, what=f"notify.channels.{name}", required=False, environ=environ)
        if url is None:
            out.append(_failed(message, name, f"environment variable {channel.url_env} is not set"))
            continue
        _remember(channel.url_env, url)
        problem = url_problem(url)
        if problem is not None:
            out.append(_failed(message, name, f"the URL in {channel.url_env} {problem}"))
            continue
        if not sender.add(url, tag=name):
            out.append(_failed(message, name, f"the URL in {channel.url_env} is not one Apprise understands ({where(url)}…)"))
            continue
        shown[name] = where(url)
    if shown:
        level = message.level if message.level in LEVELS else "info"
        logging.getLogger("apprise").setLevel(logging.CRITICAL)  # its words are captured per service below, redacted
        result = sender.notify(
            body=message.body, title=message.title, notify_type=apprise.NotifyType(level), tag=list(shown), timeout=config.timeout
        )
        answered: set[str] = set()
        for service in result.results:
            tagged = next((t for t in service.tag if t in shown), None)
            if tagged is None:
                continue
            name = tagged
            answered.add(name)
            if service.status == apprise.AppriseResultStatus.SUCCESS:
                out.append(_ok(message, name, f"sent to {shown[name]}"))
            else:
                said = [e.message for e in service.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
                why = str(said[-1]) if said else service.status.name.lower()
                if service.status == apprise.AppriseResultStatus.TIMEOUT:
                    why = f"no answer within {config.timeout:g} s (notify.timeout)"
                out.append(_failed(message, name, f"{shown[name]}: {why}"))
        for name in shown:
            if name not in answered:
                out.append(_failed(message, name, f"{shown[name]}: Apprise did not try it ({result.status.name.lower()})"))
    order = {n: i for i, n in enumerate(names)}
    return tuple(sorted(out, key=lambda d: order.get(d.channel, len(order))))


def _ok(message: Message, channel: str, detail: str) -> Delivery:
    return Delivery(message.event, channel, True, _clean(detail), _now(), message.model, message.environment, message.action_id)


# ---- the journal: every delivery, beside the repository (never committed) -------------------


def journal_path(root: Path) -> Path | None:
    """Where this clone's deliveries are kept, or None for a registry folder outside git (none are kept)."""
    top = git_toplevel(root)
    return None if top is None else git_dir(top) / "mlrelease" / JOURNAL


def _journal(root: Path, deliveries: tuple[Delivery, ...]) -> None:
    """Append one line per delivery (one write, O_APPEND: concurrent runs do not mix lines)."""
    if not deliveries:
        return
    path = journal_path(root)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(d.to_json(), ensure_ascii=False) + "\n" for d in deliveries)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(redact(text))
        if path.stat().st_size > KEEP * 400:  # about twice KEEP lines: keep the newest KEEP
            lines = path.read_text(encoding="utf-8").splitlines()[-KEEP:]
            tmp = path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            tmp.replace(path)
    except OSError:
        pass  # the record of a notification is worth less than the release it follows


def recent(root: Path, *, limit: int = 50, failed_only: bool = False) -> list[dict[str, object]]:
    """The newest deliveries first, as recorded (``mlrelease notify log``; the TUI has no view of them yet)."""
    path = journal_path(root)
    if path is None or not path.exists():
        return []
    out: list[dict[str, object]] = []
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and (not failed_only or not entry.get("ok")):
            out.append(entry)
        if len(out) >= limit:
            break
    return out
