"""A small client for MLflow's model-registry REST API (2.0), below the ``mlflow`` backend and the import.

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
``status`` is 0 when no answer came; ``sent`` says whether the request may have reached
the server (a timeout or a cut connection after sending), which is what a caller that
changes something needs to know: a refused connection changed nothing, a lost answer may
have. httpx is imported when the first call is made, never at import time.

Speed, for reading whole registries (``import mlflow``): one keep-alive connection pool,
the reads batched where MLflow can search for many at once (``name IN``, ``run_id IN``,
``model_id IN``) and the batches fetched by a bounded pool of threads (:meth:`MlflowApi.each`),
so 20 models × 10 versions take a handful of requests instead of 240 one after another.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mlrelease.clients.http import NoAnswer, fetch, open_client
from mlrelease.clients.http import one_line as _line
from mlrelease.clients.mlflow_connection import Connection, safe_uri
from mlrelease.errors import MlflowError
from mlrelease.secrets import basic_auth

API = "/api/2.0/mlflow"
ALIAS = re.compile(r"[\w-]{1,255}")
RESERVED_ALIAS = re.compile(r"(?i:latest)|[vV]\d+")
PAGE = 1000
MAX_PAGES = 10_000  # a server that keeps answering with new page tokens is cut off here
MAX_BYTES = 64 * 1024 * 1024  # one answer; a page of 1,000 versions with tags is a few MB
TAG_KEY_BAD = re.compile(r"[^\w./ -]")
READ_RETRIES = 2  # a read answered 5xx is asked again this many times
POOL = 8  # requests in flight at once, and connections kept alive
CHUNK = 100  # names or ids per batched search (a filter, so the URL stays short)
MODEL_SOURCE = re.compile(r"models:/(m-[0-9a-zA-Z]+)/?")
T = TypeVar("T")
R = TypeVar("R")


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


def logged_model_id(source: str) -> str | None:
    """The MLflow 3 logged model a ``models:/m-…`` source names (MLflow 3.17's REST answers carry no ``model_id``)."""
    m = MODEL_SOURCE.fullmatch(source.strip())
    return m.group(1) if m else None


def tag_key(text: str) -> str:
    """``text`` as an MLflow tag key (letters, digits, ``_ - . /`` and spaces; other characters become ``_``)."""
    return TAG_KEY_BAD.sub("_", text)[:250]


def _quote(value: str) -> str:
    """A string literal for MLflow's search filter."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise MlflowError(f"cannot search MLflow for {value!r}: it holds both kinds of quote")


class MlflowApi:
    """One tracking server. Use as a context manager, or call :meth:`close`."""

    def __init__(self, conn: Connection, *, pool: int = POOL) -> None:
        self.conn = conn
        self.label = safe_uri(conn.uri)
        self.pool = max(1, pool)
        self._client: Any = None
        self._lock = threading.Lock()  # the client is opened once, whichever thread asks first
        self._experiments_lock = threading.Lock()
        self._experiments: list[str] | None = None

    def __enter__(self) -> MlflowApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> Any:
        with self._lock:
            return self._client or self._open()

    def _open(self) -> Any:
        if self._client is None:
            headers = {"Accept": "application/json"}
            if self.conn.token:
                headers["Authorization"] = f"Bearer {self.conn.token}"
            elif self.conn.username and self.conn.password:
                headers["Authorization"] = basic_auth(self.conn.username, self.conn.password, "MLFLOW_TRACKING_PASSWORD")
            self._client = open_client(
                self.conn.uri + API, headers, timeout=self.conn.timeout, ca_bundle=self.conn.ca_bundle, pool=self.pool
            )
        return self._client

    def each(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``fn`` over ``items`` with at most :attr:`pool` calls in flight, results in order; the first error is raised."""
        todo = list(items)
        if len(todo) <= 1 or self.pool == 1:
            return [fn(item) for item in todo]
        self._http()  # one client for every thread (httpx's Client is thread-safe and pools connections)
        with ThreadPoolExecutor(max_workers=min(self.pool, len(todo)), thread_name_prefix="mlflow") as ex:
            return list(ex.map(fn, todo))

    # ---- one call ---------------------------------------------------------------------------

    def read(
        self, method: str, path: str, *, params: Mapping[str, object] | None = None, body: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        """A request that only reads: asked again (at most :data:`READ_RETRIES` times) after a 5xx answer.

        MLflow 3.17 under concurrent searches sometimes answers 500 ("AST constructor
        recursion depth mismatch": its filter parser is not thread-safe); the same read a
        moment later succeeds. Writes are never retried here.
        """
        for attempt in range(READ_RETRIES + 1):
            try:
                return self.call(method, path, params=params, body=body)
            except MlflowError as exc:
                if exc.status < 500 or attempt == READ_RETRIES:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def call(
        self, method: str, path: str, *, params: Mapping[str, object] | None = None, body: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        """One request, whole within ``timeout`` seconds; the decoded JSON object, or :class:`MlflowError`.

        httpx's timeout bounds each read, so a server that trickles its answer a byte at a
        time would hold the call for as long as it likes: the body is read against one
        deadline for the whole call (as telemetry's HttpReader does) and bounded in size.
        """
        where = f"MLflow at {self.label}"
        try:
            response = fetch(self._http(), method, path, timeout=self.conn.timeout, max_bytes=MAX_BYTES, params=params, body=body)
        except NoAnswer as exc:
            if not exc.sent:
                raise MlflowError(f"{where} {exc.reason}", sent=False) from None
            if exc.timed_out:
                raise MlflowError(f"{where} did not answer within {self.conn.timeout:g} s ({method} {path})") from None
            raise MlflowError(f"{where}: {method} {path} {exc.reason}") from None
        content = response.content
        try:
            data = json.loads(content) if content else {}
        except ValueError:
            data = None
        if response.status >= 400 or response.status in range(300, 400):
            code = data.get("error_code", "") if isinstance(data, dict) else ""
            message = data.get("message", "") if isinstance(data, dict) else content[:200].decode("utf-8", "replace")
            detail = f"{code}: {message}" if code else (message or response.phrase)
            raise MlflowError(
                f"{where} answered {response.status} to {method} {path}: {_line(str(detail))}",
                status=response.status,
                code=str(code),
            )
        if not isinstance(data, dict):
            raise MlflowError(f"{where} answered {method} {path} with something that is not a JSON object", status=response.status)
        return data

    # ---- registered models ------------------------------------------------------------------

    def ping(self) -> None:
        """A cheap authenticated read: proves the server, the API and the credentials."""
        self.read("GET", "/registered-models/search", params={"max_results": 1})

    def registered_model(self, name: str) -> dict[str, Any] | None:
        return self._get_if_there("/registered-models/get", {"name": name}, "registered_model")

    def _get_if_there(self, path: str, params: Mapping[str, object], key: str) -> dict[str, Any] | None:
        """``key`` of a GET's answer ({} when the answer lacks it); None when MLflow says it does not exist."""
        try:
            return self.read("GET", path, params=params).get(key) or {}
        except MlflowError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def registered_models(self) -> list[dict[str, Any]]:
        """Every registered model, with its tags and aliases (MLflow 3's search answers carry both)."""
        return list(self._pages("/registered-models/search", "registered_models", {}))

    def create_registered_model(self, name: str, *, tags: Mapping[str, str] | None = None) -> bool:
        """Create the model unless it exists (idempotent); True when this call created it."""
        body: dict[str, object] = {"name": name}
        if tags:
            body["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        try:
            self.call("POST", "/registered-models/create", body=body)
        except MlflowError as exc:
            if exc.code != "RESOURCE_ALREADY_EXISTS":
                raise
            return False
        return True

    def delete_registered_model(self, name: str) -> None:
        self.call("DELETE", "/registered-models/delete", body={"name": name})

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self.call("POST", "/registered-models/set-tag", body={"name": name, "key": key, "value": value})

    def delete_model_tag(self, name: str, key: str) -> None:
        """Delete the tag if it is there (idempotent)."""
        self._delete_if_there("/registered-models/delete-tag", {"name": name, "key": key})

    # ---- aliases -----------------------------------------------------------------------------

    def alias(self, name: str, alias: str) -> str | None:
        """The version ``alias`` points at, or None when there is no such alias (or model)."""
        try:
            mv = self.read("GET", "/registered-models/alias", params={"name": name, "alias": alias}).get("model_version") or {}
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
        self._delete_if_there("/registered-models/alias", {"name": name, "alias": alias})

    def _delete_if_there(self, path: str, body: dict[str, Any]) -> None:
        """A DELETE that is done when the thing is already gone (MLflow answers either code)."""
        try:
            self.call("DELETE", path, body=body)
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

    def versions_of(self, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The versions of many models at once (``name IN`` searches, fetched by the pool), by model."""
        wanted = list(dict.fromkeys(names))
        chunks = [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)]
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in wanted}

        def search(chunk: list[str]) -> list[dict[str, Any]]:
            where = f"name IN ({', '.join(_quote(n) for n in chunk)})"
            return list(self._pages("/model-versions/search", "model_versions", {"filter": where}))

        for found in self.each(search, chunks):
            for mv in found:
                if str(mv.get("name")) in out:
                    out[str(mv["name"])].append(mv)
        return {name: sorted(mvs, key=lambda mv: _int(mv.get("version"))) for name, mvs in out.items()}

    def version(self, name: str, version: str) -> dict[str, Any] | None:
        return self._get_if_there("/model-versions/get", {"name": name, "version": version}, "model_version")

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
        return self._get_if_there("/runs/get", {"run_id": run_id}, "run")

    def experiment_ids(self) -> list[str]:
        """Every experiment's id (run and logged-model searches must name them), read once per client."""
        with self._experiments_lock:
            if self._experiments is None:
                self._experiments = [str(e["experiment_id"]) for e in self._pages("/experiments/search", "experiments", {}, page=1000)]
            return self._experiments

    def runs(self, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Many runs at once (info, latest metrics, params, tags, data set inputs), by run id; gone runs are left out.

        ``runs/search`` with ``run_id IN`` over every experiment, in chunks fetched by the pool.
        """
        wanted = sorted(set(run_ids))
        if not wanted:
            return {}
        experiments = self.experiment_ids()
        found: dict[str, dict[str, Any]] = {}

        def search(chunk: list[str]) -> list[dict[str, Any]]:
            body = {"experiment_ids": experiments, "filter": f"attributes.run_id IN ({', '.join(_quote(r) for r in chunk)})"}
            return list(self._posted_pages("/runs/search", "runs", body))

        for runs in self.each(search, [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)]):
            for run in runs:
                run_id = (run.get("info") or {}).get("run_id")
                if run_id:
                    found[str(run_id)] = run
        return found

    def logged_models(self, model_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """MLflow 3 logged models (info and their metrics) by id; {} from a server without them (MLflow 2)."""
        wanted = sorted(set(model_ids))
        if not wanted:
            return {}
        experiments = self.experiment_ids()

        def search(chunk: list[str]) -> list[dict[str, Any]]:
            body = {"experiment_ids": experiments, "filter": f"model_id IN ({', '.join(_quote(m) for m in chunk)})"}
            return list(self._posted_pages("/logged-models/search", "models", body))

        try:
            batches = self.each(search, [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)])
        except MlflowError as exc:
            if exc.status == 404:
                return {}
            raise
        return {str((m.get("info") or {}).get("model_id")): m for batch in batches for m in batch if (m.get("info") or {}).get("model_id")}

    # ---- paging ------------------------------------------------------------------------------

    def _pages(self, path: str, key: str, params: dict[str, object], *, page: int = PAGE) -> Iterator[dict[str, Any]]:
        return self._paged(lambda token: self.read("GET", path, params={**params, "max_results": page, **token}), path, key)

    def _posted_pages(self, path: str, key: str, body: Mapping[str, object]) -> Iterator[dict[str, Any]]:
        return self._paged(lambda token: self.read("POST", path, body={**body, "max_results": PAGE, **token}), path, key)

    def _paged(self, fetch: Callable[[dict[str, str]], dict[str, Any]], path: str, key: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            data = fetch({"page_token": token} if token else {})
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
