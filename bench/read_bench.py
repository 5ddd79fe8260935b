"""Read-side scale benchmark: `list`, `show` and `history` at 100, 1,000 and 10,000 versions.

For each size it builds a synthetic registry (bench/synth.py, in a subprocess; kept under
bench/out/registries/ and reused, --rebuild to make it again), then runs the real CLI as
a subprocess, several times, and keeps the median wall time, the median CPU time (user +
system, children included: steadier than wall time on a shared machine) and the peak RSS:

* ``list --json`` cold — the parse cache (.git/mlrelease/parse-cache.sqlite) deleted
  before every run — and warm;
* ``show MODEL --json`` cold and warm (one model's every manifest);
* ``history`` as a table (the newest events, as people see it), ``history --json`` (every
  event of every release commit) and ``history MODEL --json``.

Commands run as after a normal install: bytecode is cached (in bench/out/pycache, even
when PYTHONDONTWRITEBYTECODE is set here) and one unmeasured run comes first. The bench
process itself stays small (it never imports mlrelease), so the peak RSS that ``wait4``
reports for a child is the child's own.

It prints a table with the growth from one size to the next and the issue's targets, and
writes every measurement to bench/out/read.json.

    .venv/bin/python -m bench.read_bench [--reps 5] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parent.parent
SIZES = ((10, 10, 50), (40, 25, 500), (100, 100, 5000))  # models, versions per model, release commits
TARGETS = {  # seconds at 10,000 versions / 5,000 release commits (issue 2)
    "list cold": 1.5,
    "list warm": 0.5,
    "history --json": 1.0,
}
RSS_TARGET_MB = 200


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    rss_mb: float


def child_env() -> dict[str, str]:
    """Our environment, with bytecode caching on (as an installed mlrelease has it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")
    return env


def cli() -> list[str]:
    """The installed ``mlrelease`` beside this interpreter (the venv's), else ``python -m mlrelease``."""
    script = Path(sys.executable).parent / "mlrelease"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mlrelease"]


def run_once(argv: list[str]) -> Run:
    """Wall time and peak RSS of one command (its own rusage, from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env())
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode(errors='replace').strip()}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def clear_cache(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (root / ".git" / "mlrelease" / f"parse-cache.sqlite{suffix}").unlink(missing_ok=True)


def measure(argv: list[str], reps: int, *, before: Callable[[], None] | None = None) -> dict[str, Any]:
    runs = []
    for _ in range(reps):
        if before is not None:
            before()
        runs.append(run_once(argv))
    return {
        "median_s": statistics.median(r.seconds for r in runs),
        "min_s": min(r.seconds for r in runs),
        "median_cpu_s": statistics.median(r.cpu for r in runs),
        "peak_rss_mb": max(r.rss_mb for r in runs),
        "runs_s": [round(r.seconds, 4) for r in runs],
    }


def registry(models: int, versions: int, releases: int, rebuild: bool) -> Path:
    root = OUT / "registries" / f"{models}x{versions}-h{releases}"
    if rebuild or not (root / "mlrelease.yaml").is_file():
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "bench.synth", str(root), f"--models={models}", f"--versions={versions}", f"--releases={releases}"]
        subprocess.run(argv, cwd=REPO, check=True, stdout=sys.stderr)
    return root


def bench_size(models: int, versions: int, releases: int, reps: int, rebuild: bool) -> dict[str, Any]:
    root = registry(models, versions, releases, rebuild)
    model = f"model-{models // 2:05d}"
    base = [*cli(), "--repo", str(root)]
    results: dict[str, Any] = {}
    run_once([*base, "list", "--json"])  # bytecode compiled and cached, as after an install
    results["list cold"] = measure([*base, "list", "--json"], reps, before=lambda: clear_cache(root))
    run_once([*base, "list", "--json"])
    results["list warm"] = measure([*base, "list", "--json"], reps)
    results["show cold"] = measure([*base, "show", model, "--json"], reps, before=lambda: clear_cache(root))
    run_once([*base, "show", model, "--json"])
    results["show warm"] = measure([*base, "show", model, "--json"], reps)
    results["history"] = measure([*base, "history"], reps)
    results["history --json"] = measure([*base, "history", "--json"], reps)
    results["history MODEL"] = measure([*base, "history", model, "--json"], reps)
    return {
        "models": models,
        "versions_per_model": versions,
        "versions": models * versions,
        "release_commits": releases,
        "results": results,
    }


def table(sizes: list[dict[str, Any]]) -> str:
    names = list(sizes[0]["results"])
    head = ["command"] + [f"{s['versions']:,} v / {s['release_commits']:,} h" for s in sizes]
    head += [f"growth ×{sizes[i + 1]['versions'] // sizes[i]['versions']}" for i in range(len(sizes) - 1)]
    head += [f"cpu at {sizes[-1]['versions']:,}", "target (wall)", "peak RSS"]
    rows = []
    for name in names:
        medians = [s["results"][name]["median_s"] for s in sizes]
        row = [name] + [f"{m:.3f} s" for m in medians]
        row += [f"{medians[i + 1] / medians[i]:.1f}×" for i in range(len(medians) - 1)]
        row.append(f"{sizes[-1]['results'][name]['median_cpu_s']:.3f} s")
        target = TARGETS.get(name)
        last = medians[-1]
        row.append(f"≤ {target} s {'ok' if last <= target else 'MISSED'}" if target else "")
        row.append(f"{sizes[-1]['results'][name]['peak_rss_mb']:.0f} MB")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="runs per measurement (the median is reported)")
    parser.add_argument("--rebuild", action="store_true", help="build the synthetic registries again")
    args = parser.parse_args()
    sizes = [bench_size(m, v, h, args.reps, args.rebuild) for m, v, h in SIZES]
    peak = max(r["peak_rss_mb"] for s in sizes for r in s["results"].values())
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "reps": args.reps,
        "sizes": sizes,
        "targets_s": TARGETS,
        "peak_rss_mb": peak,
        "rss_target_mb": RSS_TARGET_MB,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "read.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table(sizes))
    print(f"\npeak RSS of any command: {peak:.0f} MB (target ≤ {RSS_TARGET_MB} MB {'ok' if peak <= RSS_TARGET_MB else 'MISSED'})")
    print(f"written: {OUT / 'read.json'}")


if __name__ == "__main__":
    main()
