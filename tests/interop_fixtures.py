"""Real parts for the interop tests: one ``mlflow server`` per session, the ``gto`` CLI, a 500 server.

Loaded with ``pytest_plugins = ["tests.interop_fixtures"]`` by the modules that need it,
so the server is started once for the whole session (about 5-10 s) and only when an
MLflow test runs. mlflow and gto come with the ``test`` extra (through ``interop``);
their commands are taken from this interpreter's environment, never from PATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.local_http import free_port, respond, serving
from tests.processes import stop_group, wait_for_200

BIN = Path(sys.executable).parent
START_TIMEOUT = 120.0  # a shared 2-core machine under load takes a while to migrate a fresh sqlite


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in {BIN}: run `pip install -e '.[test]'` (the test extra brings mlflow and gto)")
    return str(path)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real MLflow tracking server (sqlite, one worker, no job executor)."""
    work = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    argv = [
        tool("mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{work / 'mlflow.db'}",
        "--default-artifact-root",
        str(work / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(argv, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_200(f"{url}/health", proc, START_TIMEOUT):
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with code {proc.returncode}: {_tail(work / 'server.log')}")
            pytest.fail(f"mlflow server did not answer /health within {START_TIMEOUT:g} s: {_tail(work / 'server.log')}")
        yield url
    finally:
        stop_group(proc)  # it has uvicorn children
        log.close()


def _tail(path: Path) -> str:
    text = path.read_text("utf-8", "replace") if path.exists() else ""
    return text[-2000:]


class Seeder:
    """Puts things into MLflow the way a training job would, over the same REST API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=f"{url}/api/2.0/mlflow", timeout=30)
        self.experiment = self.call("POST", "/experiments/create", {"name": f"exp-{uuid.uuid4().hex[:8]}"})["experiment_id"]

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        r = self.http.request(method, path, json=body, params=params or None)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    def model(self, name: str, **tags: str) -> None:
        self.call(
            "POST",
            "/registered-models/create",
            {"name": name, "tags": [{"key": k, "value": v} for k, v in tags.items()], "description": f"{name} from MLflow"},
        )

    def run(self, *, user: str, metrics: dict[str, float], params: dict[str, str], tags: dict[str, str] | None = None) -> str:
        info = self.call("POST", "/runs/create", {"experiment_id": self.experiment, "user_id": user, "start_time": 1767225600000})["run"][
            "info"
        ]
        run_id = info["run_id"]
        now = 1767225600000
        self.call(
            "POST",
            "/runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": k, "value": v, "timestamp": now, "step": 0} for k, v in metrics.items()],
                "params": [{"key": k, "value": v} for k, v in params.items()],
                "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
            },
        )
        return run_id

    def version(self, name: str, source: str, run_id: str | None = None, **tags: str) -> str:
        body: dict[str, Any] = {"name": name, "source": source, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        if run_id:
            body["run_id"] = run_id
        return self.call("POST", "/model-versions/create", body)["model_version"]["version"]

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.call("POST", "/registered-models/alias", {"name": name, "alias": alias, "version": version})

    def alias(self, name: str, alias: str) -> str | None:
        r = self.http.get("/registered-models/alias", params={"name": name, "alias": alias})
        return r.json()["model_version"]["version"] if r.status_code == 200 else None

    def versions(self, name: str) -> list[dict[str, Any]]:
        found = self.call("GET", "/model-versions/search", filter=f"name = '{name}'").get("model_versions", [])
        return sorted(found, key=lambda mv: int(mv["version"]))

    def get_version(self, name: str, version: str) -> dict[str, Any]:
        return self.call("GET", "/model-versions/get", name=name, version=version)["model_version"]

    def registered(self, name: str) -> dict[str, Any]:
        return self.call("GET", "/registered-models/get", name=name)["registered_model"]


@pytest.fixture(scope="session")
def seeder(mlflow_server: str) -> Iterator[Seeder]:
    s = Seeder(mlflow_server)
    yield s
    s.http.close()


def unique(prefix: str) -> str:
    """A model name no other test uses on the shared server."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def server_500() -> Iterator[str]:
    """A local HTTP server that answers every request with 500 and an MLflow-style error body."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = json.dumps({"error_code": "INTERNAL_ERROR", "message": "database is locked"}).encode()
            respond(self, 500, body, {"Content-Type": "application/json"})

        do_GET = do_POST = do_DELETE = do_PATCH = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url


@pytest.fixture
def refused_url() -> str:
    """A URL on which nothing listens: connection refused."""
    return f"http://127.0.0.1:{free_port()}"


def gto(repo: Path, *args: str, who: tuple[str, str] = ("Test Author", "author@example.com")) -> str:
    """Run the real ``gto`` CLI in ``repo`` as ``who`` (GTO's tagger is git's committer identity)."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", str(repo)),
        "LANG": "C.UTF-8",
        "GIT_COMMITTER_NAME": who[0],
        "GIT_COMMITTER_EMAIL": who[1],
        "GIT_AUTHOR_NAME": who[0],
        "GIT_AUTHOR_EMAIL": who[1],
    }
    proc = subprocess.run([tool("gto"), *args], cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, f"gto {' '.join(args)} failed: {proc.stdout}{proc.stderr}"
    return proc.stdout


class ClientSeeder:
    """Builds MLflow registries with MLflow 3's own Python client, the way training code does.

    Runs with params, metrics and ``log_input`` data sets, MLflow 3 logged models (external
    models: no artifacts to write), ``register_model`` from ``models:/m-…``, aliases, tags,
    and deleted versions. ``mlflow`` is imported once, when the first test needs it.
    """

    def __init__(self, url: str) -> None:
        import mlflow

        self.mlflow = mlflow
        self.url = url
        mlflow.set_tracking_uri(url)
        self.client = mlflow.MlflowClient(url)
        self.experiment = self.client.create_experiment(f"client-{uuid.uuid4().hex[:8]}")

    def train(
        self,
        *,
        metrics: dict[str, float],
        params: dict[str, str] | None = None,
        model_metrics: dict[str, float] | None = None,
        data: dict[str, tuple[str, str]] | None = None,
        tags: dict[str, str] | None = None,
    ) -> tuple[str, str]:
        """One training run that logs a model: (run id, logged model id).

        ``data`` is context → (data set name, digest), logged with ``mlflow.log_input``;
        ``model_metrics`` are logged against the logged model (MLflow 3 model metrics).
        """
        from mlflow.data.http_dataset_source import HTTPDatasetSource
        from mlflow.data.meta_dataset import MetaDataset

        mlflow = self.mlflow
        with mlflow.start_run(experiment_id=self.experiment) as run:
            if params:
                mlflow.log_params(params)
            for key, value in metrics.items():
                mlflow.log_metric(key, value)
            if tags:
                mlflow.set_tags(tags)
            datasets = []
            for context, (name, digest) in (data or {}).items():
                ds = MetaDataset(source=HTTPDatasetSource(f"https://data.example.com/{name}.parquet"), name=name, digest=digest)
                mlflow.log_input(ds, context=context)
                datasets.append(ds)
            logged = mlflow.create_external_model(name="model", source_run_id=run.info.run_id)
            for key, value in (model_metrics or {}).items():
                mlflow.log_metric(key, value, model_id=logged.model_id, dataset=datasets[0] if datasets else None)
        return run.info.run_id, logged.model_id

    def register(self, model_id: str, name: str, **tags: str) -> str:
        """``mlflow.register_model("models:/<model id>", name)``: the new version's number."""
        mv = self.mlflow.register_model(f"models:/{model_id}", name, tags=tags or None, await_registration_for=0)
        return str(mv.version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def delete_version(self, name: str, version: str) -> None:
        self.client.delete_model_version(name, version)


@pytest.fixture(scope="session")
def client_seeder(mlflow_server: str) -> ClientSeeder:
    return ClientSeeder(mlflow_server)


_GTO_DRIVER = r"""
import contextlib, io, json, os, sys, time
from datetime import datetime
import dulwich.porcelain.tag as dulwich_tag
from gto.cli import app

class Clock:
    now = None
    def time(self):
        return self.now if self.now is not None else time.time()
    def __getattr__(self, name):
        return getattr(time, name)

clock = dulwich_tag.time = Clock()
steps = json.load(sys.stdin)
out = []
for step in steps:
    clock.now = datetime.fromisoformat(step["date"]).timestamp() if step.get("date") else None
    env = {"GIT_COMMITTER_NAME": step["who"][0], "GIT_COMMITTER_EMAIL": step["who"][1], "GIT_AUTHOR_NAME": step["who"][0],
           "GIT_AUTHOR_EMAIL": step["who"][1]}
    if step.get("date"):
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = step["date"]
    os.environ.update(env)
    if not step.get("date"):
        os.environ.pop("GIT_COMMITTER_DATE", None)
    buf, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        try:
            app.main(args=step["args"], prog_name="gto", standalone_mode=False)
        except SystemExit as exc:
            code = exc.code or 0
        except Exception as exc:
            code, err = 1, io.StringIO(f"{type(exc).__name__}: {exc}")
    out.append({"code": code, "stdout": buf.getvalue(), "stderr": err.getvalue()})
json.dump(out, sys.stdout)
"""


def gto_steps(repo: Path, steps: list[tuple[tuple[str, str], str | None, list[str]]]) -> list[str]:
    """Run the real ``gto`` CLI (its click app, ``gto.cli:app``) for each step, in one process.

    A step is ``(who, date, args)``: who tags (GTO's tagger is git's committer), and the
    tag's date (None: now). GTO tags through dulwich, which stamps ``time.time()``; the
    driver sets that clock to the step's date, as ``faketime`` would, so a fixture can
    make late tags (as a teammate's clone pushed later does) and keep every event in its
    own second, which GTO needs to order them. One interpreter for all the steps saves
    GTO's start-up (about 2 s a call on a loaded machine). Each step must succeed.
    """
    payload = [{"who": list(who), "date": date, "args": args} for who, date, args in steps]
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": os.environ.get("HOME", str(repo)), "LANG": "C.UTF-8"}
    if os.environ.get("GIT_CONFIG_NOSYSTEM"):
        env["GIT_CONFIG_NOSYSTEM"] = os.environ["GIT_CONFIG_NOSYSTEM"]
    proc = subprocess.run(
        [sys.executable, "-c", _GTO_DRIVER], cwd=repo, env=env, input=json.dumps(payload), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"the gto driver failed: {proc.stderr[-2000:]}"
    results = json.loads(proc.stdout)
    for (_who, _date, args), result in zip(steps, results, strict=True):
        assert result["code"] == 0, f"gto {' '.join(args)} failed: {result['stdout']}{result['stderr']}"
    return [r["stdout"] for r in results]


class MlflowProxy:
    """A local HTTP proxy in front of the real MLflow server that can stop answering on cue.

    ``cut_after_alias``: once a ``POST /registered-models/alias`` has been answered, every
    later request gets its connection closed without an answer (MLflow "stops answering
    right after the alias move"). ``drop_alias_answer``: the alias move reaches MLflow and
    is applied, but its answer is never sent, and everything after is cut too. ``heal()``
    makes it a plain proxy again.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.moved = threading.Event()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request seen
        self.connections = 0  # TCP connections accepted (keep-alive makes this small)
        self._http = httpx.Client(base_url=upstream, timeout=30)
        proxy = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with lock:
                    proxy.connections += 1

            def _forward(self) -> None:
                with lock:
                    proxy.requests.append((self.command, self.path.split("?")[0]))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.mode != "pass" and proxy.moved.is_set():
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                r = proxy._http.request(self.command, self.path, content=body, headers=headers)
                if self.command == "POST" and self.path.startswith("/api/2.0/mlflow/registered-models/alias") and r.status_code == 200:
                    proxy.moved.set()
                    if proxy.mode == "drop_alias_answer":
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() in ("content-type",):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_DELETE = do_PATCH = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def heal(self) -> None:
        self.mode = "pass"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._http.close()


@pytest.fixture
def mlflow_proxy(mlflow_server: str) -> Iterator[MlflowProxy]:
    proxy = MlflowProxy(mlflow_server)
    try:
        yield proxy
    finally:
        proxy.close()


# The people of the GTO fixtures (GTO's tagger is git's committer identity).
ANN = ("Ann Lee", "ann@example.com")
BOB = ("Bob Roy", "bob@example.com")
CAROL = ("Carol Diaz", "carol@example.com")
DAVE = ("Dave Kim", "dave@example.com")
ERIN = ("Erin Wu", "erin@example.com")


@contextlib.contextmanager
def gto_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A HOME with a git identity and no system git config, for GTO repositories made once per module.

    Module-scoped fixtures run before the per-test isolation, so they set their own.
    """
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("[user]\n\tname = Test Author\n\temail = author@example.com\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        yield home
