"""A small client for MLflow's model-registry REST API (2.0), shared by the backend and the import.

Why not the ``mlflow`` package: it is an ~850 MB install with its own pins, and we need a
dozen calls. Why a wrapper at all: MLflow's API has sharp edges that both users must get
right, so they are handled here once (facts checked against MLflow 3.17):

* POST and DELETE take a JSON body (``Content-Type: application/json``); DELETE with a
  query string is refused, so deletes go through ``request("DELETE", json=...)``;
* an unknown alias answers 400 ``INVALID_PARAMETER_VALUE``, not 404;
* search results carry no aliases: read them from ``registered-models/get``;
* aliases ``latest`` (any case) and ``v<digits>`` are reserved; aliases match ``[\\w-]+``.

Every failure becomes an :class:`MlflowError` with one redacted line naming the server:
connection refused, a timeout, an HTTP error with MLflow's own ``error_code`` and message.
httpx is imported when the first call is made, never at import time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mlrelease import __version__
from mlrelease.errors import MlflowError, MlreleaseError
from mlrelease.secrets import redact
from mlrelease.textsafe import visible
from mlrelease.urlpolicy import tls_context, url_problem

API = "/api/2.0/mlflow"
ALIAS = re.compile(r"[\w-]{1,255}")
RESERVED_ALIAS = re.compile(r"(?i:latest)|[vV]\d+")
PAGE = 1000
MAX_PAGES = 10_000  # a server that keeps answering with new page tokens is cut off here
TAG_KEY_BAD = re.compile(r"[^\w./ -]")


def alias_problem(alias: str) -> str | None:
    """Why MLflow would refuse ``alias``, or None."""
    if not ALIAS.fullmatch(alias):
        return f"alias {alias!r} is not allowed by MLflow (letters, digits, '_' and '-', at most 255)"
    if RESERVED_ALIAS.fullmatch(alias):
        return f"alias {alias!r} is reserved by MLflow ('latest' and 'v<digits>' name versions)"
    return None


def model_name_problem(name: str) -> str | None:
    """Why MLflow would refuse ``name`` as a registered model name, or None."""
    if not name.strip():
        return "a registered model name must not be empty"
    if any(c in name for c in "/:") or name in (".", "..") or name.startswith(".."):
        return f"registered model name {name!r} must not contain '/' or ':' or start with '..'"
    return None


def tag_key(text: str) -> str:
    """``text`` as an MLflow tag key (letters, digits, ``_ - . /`` and spaces; other characters become ``_``)."""
    return TAG_KEY_BAD.sub("_", text)[:250]


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


def _quote(value: str) -> str:
    """A string literal for MLflow's search filter."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise MlflowError(f"cannot search MLflow for {value!r}: it holds both kinds of quote")


