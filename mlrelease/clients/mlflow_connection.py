"""Where an MLflow tracking server is and how to prove who we are: the URI policy and credentials.

Credentials come from the environment only (``MLFLOW_TRACKING_TOKEN``, or
``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``), are never sent over plain
http except to loopback (:mod:`mlrelease.urlpolicy`, the one policy), and never sit in a
URI; every URI printed goes through :func:`safe_uri`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlrelease.errors import MlreleaseError
from mlrelease.secrets import redact
from mlrelease.textsafe import visible
from mlrelease.urlpolicy import url_problem


def uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be used as a tracking server URI here, or None (see :mod:`mlrelease.urlpolicy`)."""
    reason = url_problem(uri, credentials=False, hint="put them in MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD")
    if reason:
        return f"the tracking URI {reason.replace(repr(uri), repr(safe_uri(uri)))}"
    parts = urlsplit(uri)
    if parts.query or parts.fragment:
        return f"tracking URI {safe_uri(uri)!r} must not have a query or fragment"
    return None


def safe_uri(uri: str) -> str:
    """``uri`` without any user:password part, redacted and on one line: fit to print or record."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        uri = parts._replace(netloc=host).geturl()
    return visible(redact(uri), single_line=True)


@dataclass(frozen=True)
class Connection:
    """Where MLflow is and how to prove who we are. Credentials come from the environment only."""

    uri: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    ca_bundle: str | None = None

    def problem(self) -> str | None:
        """Why this connection must not be used, or None: a bad URI, or credentials over plain http."""
        reason = uri_problem(self.uri)
        if reason or not (self.token or self.password):
            return reason
        reason = url_problem(self.uri, credentials=True)
        return f"tracking URI {safe_uri(self.uri)!r}: {reason}" if reason else None


def connection_from_env(uri: str | None, environ: Mapping[str, str], *, timeout: float = 10.0) -> Connection:
    """A connection the way MLflow's own client finds one: URI, token or user and password from the environment."""
    from mlrelease.secrets import secret

    chosen = uri or environ.get("MLFLOW_TRACKING_URI")
    if not chosen:
        raise MlreleaseError("no MLflow tracking URI: pass --tracking-uri URI or set MLFLOW_TRACKING_URI")
    what = "MLflow"
    conn = Connection(
        uri=chosen.rstrip("/"),
        token=secret("MLFLOW_TRACKING_TOKEN", what=what, required=False, environ=environ),
        username=environ.get("MLFLOW_TRACKING_USERNAME") or None,
        password=secret("MLFLOW_TRACKING_PASSWORD", what=what, required=False, environ=environ),
        timeout=timeout,
        ca_bundle=environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None,
    )
    reason = conn.problem()
    if reason:
        raise MlreleaseError(reason)
    return conn
