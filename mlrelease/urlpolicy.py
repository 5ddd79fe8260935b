"""The one policy for the URLs mlrelease calls: webhooks, telemetry services, MLflow.

* Only ``http://`` and ``https://`` URLs with a host, and never credentials inside the
  URL (they would land in logs, messages and the repository): credentials come from
  environment variables named in the settings.
* No credential over plain http except to a loopback host (a test server, a sidecar): a
  bearer token, a password or a signed order sent in the clear to another machine can be
  read and replayed by anyone on the way.
* TLS verification is always on; a private CA can be named (``ca_bundle``), never the
  check switched off. :func:`tls_context` is the only way mlrelease builds one.

Callers add their own context to the reason (which setting, which server) and their own
hint of where credentials belong.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # ssl costs every run ~15 ms to import; only a client that calls out needs it
    import ssl

LOOPBACK_HOSTS = "127.0.0.1, ::1, localhost"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``; brackets allowed)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def url_problem(url: str, *, credentials: bool, what: str = "credentials", hint: str = "") -> str | None:
    """Why ``url`` must not be called, or None.

    ``credentials``: the call carries a token, a password or a signature (``what`` names
    it in the message), so plain http is refused unless the host is a loopback one.
    ``hint`` says where credentials belong instead of the URL.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return f"{url!r} is not a valid URL: {exc}"
    if parts.scheme not in ("http", "https") or not host:
        if credentials:
            return f"must be an https:// URL (or http:// to a loopback host), not {url!r}"
        return f"must be an http:// or https:// URL, not {url!r}"
    if parts.username or parts.password:
        return "must not hold credentials" + (f"; {hint}" if hint else "")
    if credentials and parts.scheme == "http" and not is_loopback(host):
        return (
            f"plain http:// is allowed only for a loopback host ({LOOPBACK_HOSTS}): "
            f"refusing to send {what} over plain http to {host}; use https://"
        )
    return None


def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """A verifying TLS context: the CAs of ``ca_bundle`` (a PEM file) when given, else certifi's.

    certifi's bundle is what httpx trusts by default, so every client trusts the same
    authorities whatever the machine's store holds. Raises ``OSError`` or
    ``ssl.SSLError`` for a bundle that cannot be read; the caller says which setting
    named it.
    """
    import ssl

    import certifi

    return ssl.create_default_context(cafile=ca_bundle or certifi.where())