class MlflowApi:
    """One tracking server. Use as a context manager, or call :meth:`close`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.label = safe_uri(conn.uri)
        self._client: Any = None

    def __enter__(self) -> MlflowApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            headers = {"User-Agent": f"mlrelease/{__version__}", "Accept": "application/json"}
            auth = None
            if self.conn.token:
                headers["Authorization"] = f"Bearer {self.conn.token}"
            elif self.conn.username and self.conn.password:
                auth = httpx.BasicAuth(self.conn.username, self.conn.password)
            self._client = httpx.Client(
                base_url=self.conn.uri + API,
                headers=headers,
                auth=auth,
                timeout=httpx.Timeout(self.conn.timeout),
                verify=tls_context(self.conn.ca_bundle),
                follow_redirects=False,
            )
        return self._client

    # ---- one call ---------------------------------------------------------------------------

    def call(
        self, method: str, path: str, *, params: Mapping[str, object] | None = None, body: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        """One request; the decoded JSON object, or :class:`MlflowError`."""
        import httpx

        where = f"MLflow at {self.label}"
        try:
            response = self._http().request(method, path, params=params, json=body)
        except httpx.ConnectError as exc:
            raise MlflowError(f"{where} is not reachable: {_reason(exc)}") from None
        except httpx.TimeoutException:
            raise MlflowError(f"{where} did not answer within {self.conn.timeout:g} s ({method} {path})") from None
        except httpx.HTTPError as exc:
            raise MlflowError(f"{where}: {method} {path} failed: {_reason(exc)}") from None
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = None
        if response.status_code >= 400 or response.status_code in range(300, 400):
            code = data.get("error_code", "") if isinstance(data, dict) else ""
            message = data.get("message", "") if isinstance(data, dict) else response.text[:200]
            detail = f"{code}: {message}" if code else (message or response.reason_phrase)
            raise MlflowError(
                f"{where} answered {response.status_code} to {method} {path}: {_line(str(detail))}",
                status=response.status_code,
                code=str(code),
            )
        if not isinstance(data, dict):
            raise MlflowError(f"{where} answered {method} {path} with something that is not a JSON object", status=response.status_code)
        return data

    # ---- registered models ------------------------------------------------------------------

    def ping(self) -> None:
        """A cheap authenticated read: proves the server, the API and the credentials."""
        self.call("GET", "/registered-models/search", params={"max_results": 1})

    def registered_model(self, name: str) -> dict[str, Any] | None:
        try:
            return self.call("GET", "/registered-models/get", params={"name": name}).get("registered_model") or {}
        except MlflowError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def registered_models(self) -> list[dict[str, Any]]:
        return list(self._pages("/registered-models/search", "registered_models", {}))

    def create_registered_model(self, name: str, *, tags: Mapping[str, str] | None = None) -> None:
        """Create the model unless it exists (idempotent)."""
        body: dict[str, object] = {"name": name}
        if tags:
            body["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        try:
            self.call("POST", "/registered-models/create", body=body)
        except MlflowError as exc:
            if exc.code != "RESOURCE_ALREADY_EXISTS":
                raise

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self.call("POST", "/registered-models/set-tag", body={"name": name, "key": key, "value": value})

    def delete_model_tag(self, name: str, key: str) -> None:
        """Delete the tag if it is there (idempotent)."""
        try:
            self.call("DELETE", "/registered-models/delete-tag", body={"name": name, "key": key})
        except MlflowError as exc:
            if exc.code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise

    # ---- aliases -----------------------------------------------------------------------------

    def alias(self, name: str, alias: str) -> str | None:
        """The version ``alias`` points at, or None when there is no such alias (or model)."""
        try:
            mv = self.call("GET", "/registered-models/alias", params={"name": name, "alias": alias}).get("model_version") or {}
        except MlflowError as exc:
            # MLflow 3.17 answers an unknown alias with 400 INVALID_PARAMETER_VALUE, not 404.
            if exc.code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST") and exc.status in (400, 404):
                return None
            raise
        version = mv.get("version")
        return str(version) if version is not None else None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``; an existing alias moves (MLflow's own semantics)."""
        self.call("POST", "/registered-models/alias", body={"name": name, "alias": alias, "version": version})

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` if it is there (idempotent). The body is JSON: a query string is refused."""
        try:
            self.call("DELETE", "/registered-models/alias", body={"name": name, "alias": alias})
        except MlflowError as exc:
            if exc.code not in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
                raise

    # ---- versions -----------------------------------------------------------------------------

    def versions(self, name: str, *, tag: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """Versions of one model, optionally only those with tag ``key = value``; no aliases in them."""
        clauses = [f"name = {_quote(name)}"]
        if tag is not None:
            clauses.append(f"tags.`{tag[0]}` = {_quote(tag[1])}")
        found = self._pages("/model-versions/search", "model_versions", {"filter": " AND ".join(clauses)})
        return sorted(found, key=lambda mv: _int(mv.get("version")))

    def version(self, name: str, version: str) -> dict[str, Any] | None:
        try:
            return self.call("GET", "/model-versions/get", params={"name": name, "version": version}).get("model_version") or {}
        except MlflowError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def create_version(
        self,
        name: str,
        source: str,
        *,
        tags: Mapping[str, str],
        description: str | None = None,
        run_id: str | None = None,
        model_id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, object] = {"name": name, "source": source, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        if description:
            body["description"] = description
        if run_id:
            body["run_id"] = run_id
        if model_id:
            body["model_id"] = model_id
        mv = self.call("POST", "/model-versions/create", body=body).get("model_version")
        if not isinstance(mv, dict) or mv.get("version") is None:
            raise MlflowError(f"MLflow at {self.label} created a version of {name!r} but did not say which")
        return mv

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.call("POST", "/model-versions/set-tag", body={"name": name, "version": version, "key": key, "value": value})

    # ---- runs --------------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any] | None:
        """A run's info and data (latest metric values, params, tags); None when it is gone."""
        try:
            return self.call("GET", "/runs/get", params={"run_id": run_id}).get("run") or {}
        except MlflowError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    # ---- paging ------------------------------------------------------------------------------

    def _pages(self, path: str, key: str, params: dict[str, object]) -> Iterator[dict[str, Any]]:
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            query = {**params, "max_results": PAGE, **({"page_token": token} if token else {})}
            data = self.call("GET", path, params=query)
            for item in data.get(key) or []:
                if isinstance(item, dict):
                    yield item
            token = data.get("next_page_token") or None
            if not token or token in seen:
                return
            seen.add(token)
        raise MlflowError(f"MLflow at {self.label} kept paging {path} past {MAX_PAGES} pages; stopped")


def tags_of(entity: Mapping[str, Any]) -> dict[str, str]:
    """MLflow's ``[{key, value}]`` lists as a mapping."""
    out: dict[str, str] = {}
    for item in entity.get("tags") or []:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = str(item.get("value") or "")
    return out


def aliases_of(registered_model: Mapping[str, Any]) -> dict[str, str]:
    """alias → version of a ``registered-models/get`` answer."""
    out: dict[str, str] = {}
    for item in registered_model.get("aliases") or []:
        if isinstance(item, dict) and item.get("alias") and item.get("version") is not None:
            out[str(item["alias"])] = str(item["version"])
    return out


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _line(text: str) -> str:
    line = visible(redact(text), single_line=True).strip()
    return line if len(line) <= 300 else line[:299] + "…"


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return _line(text)
