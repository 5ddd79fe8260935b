"""Bounded, verified HTTP GETs of JSON for the network sources (``http-json``, ``prometheus``).

One place decides how mlrelease talks to a monitoring service, so both sources keep the
same promises: TLS is always verified (a private CA can be added with ``ca_bundle``,
never switched off), a bearer token comes only from the environment variable named by
``token_env`` and is redacted from every message, redirects are not followed (a token is
never replayed elsewhere), every wait is bounded by ``timeout``, and answers are capped
in size. After a connection failure or a timeout the endpoint counts as down for the rest
of the run, so twenty models behind one dead server cost one timeout, not twenty.

httpx is imported on first use, keeping it out of the import path of offline commands.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from mlrelease import __version__
from mlrelease.clients.http import NoAnswer, fetch
from mlrelease.errors import MlreleaseError, SourceError
from mlrelease.secrets import header_problem, redact, secret
from mlrelease.telemetry.base import Settings, SourceContext
from mlrelease.urlpolicy import tls_context, url_problem

if TYPE_CHECKING:
    import httpx

MAX_BYTES = 8 * 1024 * 1024
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Reply:
    status: int
    data: object  # parsed JSON, or None when the body was empty or not JSON


def check_url(s: Settings, key: str, url: str) -> str:
    """Refuse anything but an absolute http(s) URL, and a token over plain http but to loopback.

    Checked when the source is created (and by ``mlrelease lint``): the URL policy of
    :mod:`mlrelease.urlpolicy`, with ``{model}`` and ``{env}`` standing for names.
    """
    probe = url.replace("{model}", "m").replace("{env}", "e")
    reason = url_problem(
        probe, credentials=s.has("token_env"), what="the token", hint="name an environment variable in 'token_env' instead"
    )
    if reason:
        s.problem(key, reason.replace(repr(probe), repr(url)))
    return url


class HttpSource:
    """What the telemetry sources that read over HTTP(S) share: a ``url`` the URL policy
    allows and a :class:`HttpReader` labelled with the source's name and type.

    A subclass names its ``type_name`` and reads its own settings in :meth:`configure`,
    before :meth:`~mlrelease.registry.settings.PluginSettings.done` refuses unknown keys
    (and, under lint's check mode, stops the constructor there).
    """

    type_name: ClassVar[str]
    reaches_out: ClassVar[bool] = True

    def __init__(self, name: str, settings: Mapping[str, object], context: SourceContext) -> None:
        s = Settings(name, self.type_name, settings)
        self.name = name
        self.url = check_url(s, "url", s.text("url", required=True) or "")
        self.http = HttpReader(f"telemetry source {name!r} ({self.type_name})", s)
        self.configure(s)
        s.done()

    def configure(self, s: Settings) -> None:
        """Read the settings this kind of source has beyond ``url`` and the reader's."""


class HttpReader:
    """GET JSON from one service with the settings ``timeout``, ``token_env`` and ``ca_bundle``."""

    def __init__(self, label: str, s: Settings) -> None:
        self.label = label
        self.timeout = s.number("timeout", default=DEFAULT_TIMEOUT, minimum=0.05, maximum=300.0) or DEFAULT_TIMEOUT
        self.token_env = s.env_name("token_env")
        self.ca_bundle = s.text("ca_bundle")
        self._client: httpx.Client | None = None
        self._down: str | None = None
        self._lock = threading.Lock()

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"mlrelease/{__version__}"}
        if self.token_env:
            try:
                token = secret(self.token_env, what=self.label)
            except MlreleaseError as exc:
                raise SourceError(str(exc)) from None
            problem = header_problem(token or "")
            if problem:
                raise SourceError(f"{self.label}: environment variable {self.token_env} {problem}")
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _get_client(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._client is None:
                try:
                    context = tls_context(self.ca_bundle)
                except (OSError, ssl.SSLError) as exc:
                    raise SourceError(f"{self.label}: cannot read ca_bundle {self.ca_bundle!r}: {exc}") from None
                self._client = httpx.Client(timeout=httpx.Timeout(self.timeout), verify=context, follow_redirects=False)
            return self._client

    def get(self, url: str, params: Mapping[str, str] | None = None) -> Reply:
        """One GET, read whole within ``timeout`` (:func:`mlrelease.clients.http.fetch`); a transport
        failure raises :class:`SourceError` and marks the service down."""
        if self._down is not None:
            raise SourceError(f"{self._down} (not tried again in this run)")
        where = _origin(url)
        headers = self._headers()
        try:
            answer = fetch(self._get_client(), "GET", url, timeout=self.timeout, max_bytes=MAX_BYTES, params=params, headers=headers)
        except NoAnswer as exc:
            if exc.kind == "too large":
                raise SourceError(f"{self.label}: the answer from {where} is larger than {MAX_BYTES:,} bytes") from None
            raise self._mark_down(f"{self.label}: {_words(exc, where, self.timeout)}") from None
        status = answer.status
        if 300 <= status < 400:
            raise SourceError(
                f"{self.label}: {where} answered {status} (a redirect; mlrelease does not follow them — configure the final URL)"
            )
        return Reply(status, _json(answer.content))

    def get_json(self, url: str, params: Mapping[str, str] | None = None, *, missing_ok: bool = False) -> object:
        """The JSON document at ``url``; None for 404 when ``missing_ok``; anything else but 2xx raises."""
        reply = self.get(url, params)
        if reply.status == 404 and missing_ok:
            return None
        if not 200 <= reply.status < 300:
            raise SourceError(f"{self.label}: {_origin(url)} answered HTTP {reply.status}")
        if reply.data is None:
            raise SourceError(f"{self.label}: the answer from {_origin(url)} is not a JSON document")
        return reply.data

    def _mark_down(self, message: str) -> SourceError:
        message = redact(message)
        self._down = message
        return SourceError(message)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _origin(url: str) -> str:
    """The URL without its query: enough to find the service, nothing a query could carry."""
    parts = urlsplit(url)
    return redact(f"{parts.scheme}://{parts.netloc}{parts.path}")


def _words(exc: NoAnswer, where: str, timeout: float) -> str:
    """What a monitoring service that gave no whole answer did, in this module's words."""
    if exc.kind == "unreachable":
        return f"cannot connect to {where}: {exc.reason.removeprefix('is not reachable: ')}"
    if exc.kind == "no answer":
        return f"no answer from {where} within {timeout:g} s"
    if exc.kind == "incomplete":
        return f"no complete answer from {where} within {timeout:g} s"
    return f"request to {where} {exc.reason}"


def _json(body: bytes) -> object:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
