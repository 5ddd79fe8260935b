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
  that says why, never a failed release. Every delivery, sent or not, is appended to the
  journal (:mod:`mlrelease.notify.journal`, redacted), which ``mlrelease notify log`` and
  the TUI's Notifications view read.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlrelease.notify.config import NotifyConfig, read
from mlrelease.notify.journal import Delivery, append, clean
from mlrelease.secrets import remember, secret
from mlrelease.urlpolicy import is_loopback

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
    append(root, deliveries)
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
    append(root, (delivery,))
    return delivery


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _failed(message: Message, channel: str, detail: str) -> Delivery:
    return Delivery(message.event, channel, False, clean(detail), _now(), message.model, message.environment, message.action_id)


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
        _quiet()
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


def _quiet() -> None:
    """Apprise's words reach us only through each service's captured logs (read below, redacted).

    Not through the process's handlers (stderr, a user's logging set-up): its logger stops
    propagating and has a handler that drops everything. Its level stays at WARNING, because
    a record below the logger's level is never made and so never captured either (at
    CRITICAL, every failure was recorded as just "failure", without the server's answer).
    """
    import logging  # here, not at the top: a release that notifies nobody need not import it

    log = logging.getLogger("apprise")
    log.setLevel(logging.WARNING)
    log.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())


def _ok(message: Message, channel: str, detail: str) -> Delivery:
    return Delivery(message.event, channel, True, clean(detail), _now(), message.model, message.environment, message.action_id)
