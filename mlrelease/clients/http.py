"""What every API client here shares: one-line redacted failure words, and the verified httpx client.

The MLflow client (:mod:`mlrelease.clients.mlflow`) and the forge client
(:mod:`mlrelease.clients.forge`) keep the same promises through these: TLS verification
always on (:func:`mlrelease.urlpolicy.tls_context`, a private CA may be added), redirects
never followed (a token is never replayed to another host), every wait bounded, and every
message one line with the secrets the process knows masked. httpx is imported when a
client is opened, never at import time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlrelease import __version__
from mlrelease.secrets import redact
from mlrelease.textsafe import visible
from mlrelease.urlpolicy import tls_context

USER_AGENT = f"mlrelease/{__version__}"


def one_line(text: str, limit: int = 300) -> str:
    """``text`` redacted, on one visible line, at most ``limit`` characters."""
    line = visible(redact(text), single_line=True).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def transport_reason(exc: Exception) -> str:
    """Why a request got no answer, in a few words (``connection refused`` when it is that)."""
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return one_line(text)


# Why a request got no whole answer: nothing listened, nothing came in time, the body did not
# finish in time (a trickle), the body passed the size cap, or anything else of the transport.
Failure = Literal["unreachable", "no answer", "incomplete", "too large", "failed"]


class NoAnswer(Exception):
    """A request without a whole answer: ``reason`` in a few words; ``sent`` False when it never left
    (a refused connection: it changed nothing); ``timed_out`` when the wait ran out; ``kind`` says
    which it was, for a caller that words it its own way."""

    def __init__(self, reason: str, *, sent: bool, timed_out: bool = False, kind: Failure = "failed") -> None:
        super().__init__(reason)
        self.reason, self.sent, self.timed_out, self.kind = reason, sent, timed_out, kind


@dataclass(frozen=True)
class Answer:
    status: int
    phrase: str
    headers: Mapping[str, str]
    content: bytes


def fetch(
    client: Any,
    method: str,
    path: str,
    *,
    timeout: float,
    max_bytes: int,
    params: Mapping[str, object] | None = None,
    body: object = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request through ``client``, its answer read whole within ``timeout`` seconds and at most ``max_bytes``.

    httpx's timeout bounds each read, so a server that trickles its answer a byte at a time
    would hold the call for as long as it likes: the body is read against one deadline for
    the whole call. Anything short of a whole answer is :class:`NoAnswer`. The one read loop
    of every client here (MLflow, the forges, the telemetry sources).
    """
    import httpx

    deadline = time.monotonic() + timeout
    content = bytearray()
    try:
        with client.stream(method, path, params=params, json=body, headers=headers) as response:
            for chunk in response.iter_bytes():
                content += chunk
                if len(content) > max_bytes:
                    raise NoAnswer(f"answered with more than {max_bytes:,} bytes", sent=True, kind="too large")
                if time.monotonic() > deadline:
                    raise NoAnswer("did not answer in time", sent=True, timed_out=True, kind="incomplete")
    except httpx.ConnectError as exc:
        raise NoAnswer(f"is not reachable: {transport_reason(exc)}", sent=False, kind="unreachable") from None
    except httpx.TimeoutException:
        raise NoAnswer("did not answer in time", sent=True, timed_out=True, kind="no answer") from None
    except httpx.HTTPError as exc:
        raise NoAnswer(f"failed: {transport_reason(exc)}", sent=True) from None
    return Answer(response.status_code, response.reason_phrase, response.headers, bytes(content))


def open_client(base_url: str, headers: Mapping[str, str], *, timeout: float, ca_bundle: str | None = None, pool: int = 1) -> Any:
    """An ``httpx.Client`` that verifies TLS, follows no redirect and waits at most ``timeout`` per step."""
    import httpx

    return httpx.Client(
        base_url=base_url,
        headers={"User-Agent": USER_AGENT, **headers},
        timeout=httpx.Timeout(timeout),
        verify=tls_context(ca_bundle),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
    )
