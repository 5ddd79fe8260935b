"""``webhook``: POST the action as signed JSON to a deployment hook, with bounded retries.

What a receiver can rely on (docs/backends.md has a verification snippet):

* the body is ``Action.to_json()`` plus ``sent_at``, UTF-8 JSON;
* ``Idempotency-Key`` is the promotion id: the same action is always the same key, on
  every retry and on a repeated call, so a receiver that remembers keys deploys once;
* ``X-Mlrelease-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`` with
  the timestamp in ``X-Mlrelease-Timestamp`` (Unix seconds, fresh on every attempt), and
  the Standard Webhooks headers ``webhook-id`` / ``webhook-timestamp`` /
  ``webhook-signature``; the secret comes from the environment variable named by
  ``secret_env`` and never from the repository.

Transport rules: TLS is always verified (``ca_bundle`` adds a private CA; there is no
switch to turn verification off); plain http is accepted only for a loopback host;
redirects are never followed (a 3xx is a failure naming its Location, so a signed request
cannot be bounced elsewhere); connection errors, timeouts, 5xx and 429 are retried with
full-jitter exponential backoff, honouring ``Retry-After`` (capped at 30 s), bounded by
``retries`` and by the ``deadline`` for all attempts; other 4xx replies are final.
httpx is imported only when a request is made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mlrelease import __version__
from mlrelease.backends.base import Action, BackendContext, Health, Outcome, OutcomeUnknown
from mlrelease.backends.settings import Settings
from mlrelease.backends.support import Journal, bounded_log, one_line
from mlrelease.registry.fields import format_timestamp
from mlrelease.secrets import header_problem, secret
from mlrelease.urlpolicy import is_loopback, tls_context, url_problem

if TYPE_CHECKING:
    import httpx

    from mlrelease.backends.wallclock import Clock

MAX_RETRY_AFTER = 30.0
BACKOFF_CAP = 8.0
BODY_LIMIT = 64 * 1024
HEALTH_TIMEOUT = 10.0
MIN_SECRET = 16  # an HMAC key anyone could guess signs nothing
REFERENCE_HEADER = "X-Mlrelease-Reference"
STATES = {"succeeded": True, "failed": False}  # status_url states that decide; pending/unknown do not


def sign(secret_value: str, timestamp: str, body: bytes) -> str:
    """``X-Mlrelease-Signature``: HMAC-SHA256 over ``<timestamp>.<body>`` with the secret's UTF-8 bytes."""
    mac = hmac.new(secret_value.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def sign_standard(secret_value: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """``webhook-signature`` per Standard Webhooks: a ``whsec_`` secret is base64 key bytes."""
    key = base64.b64decode(secret_value[6:]) if secret_value.startswith("whsec_") else secret_value.encode("utf-8")
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1,{base64.b64encode(mac.digest()).decode()}"


def _check_url(s: Settings, key: str, text: str | None, *, placeholder: bool = False) -> str | None:
    if text is None:
        return None
    probe = text.replace("{promotion_id}", "id") if placeholder else text
    if "{" in probe or "}" in probe:
        known = " (the only placeholder is {promotion_id})" if placeholder else ""
        s.problem(key, f"{text!r} has braces{known}")
        return None
    # Every call carries a signed order to deploy (and maybe a token): plain http only to loopback.
    reason = url_problem(probe, credentials=True, what="a signed request", hint="name an environment variable in token_env instead")
    if reason:
        s.problem(key, reason.replace(repr(probe), repr(text)))
        return None
    return text


def _shown(url: str) -> str:
    """The URL without its query, for messages."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay


@dataclass
class Reply:
    """The last answer of one request, after its retries."""

    status: int | None = None  # None: no HTTP answer
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    problem: str | None = None  # a transport failure, or why no further attempt was made
    attempts: int = 0
    log: list[str] = field(default_factory=list)
    complete: bool = False  # the whole reply arrived (status line, headers and body)
    maybe_acted: bool = False  # some attempt reached the receiver without a complete answer

    @property
    def ok(self) -> bool:
        """Only a completely received 2xx reply is a success."""
        return self.status is not None and 200 <= self.status < 300 and self.complete and self.problem is None

    def note(self, text: str) -> None:
        """Why no further attempt was made, added to the problem and the log."""
        self.problem = f"{self.problem}; {text}" if self.problem else text
        self.log.append(text)

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def status_text(self) -> str:
        assert self.status is not None
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = ""
        return f"HTTP {self.status} {phrase}".strip()

    def body_line(self) -> str:
        text = self.body.decode("utf-8", "replace").strip()
        return one_line(text.splitlines()[0], 160) if text else ""


class WebhookBackend:
    type_name: ClassVar[str] = "webhook"

    def __init__(self, name: str, settings: Mapping[str, object], context: BackendContext) -> None:
        s = Settings(name, self.type_name, settings)
        self.name = name
        self.url = _check_url(s, "url", s.text("url", required=True)) or ""
        self.status_url = _check_url(s, "status_url", s.text("status_url"), placeholder=True)
        self.health_url = _check_url(s, "health_url", s.text("health_url"))
        self.secret_env = s.env_name("secret_env", required=True)
        self.token_env = s.env_name("token_env")
        self.timeout = s.seconds("timeout", default=10.0, maximum=300.0)
        self.retries = s.whole("retries", default=3, maximum=10)
        self.backoff = s.seconds("backoff", default=0.5, maximum=BACKOFF_CAP)
        self.deadline = s.seconds("deadline", default=60.0, maximum=900.0)
        self.ca_bundle = self._ca_bundle(s, context.registry_root)
        try:
            self._verify = tls_context(str(self.ca_bundle) if self.ca_bundle is not None else None)
        except (ssl.SSLError, OSError, ValueError) as exc:
            s.problem("ca_bundle", f"{self.ca_bundle}: not a usable PEM bundle ({exc})")
        s.done()
        assert self.secret_env is not None
        what = f"backend {name}"
        value = secret(self.secret_env, what=what, required=False, environ=context.environ)
        if value is None:
            raise s.error("secret_env", f"environment variable {self.secret_env} is not set (it holds the signing secret)")
        if len(value) < MIN_SECRET:
            raise s.error("secret_env", f"the secret in {self.secret_env} is shorter than {MIN_SECRET} characters; use a long random value")
        if value.startswith("whsec_"):
            try:
                base64.b64decode(value[6:], validate=True)
            except ValueError:
                raise s.error("secret_env", f"the secret in {self.secret_env} starts with whsec_ but the rest is not base64") from None
        self._secret = value
        self._token = None
        if self.token_env:
            self._token = secret(self.token_env, what=what, required=False, environ=context.environ)
            if self._token is None:
                raise s.error("token_env", f"environment variable {self.token_env} is not set")
            problem = header_problem(self._token)
            if problem:
                raise s.error("token_env", f"environment variable {self.token_env} {problem}")
        self.journal = Journal(context.registry_root, name)

    @staticmethod
    def _ca_bundle(s: Settings, root: Path) -> Path | None:
        text = s.text("ca_bundle")
        if text is None:
            return None
        path = Path(text).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            s.problem("ca_bundle", f"{text!r} is not a file (a PEM bundle of CA certificates)")
            return None
        return path

    # ---- HTTP ---------------------------------------------------------------------------

    def _client(self, url: str, clock: Clock) -> httpx.Client:
        import httpx

        from mlrelease.backends.wallclock import transport

        host = urllib.parse.urlsplit(url).hostname or ""
        return httpx.Client(
            transport=transport(clock, verify=self._verify),
            follow_redirects=False,
            trust_env=not is_loopback(host),  # proxies from the environment, but never for a local receiver
            headers={"User-Agent": f"mlrelease/{__version__}"},
        )

    def _headers(self, body: bytes, msg_id: str | None) -> dict[str, str]:
        stamp = str(int(time.time()))
        headers = {"X-Mlrelease-Timestamp": stamp, "X-Mlrelease-Signature": sign(self._secret, stamp, body)}
        if msg_id is not None:
            headers.update(
                {
                    "Content-Type": "application/json",
                    "Idempotency-Key": msg_id,
                    "webhook-id": msg_id,
                    "webhook-timestamp": stamp,
                    "webhook-signature": sign_standard(self._secret, msg_id, stamp, body),
                }
            )
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _request(
        self, method: str, url: str, *, body: Callable[[], bytes] | None, msg_id: str | None, attempts: int, timeout: float
    ) -> Reply:
        """One request with retries; ``body`` is rebuilt per attempt (it carries ``sent_at``).

        ``timeout`` bounds each attempt and ``deadline`` all of them, both in wall-clock
        time (:mod:`mlrelease.backends.wallclock`), so a trickling receiver cannot hold an
        action for longer.
        """
        import httpx

        from mlrelease.backends.wallclock import Clock

        reply = Reply()
        end = time.monotonic() + self.deadline
        clock = Clock()
        with self._client(url, clock) as client:
            for n in range(attempts):
                now = time.monotonic()
                if end - now <= 0:
                    reply.note(f"the deadline of {self.deadline:g} s is used up")
                    break
                clock.until = min(now + timeout, end)
                bound = (
                    f"the timeout of {timeout:g} s per attempt"
                    if now + timeout < end
                    else f"the deadline of {self.deadline:g} s for all attempts"
                )
                content = body() if body is not None else b""
                reply = Reply(attempts=n + 1, log=reply.log, maybe_acted=reply.maybe_acted)
                retry_in: float | None = None
                try:
                    with client.stream(method, url, content=content, headers=self._headers(content, msg_id), timeout=timeout) as r:
                        reply.status = r.status_code
                        reply.headers = {k.lower(): v for k, v in r.headers.items()}
                        reply.body = self._read(r)
                        reply.complete = True
                    retryable = reply.status == 429 or reply.status >= 500
                    if retryable:
                        retry_in = retry_after(reply.headers.get("retry-after"))
                    reply.log.append(f"attempt {n + 1}: {reply.status_text()}")
                except httpx.ConnectTimeout:
                    reply.problem, retryable = f"cannot connect before {bound} ran out", True
                except httpx.ConnectError as exc:
                    text = str(exc) or type(exc).__name__
                    reply.problem, retryable = f"cannot connect: {text}", "CERTIFICATE_VERIFY_FAILED" not in text
                except httpx.TimeoutException:
                    # The request may have arrived: the receiver can still act on it (by its idempotency key).
                    got = f"{reply.status_text()}, but the rest of the reply did not arrive" if reply.status else "no complete answer"
                    reply.problem, retryable = f"{got} before {bound} ran out (wall clock; the receiver may have acted)", True
                    reply.maybe_acted = True
                except httpx.LocalProtocolError as exc:  # refused by our own HTTP layer: nothing was sent
                    reply.problem, retryable = f"the request could not be sent ({type(exc).__name__}: {exc}); nothing was sent", False
                except httpx.TransportError as exc:
                    text = str(exc) or type(exc).__name__
                    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc, httpx.UnsupportedProtocol):
                        reply.problem, retryable = f"{type(exc).__name__}: {text}", False
                    else:
                        got = (
                            f"{reply.status_text()}, but the reply was cut off"
                            if reply.status
                            else "the connection was lost before an answer"
                        )
                        reply.problem, retryable = f"{got} ({text}; the receiver may have acted)", True
                        reply.maybe_acted = True
                except (httpx.HTTPError, ValueError) as exc:  # e.g. an invalid header value: not worth retrying
                    reply.problem, retryable = f"{type(exc).__name__}: {exc}", False
                if reply.problem:
                    reply.log.append(f"attempt {n + 1}: {reply.problem}")
                if not retryable or n + 1 >= attempts:
                    break
                if retry_in is not None:
                    delay = min(retry_in, MAX_RETRY_AFTER)
                    why = f"Retry-After {retry_in:g} s" + (f", capped at {MAX_RETRY_AFTER:g} s" if retry_in > MAX_RETRY_AFTER else "")
                else:
                    delay = random.uniform(0, min(BACKOFF_CAP, self.backoff * 2**n))
                    why = "backoff"
                if time.monotonic() + delay >= end:
                    reply.note(f"no retry: waiting {delay:.2f} s ({why}) would pass the deadline of {self.deadline:g} s")
                    break
                reply.log.append(f"retrying in {delay:.2f} s ({why})")
                time.sleep(delay)
        return reply

    @staticmethod
    def _read(response: httpx.Response) -> bytes:
        """At most BODY_LIMIT bytes of the reply (the transport's clock bounds the time)."""
        out = bytearray()
        for chunk in response.iter_bytes():
            out += chunk
            if len(out) >= BODY_LIMIT:
                break
        return bytes(out[:BODY_LIMIT])

    # ---- the protocol --------------------------------------------------------------------

    def _body(self, action: Action) -> Callable[[], bytes]:
        def build() -> bytes:
            payload = {**action.to_json(), "sent_at": format_timestamp(datetime.now(UTC))}
            return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")

        return build

    def execute(self, action: Action) -> Outcome:
        replayed = self.journal.replay(action.promotion_id, "delivered", "not sent again")
        if replayed is not None:
            return replayed
        if not action.promotion_id.isprintable() or not action.promotion_id.isascii():
            return Outcome(ok=False, message="the promotion id is not a valid header value (printable ASCII only)")
        try:
            body = self._body(action)
            body()
        except ValueError as exc:
            return Outcome(ok=False, message=one_line(f"cannot encode the payload as JSON: {exc}"))
        reply = self._request("POST", self.url, body=body, msg_id=action.promotion_id, attempts=1 + self.retries, timeout=self.timeout)
        if not reply.ok and reply.maybe_acted:
            where = f"webhook {_shown(self.url)}"
            raise OutcomeUnknown(
                one_line(f"{where}: attempt {reply.attempts} of {1 + self.retries}: {reply.problem or reply.status_text()}")
            )
        outcome = self._outcome(reply)
        self.journal.put(action.promotion_id, outcome)
        return outcome

    def _outcome(self, reply: Reply) -> Outcome:
        where = f"webhook {_shown(self.url)}"
        tries = f" after {reply.attempts} attempts" if reply.attempts > 1 else ""
        log = "\n".join([*reply.log, *([f"reply: {reply.body.decode('utf-8', 'replace')}"] if reply.body else [])])
        if reply.ok:
            return Outcome(
                ok=True, reference=self._reference(reply), message=one_line(f"{where}: {reply.status_text()}{tries}"), log=bounded_log(log)
            )
        if reply.status is None:
            return Outcome(ok=False, message=one_line(f"{where}: {reply.problem}{tries}"), log=bounded_log(log))
        if 300 <= reply.status < 400:
            location = reply.headers.get("location", "(no Location)")
            message = f"{where}: {reply.status_text()} redirect to {location} not followed (set url to the final address)"
            return Outcome(ok=False, message=one_line(message), log=bounded_log(log))
        detail = f": {reply.body_line()}" if reply.body_line() else ""
        extra = f" ({reply.problem})" if reply.problem else ""
        return Outcome(ok=False, message=one_line(f"{where}: {reply.status_text()}{tries}{extra}{detail}"), log=bounded_log(log))

    @staticmethod
    def _reference(reply: Reply) -> str | None:
        """JSON ``reference``, else JSON ``id``, else the X-Mlrelease-Reference header."""
        data = reply.json()
        if isinstance(data, dict):
            for key in ("reference", "id"):
                value = data.get(key)
                if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                    return one_line(str(value), 200)
        header = reply.headers.get(REFERENCE_HEADER.lower(), "").strip()
        return one_line(header, 200) if header else None

    def status(self, action: Action) -> Outcome | None:
        done = self.journal.get(action.promotion_id)
        if done is not None:
            return done
        if not self.status_url:
            return None  # the receiver cannot be asked: reconcile leaves the state Pending
        quoted = urllib.parse.quote(action.promotion_id, safe="")
        if "{promotion_id}" in self.status_url:
            url = self.status_url.replace("{promotion_id}", quoted)
        else:
            url = f"{self.status_url}{'&' if '?' in self.status_url else '?'}promotion_id={quoted}"
        reply = self._request("GET", url, body=None, msg_id=None, attempts=1 + self.retries, timeout=self.timeout)
        data = reply.json() if reply.ok else None
        state = data.get("state") if isinstance(data, dict) else None
        if state not in STATES:
            return None  # pending, unknown, or no usable answer: never guess
        assert isinstance(data, dict)
        message = data.get("message")
        text = one_line(str(message)) if message else f"the receiver reports the deployment {state}"
        return Outcome(ok=STATES[state], reference=self._reference(reply), message=text, log=bounded_log("\n".join(reply.log)))

    def health(self) -> Health:
        if not self.health_url:
            return Health(True, f"configured (secret in {self.secret_env} is set); no health_url, so nothing was contacted")
        reply = self._request("GET", self.health_url, body=None, msg_id=None, attempts=1, timeout=min(self.timeout, HEALTH_TIMEOUT))
        where = f"{_shown(self.health_url)}"
        if reply.status is None:
            return Health(False, one_line(f"{where}: {reply.problem}"))
        return Health(reply.ok, one_line(f"{where}: {reply.status_text()}"))

    def describe(self, action: Action) -> str:
        what = " ".join(
            x for x in (action.kind, action.model, action.version or "", f"→ {action.environment}" if action.environment else "") if x
        )
        return one_line(
            f"webhook: POST signed JSON ({what}) to {_shown(self.url)} with Idempotency-Key {action.promotion_id}; "
            f"timeout {self.timeout:g} s, up to {self.retries} retries within {self.deadline:g} s",
            1000,
        )


def factory(name: str, settings: Mapping[str, object], context: BackendContext) -> WebhookBackend:
    return WebhookBackend(name, settings, context)
