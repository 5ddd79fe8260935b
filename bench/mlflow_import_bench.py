"""``mlrelease import mlflow`` against a real ``mlflow server``: 20 registered models × 10 versions (issue 12 item 11).

What users' registries look like: every version registered from its own training run
(params, metrics, a ``log_input`` data set) and, like MLflow 3's ``register_model``,
from a logged model with its own metric (``models:/m-…`` source); aliases ``staging``
and ``production`` on each model. Seeding goes through the REST API directly (the
``mlflow`` client's start-up would dominate and the registry is the same).

Then it times the import into a fresh registry, ``--reps`` times (median), with each
``mlrelease`` given by ``--mlrelease PATH`` (repeatable) — e.g. the executable of a
checkout of the base commit and of this one, to compare before and after on the same
server and data — and prints the machine's load average before and after each, since
the machine may be shared.

Run: ``.venv/bin/python -m bench.mlflow_import_bench --mlrelease /work/base/.venv/bin/mlrelease
--mlrelease .venv/bin/mlrelease`` (``--models 20 --versions 10 --reps 3`` are the defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' helpers: a registry, a free port, a server's life
from tests.builders import commit_all, config, git, write  # noqa: E402
from tests.local_http import free_port  # noqa: E402
from tests.processes import stop_group, wait_for_200  # noqa: E402


def start_server(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    argv = [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}", "--default-artifact-root", str(work / "art")]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(argv, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    if wait_for_200(f"{url}/health", proc, 180, every=0.3):
        return proc, url
    stop_group(proc, timeout=20)
    raise SystemExit(f"mlflow server did not start: {(work / 'server.log').read_text()[-2000:]}")


def seed(url: str, models: int, versions: int) -> int:
    """The registry; returns the number of model versions made."""
    http = httpx.Client(base_url=f"{url}/api/2.0/mlflow", timeout=60)

    def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = http.post(path, json=body)
        r.raise_for_status()
        return r.json()

    experiment = call("/experiments/create", {"name": "bench"})["experiment_id"]
    made = 0
    for m in range(models):
        name = f"model-{m:02d}"
        call("/registered-models/create", {"name": name, "tags": [{"key": "owner", "value": "team-bench"}]})
        numbers = []
        for v in range(versions):
            run = call("/runs/create", {"experiment_id": experiment, "user_id": f"user{v % 3}", "start_time": 1767225600000})["run"]
            run_id = run["info"]["run_id"]
            metrics = [{"key": k, "value": 0.7 + (m + v) / 1000, "timestamp": 1767225600000, "step": 0} for k in ("f1", "auc", "recall")]
            params = [{"key": "depth", "value": str(v)}, {"key": "lr", "value": "0.1"}]
            call("/runs/log-batch", {"run_id": run_id, "metrics": metrics, "params": params})
            dataset = {"name": "transactions", "digest": f"d{v:04d}", "source_type": "http", "source": "{}"}
            call(
                "/runs/log-inputs",
                {"run_id": run_id, "datasets": [{"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": "training"}]}]},
            )
            logged = call("/logged-models", {"experiment_id": experiment, "name": "model", "source_run_id": run_id})["model"]["info"]
            model_id = logged["model_id"]
            precision = {"run_id": run_id, "key": "precision", "value": 0.8, "timestamp": 1767225600000, "step": 0, "model_id": model_id}
            call("/runs/log-metric", precision)  # a metric of the logged model (MLflow 3)
            mv = call("/model-versions/create", {"name": name, "source": f"models:/{model_id}", "model_id": model_id, "run_id": run_id})
            numbers.append(mv["model_version"]["version"])
            made += 1
        call("/registered-models/alias", {"name": name, "alias": "staging", "version": numbers[-1]})
        call("/registered-models/alias", {"name": name, "alias": "production", "version": numbers[-2]})
    http.close()
    return made


def registry(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    write(path, "mlrelease.yaml", config())
    commit_all(path, "Start the registry")
    return path


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def time_import(mlrelease: str, url: str, work: Path, reps: int) -> dict[str, Any]:
    walls = []
    loads = []
    for rep in range(reps):
        root = registry(work / f"reg-{abs(hash(mlrelease))}-{rep}")
        before = load()
        started = time.monotonic()
        proc = subprocess.run(
            [mlrelease, "--repo", str(root), "import", "mlflow", "--tracking-uri", url, "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        walls.append(time.monotonic() - started)
        loads.append(f"{before} → {load()}")
        if proc.returncode != 0:
            raise SystemExit(f"{mlrelease} import failed: {proc.stdout[-1000:]}{proc.stderr[-1000:]}")
        report = json.loads(proc.stdout)
        shutil.rmtree(root)
    return {
        "mlrelease": mlrelease,
        "median_s": round(statistics.median(walls), 2),
        "runs_s": [round(w, 2) for w in walls],
        "versions": len(report["versions"]),
        "load": loads,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mlrelease", action="append", default=[], help="an mlrelease executable to time (repeatable)")
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--url", help="an MLflow server already seeded by this script (skips starting and seeding one)")
    args = ap.parse_args()
    tools = args.mlrelease or [str(Path(sys.executable).parent / "mlrelease")]
    with tempfile.TemporaryDirectory(prefix="mlflow-import-bench-") as tmp:
        work = Path(tmp)
        if args.url:
            print(f"using {args.url}; load {load()}")
            for tool in tools:
                print(json.dumps(time_import(tool, args.url, work, args.reps)))
            return
        proc, url = start_server(work)
        try:
            started = time.monotonic()
            made = seed(url, args.models, args.versions)
            print(f"seeded {args.models} models × {args.versions} versions ({made}) in {time.monotonic() - started:.1f} s; load {load()}")
            for tool in tools:
                print(json.dumps(time_import(tool, url, work, args.reps)))
        finally:
            stop_group(proc, timeout=20)


if __name__ == "__main__":
    main()
