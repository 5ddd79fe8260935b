"""Scale benchmark (issue 17): every read command at 1,000, 10,000 and 100,000 versions.

Registries come from :mod:`bench.gen` (shaped like users' data, with long imported
histories), built once under ``bench/out/gen/<size>/`` and reused (``--rebuild`` makes
them again). For each size the real CLI runs as a subprocess, several times, and the
table gives per command:

* **cold**: ``.git/mlrelease/`` (parse cache and indexes) deleted before every run — the
  first command after a clone; the operating system's file cache stays warm;
* **warm**: the same command again, with what the first run left there;
* the median wall time of each, the median CPU time (user + system, children included:
  steadier than wall time on a shared machine) and the peak RSS (from ``wait4``);
* the TUI (``bench/tui_scale.py``, Pilot at 160×50): first paint and Health/Status
  filled, from the process's start, cold and warm.

Beside them, measured in the same run on the same registry, **the floor**
(:mod:`bench.floor`): ``git ls-tree -r`` plus one ``git cat-file --batch`` of every
blob, and PyYAML's C loader parsing every registry file on one core — the least any
command that reads everything could cost. The targets of issue 17 are checked at
100,000 versions (lint against twice the floor) and ``uptime``'s load is printed before
and after each size: on a machine shared with others, a run at load 6 is not a run at
load 1, and the CPU column says more than the wall clock.

Commands run as after ``pip install``: bytecode compiled first (``compileall`` of the
measured package). Each measurement stops repeating after ``--budget`` seconds (at
least one run), so a slow "before" does not take all afternoon; the table says how many
runs each median has.

    .venv/bin/python -m bench.scale [--sizes 1k,10k,100k] [--reps 5] [--budget 60]
                                    [--cli PATH/TO/mlrelease] [--label NAME] [--rebuild]

``--cli /work/base/.venv/bin/mlrelease`` measures another checkout (the "before" table).
Results go to ``bench/out/scale-<label>.json``.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parent.parent
SIZES = ("1k", "10k", "100k")
RSS_TARGET_MB = 300
STARTUP_TARGET_CPU = 0.15


@dataclass(frozen=True)
class Case:
    label: str
    argv: tuple[str, ...]
    cold: bool = True  # also measure with .git/mlrelease deleted
    ok_codes: tuple[int, ...] = (0,)
    target_cold: float | None = None  # seconds at 100,000 versions
    target_warm: float | None = None
    needs: str | None = None  # a word that must appear in `mlrelease COMMAND --help` (features others add)
    env: tuple[tuple[str, str], ...] = ()  # added to the command's environment
    verified: bool = False  # run `mlrelease verify` once before the warm runs (list/history keep answers only once verified)


COMPUTED = (("MLRELEASE_NO_ANSWERS", "1"),)


def cases(p: dict[str, str]) -> list[Case]:
    m, v, prev, ds, dsv = p["model"], p["version"], p["previous"], p["dataset"], p["dataset_version"]
    return [
        Case("--version", ("--version",), cold=False),
        Case("list --json", ("list", "--json"), target_cold=1.0, target_warm=0.3, verified=True),
        Case("list", ("list",), target_cold=None, target_warm=None),
        Case("show MODEL --json", ("show", m, "--json"), target_cold=0.3, target_warm=0.3),
        Case("show MODEL@VERSION", ("show", f"{m}@{v}", "--json"), target_cold=0.3, target_warm=0.3),
        Case("diff A B", ("diff", f"{m}@{prev}", f"{m}@{v}", "--json"), target_cold=0.3, target_warm=0.3),
        Case("lineage MODEL@VERSION", ("lineage", f"{m}@{v}", "--json"), target_cold=0.3, target_warm=0.3),
        Case("lineage --dataset N@V", ("lineage", "--dataset", f"{ds}@{dsv}", "--json"), target_warm=0.5),
        Case("lineage --dataset N", ("lineage", "--dataset", ds, "--json"), target_warm=0.5, needs="NAME[@VERSION]"),
        Case("history --json", ("history", "--json"), target_warm=0.5, verified=True),
        Case("history MODEL", ("history", m, "--json"), target_warm=0.5, verified=True),
        Case("history --env E", ("history", "--env", "production", "--json"), target_warm=0.5, verified=True),
        Case("list --at DATE", ("list", "--at", p["at"], "--json"), target_warm=0.5, needs="--at", verified=True),
        Case("history MODEL --at DATE", ("history", m, "--at", p["at"], "--json"), target_warm=0.5, needs="--at", verified=True),
        Case("show MODEL --at DATE", ("show", m, "--at", p["at"], "--json"), target_warm=0.5, needs="--at"),
        # the same answers computed (indexes warm, kept answers off: MLRELEASE_NO_ANSWERS, cli/kept.py)
        Case("list --json, computed", ("list", "--json"), cold=False, env=COMPUTED),
        Case("history --json, computed", ("history", "--json"), cold=False, env=COMPUTED),
        Case("verify", ("verify", "--json"), ok_codes=(0, 11), needs="verify"),
        Case("check --json", ("check", "--json"), ok_codes=(0, 8), target_cold=2.0, target_warm=0.5),
        Case("lint", ("lint",), target_warm=2.0),  # cold: against twice the floor
    ]


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    rss_mb: float


def child_env(extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "MLRELEASE_NO_ANSWERS")}
    return {**env, **dict(extra)}


def run_once(argv: list[str], ok_codes: tuple[int, ...], timeout: float, env: tuple[tuple[str, str], ...] = ()) -> Run:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env(env))
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in ok_codes:
        raise RuntimeError(f"{' '.join(argv[-4:])} exited {code}: {err.decode(errors='replace').strip()[:300]}")
    del timeout
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def clear(root: Path) -> None:
    shutil.rmtree(root / ".git" / "mlrelease", ignore_errors=True)


def measure(argv: list[str], case: Case, reps: int, budget: float, *, cold: bool, root: Path) -> dict[str, Any]:
    runs: list[Run] = []
    spent = 0.0
    while len(runs) < reps and (not runs or spent < budget):
        if cold:
            clear(root)
        r = run_once(argv, case.ok_codes, budget, case.env)
        runs.append(r)
        spent += r.seconds
    return {
        "median_s": statistics.median(r.seconds for r in runs),
        "median_cpu_s": statistics.median(r.cpu for r in runs),
        "peak_rss_mb": max(r.rss_mb for r in runs),
        "runs": len(runs),
        "runs_s": [round(r.seconds, 3) for r in runs],
    }


def supported(cli: list[str], root: Path, case: Case) -> bool:
    if case.needs is None:
        return True
    command = case.argv[0]
    proc = subprocess.run([*cli, "--repo", str(root), command, "--help"], capture_output=True, env=child_env(), check=False)
    return proc.returncode == 0 and case.needs in proc.stdout.decode()


def compile_bytecode(cli: list[str]) -> None:
    """Bytecode for the measured mlrelease and its dependencies, as ``pip install`` leaves it."""
    python = _python(cli)
    where = subprocess.run(
        [python, "-c", "import mlrelease; print(mlrelease.__path__[0])"], capture_output=True, check=True, env=child_env()
    )
    subprocess.run(
        [python, "-m", "compileall", "-q", where.stdout.decode().strip()], check=False, env=child_env(), stdout=subprocess.DEVNULL
    )


def registry(size: str, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    root = OUT / "gen" / size
    info_path = OUT / "gen" / f"{size}.json"
    if rebuild or not (root / "mlrelease.yaml").is_file() or not info_path.is_file():
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        print(f"building the {size} registry …", file=sys.stderr)
        out = subprocess.run([sys.executable, "-m", "bench.gen", str(root), "--size", size], cwd=REPO, check=True, capture_output=True)
        info_path.write_text(out.stdout.decode())
    return root, json.loads(info_path.read_text())


def pick(root: Path) -> dict[str, str]:
    """A model in the middle, live in production, with a parent; a data set version it used."""
    models = sorted(p.name for p in (root / "models").iterdir() if p.is_dir())
    for name in models[len(models) // 2 :] + models:
        state_path = root / "releases" / "production" / f"{name}.yaml"
        if not state_path.is_file():
            continue
        state = yaml.safe_load(state_path.read_text())
        live = (state.get("live") or {}).get("version")
        manifest = yaml.safe_load((root / "models" / name / "versions" / f"{live}.yaml").read_text()) if live else None
        if manifest and manifest.get("parent") and manifest.get("data"):
            train = manifest["data"]["train"]
            since = state["live"]["since"]
            return {
                "model": name,
                "version": str(live),
                "previous": str(manifest["parent"]),
                "dataset": train["dataset"],
                "dataset_version": str(train["version"]),
                "at": str(since)[:10],
            }
    raise SystemExit(f"{root}: no model live in production with a parent and data")


def floor(root: Path, times: int = 3) -> dict[str, Any]:
    runs = []
    for _ in range(max(1, times)):
        out = subprocess.run([sys.executable, "-m", "bench.floor", str(root)], cwd=REPO, check=True, capture_output=True)
        runs.append(json.loads(out.stdout))
    best = min(runs, key=lambda r: r["c_parse_cpu_s"])
    best["read_s"] = statistics.median(r["read_s"] for r in runs)
    best["c_parse_s"] = statistics.median(r["c_parse_s"] for r in runs)
    return best


def bench_size(
    size: str, cli: list[str], reps: int, budget: float, rebuild: bool, only: set[str] | None, floor_runs: int = 3
) -> dict[str, Any]:
    root, info = registry(size, rebuild)
    params = pick(root)
    base = [*cli, "--repo", str(root)]
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    fl = floor(root, floor_runs)
    for case in cases(params):
        if only is not None and case.label not in only:
            continue
        if not supported(cli, root, case):
            results[case.label] = {"skipped": "not supported by this mlrelease"}
            continue
        argv = [*base, *case.argv]
        try:
            entry: dict[str, Any] = {}
            if case.cold:
                entry["cold"] = measure(argv, case, reps, budget, cold=True, root=root)
            else:
                run_once(argv, case.ok_codes, budget, case.env)
            if case.verified and supported(cli, root, Case("verify", ("verify",), needs="verify")):
                run_once([*base, "verify", "--json"], (0, 11), budget)  # as `list` tells a user to, once per tip
            entry["warm"] = measure(argv, case, reps, budget, cold=False, root=root)  # the last cold run filled the caches
            results[case.label] = entry
        except RuntimeError as exc:
            results[case.label] = {"error": str(exc)}
        print(f"  {size} {case.label}: {_brief(results[case.label])}", file=sys.stderr)
    if only is None or "tui" in only:
        results.update(tui(cli, root, reps, budget))
        print(f"  {size} tui: {_brief(results['tui first paint'])}; filled {_brief(results['tui filled'])}", file=sys.stderr)
    return {
        "size": size,
        "info": info,
        "params": params,
        "floor": fl,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "results": results,
    }


def tui(cli: list[str], root: Path, reps: int, budget: float) -> dict[str, Any]:
    """First paint and Health/Status filled (bench/tui_scale.py in a process of its own), cold and warm."""
    argv = [_python(cli), str(Path(__file__).with_name("tui_scale.py")), str(root)]
    out: dict[str, Any] = {"tui first paint": {}, "tui filled": {}}
    for mode in ("cold", "warm"):
        runs: list[dict[str, float]] = []
        spent = 0.0
        while len(runs) < reps and (not runs or spent < budget):
            if mode == "cold":
                clear(root)
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                error = {"error": stderr.decode(errors="replace").strip()[-300:]}
                return {"tui first paint": error, "tui filled": error}
            runs.append(json.loads(stdout))
            spent += runs[-1]["filled_s"]
        for label, key in (("tui first paint", "first_paint_s"), ("tui filled", "filled_s")):
            out[label][mode] = {
                "median_s": statistics.median(r[key] for r in runs),
                "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
                "peak_rss_mb": max(r["rss_mb"] for r in runs),
                "runs": len(runs),
                "runs_s": [round(r[key], 3) for r in runs],
            }
    return out


def _python(cli: list[str]) -> str:
    shebang = Path(cli[0]).read_text().splitlines()[0]
    return shebang[2:].strip() if shebang.startswith("#!") else sys.executable


def _brief(entry: dict[str, Any]) -> str:
    if "cold" in entry or "warm" in entry:
        return "  ".join(f"{k} {entry[k]['median_s']:.3f} s" for k in ("cold", "warm") if k in entry)
    return str(entry)


def _fmt(entry: dict[str, Any] | None, key: str) -> str:
    if not entry:
        return "—"
    return f"{entry[key]:.3f} s"


def verdict(size: dict[str, Any], label: str, entry: dict[str, Any]) -> str:
    if size["size"] != "100k":
        return ""
    if label.startswith("tui"):
        limit = 1.5 if label == "tui first paint" else 3.0
        cold = entry.get("cold")
        return f"cold ≤ {limit} s {'ok' if cold and cold['median_s'] <= limit else 'MISSED'}" if cold else ""
    case = next(c for c in cases(size["params"]) if c.label == label)
    marks = []
    if label == "lint" and "cold" in entry:
        limit = 2 * size["floor"]["c_parse_s"]
        marks.append(f"cold ≤ {limit:.1f} s (2× floor) {'ok' if entry['cold']['median_s'] <= limit else 'MISSED'}")
    if case.target_cold is not None and "cold" in entry:
        marks.append(f"cold ≤ {case.target_cold} s {'ok' if entry['cold']['median_s'] <= case.target_cold else 'MISSED'}")
    if case.target_warm is not None and "warm" in entry:
        marks.append(f"warm ≤ {case.target_warm} s {'ok' if entry['warm']['median_s'] <= case.target_warm else 'MISSED'}")
    if label == "--version":
        cpu = entry["warm"]["median_cpu_s"]
        marks.append(f"cpu ≤ {STARTUP_TARGET_CPU} s {'ok' if cpu <= STARTUP_TARGET_CPU else 'MISSED'}")
    return "; ".join(marks)


def table(size: dict[str, Any]) -> str:
    info, fl = size["info"], size["floor"]
    head = ["command", "cold", "warm", "cpu cold", "cpu warm", "runs", "peak RSS", "target (100k)"]
    rows = []
    for label, entry in size["results"].items():
        if "cold" not in entry and "warm" not in entry:
            rows.append([label, entry.get("skipped") or entry.get("error", "")[:80], "", "", "", "", "", ""])
            continue
        cold, warm = entry.get("cold"), entry.get("warm")
        rss = max(e["peak_rss_mb"] for e in (cold, warm) if e)
        runs = "/".join(str(e["runs"]) for e in (cold, warm) if e)
        rows.append(
            [
                label,
                _fmt(cold, "median_s"),
                _fmt(warm, "median_s"),
                _fmt(cold, "median_cpu_s"),
                _fmt(warm, "median_cpu_s"),
                runs,
                f"{rss:.0f} MB",
                verdict(size, label, entry),
            ]
        )
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        f"== {size['size']}: {info['versions']:,} versions, {info['models']} models, {info['release_commits']:,} release commits, "
        f"{info['commits']:,} commits ({info['imported_models']} models imported from GTO)",
        f"   load before {' '.join(f'{x:.2f}' for x in size['load_before'])}, after {' '.join(f'{x:.2f}' for x in size['load_after'])}",
        f"   floor: ls-tree + cat-file --batch of {fl['blobs']:,} blobs ({fl['bytes'] / 1e6:.0f} MB) {fl['read_s']:.2f} s; "
        f"C loader over {fl['yaml_files']:,} files ({fl['yaml_bytes'] / 1e6:.0f} MB) {fl['c_parse_s']:.2f} s on one core "
        f"(cpu {fl['c_parse_cpu_s']:.2f} s); "
        f"json.loads of the same ≈ {fl['json_loads_s_estimate']:.2f} s",
        "  ".join(str(c).ljust(w) for c, w in zip(head, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    peak = max((e[k]["peak_rss_mb"] for e in size["results"].values() for k in ("cold", "warm") if k in e), default=0)
    lines.append(f"   peak RSS of any command: {peak:.0f} MB (target ≤ {RSS_TARGET_MB} MB {'ok' if peak <= RSS_TARGET_MB else 'MISSED'})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated: 1k, 10k, 100k")
    parser.add_argument("--reps", type=int, default=5, help="runs per measurement (the median is reported)")
    parser.add_argument("--budget", type=float, default=60.0, help="stop repeating a measurement after this many seconds")
    parser.add_argument("--cli", type=Path, default=Path(sys.executable).parent / "mlrelease", help="the mlrelease to measure")
    parser.add_argument("--label", default="current", help="name of this run (the output file's)")
    parser.add_argument("--only", help="comma-separated command labels to run (default: all)")
    parser.add_argument("--rebuild", action="store_true", help="build the registries again")
    parser.add_argument("--floor-runs", type=int, default=3, help="runs of the floor (the C loader over every file: minutes at 100k)")
    args = parser.parse_args()
    cli = [str(args.cli)]
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    compile_bytecode(cli)
    sizes = []
    for size in args.sizes.split(","):
        sizes.append(bench_size(size.strip(), cli, args.reps, args.budget, args.rebuild, only, args.floor_runs))
        print(table(sizes[-1]), flush=True)
        print(flush=True)
    report = {
        "label": args.label,
        "cli": str(args.cli),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "reps": args.reps,
        "budget_s": args.budget,
        "sizes": sizes,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / f"scale-{args.label}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {OUT / f'scale-{args.label}.json'}")


if __name__ == "__main__":
    main()
