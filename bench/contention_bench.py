"""Contention: 8 clones × 10 promotions each against one bare remote, at the same time (issue 9 item 9).

Every clone promotes its own model in ``dev`` (disjoint (model, environment) pairs, so no
promotion may be refused as stale), ten times in a row, with ``mlrelease promote --push``,
while the seven others do the same. Each run checks the record and fails loudly if it is
wrong:

- every promotion landed: 80 of 80 exit 0 and "done" (no exit 6), nothing left Pending;
- history on the remote is linear (no merge commits);
- each promotion id appears exactly once as an intent and once as an outcome commit;
- the final state of every pair is the last promotion landed there (live version and id).

First one clone promotes alone (``--solo`` times): the cost of a promote with push without
contention. Then it reports, per run: the wall time, pushes per promotion (median, max), git processes per
promotion (median, max; the git commands mlrelease ran, and every client-side git process
including their children) and CPU per promotion (user + system of the mlrelease process
and every process it waited for, from ``wait4``). Targets: ≤ 15 git processes and
≤ 0.5 s of CPU for a promote with push.

Git processes are counted with git's own trace2 (``trace2.eventTarget`` in a per-promotion
global config file: ``$HOME/.gitconfig`` and ``GIT_CONFIG_GLOBAL``, which mlrelease passes
to git as the user's choice); writing the trace costs a little CPU of its own. Processes git runs on
the remote side of a local push or fetch (``receive-pack``, ``upload-pack`` and their
children) are left out: with a real server they run there.

Run (from the repository root; the machine is shared, so say its load with the figures)::

    .venv/bin/python -m bench.contention_bench                       # this checkout
    .venv/bin/python -m bench.contention_bench --exe /work/base/.venv/bin/mlrelease   # another build
    .venv/bin/python -m bench.contention_bench --clones 4 --promotions 3 --runs 1     # smaller

The registry is :mod:`bench.synth`'s (full manifests, long release history), built once
per invocation; each run starts from a fresh bare remote and fresh clones of it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.synth import build, model_name, version_name

PYCACHE = Path(__file__).resolve().parent / "out" / "pycache"  # bytecode kept between runs, as an installed mlrelease has it
SERVER_SIDE = ("receive-pack", "upload-pack", "git-receive-pack", "git-upload-pack")


@dataclass
class Promotion:
    clone: int
    n: int
    model: str
    version: str
    code: int = -1
    result: dict[str, object] = field(default_factory=dict)
    stderr: str = ""
    cpu: float = 0.0
    commands: list[list[str]] = field(default_factory=list)  # argv of each git command mlrelease ran
    processes: int = 0  # every client-side git process, children included

    @property
    def pushes(self) -> int:
        return sum(1 for argv in self.commands if subcommand(argv) == "push")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def trace_counts(folder: Path) -> tuple[list[list[str]], int]:
    """(argv of each git command started by mlrelease, number of client-side git processes)."""
    starts: dict[str, list[str]] = {}
    for path in sorted(folder.iterdir()):  # named by start time
        for line in path.read_text(errors="replace").splitlines():
            event = json.loads(line)
            if event.get("event") == "start":
                starts[event["sid"]] = event["argv"]

    def server_side(sid: str) -> bool:
        parts = sid.split("/")
        return any(any(a in SERVER_SIDE for a in starts.get("/".join(parts[: i + 1]), [])[:4]) for i in range(len(parts)))

    client = [sid for sid in starts if not server_side(sid)]
    top = [starts[sid] for sid in client if "/" not in sid]
    return top, len(client)


def subcommand(argv: list[str]) -> str:
    """``git -c a=b -c c=d fetch --quiet origin`` → ``fetch``."""
    rest = argv[1:]
    while rest[:1] == ["-c"]:
        rest = rest[2:]
    return rest[0] if rest else "?"


def run_promotion(p: Promotion, clone: Path, work: Path, exe: str, *, traced: bool = True) -> None:
    trace = work / "trace" / f"c{p.clone}-{p.n}"
    trace.mkdir(parents=True)
    home = work / "trace" / f"c{p.clone}-{p.n}.home"
    home.mkdir()
    config = home / ".gitconfig"  # as the user's global config, also for a build that drops GIT_CONFIG_GLOBAL
    tracing = f"[trace2]\n\teventTarget = {trace}\n" if traced else ""
    config.write_text(f"[user]\n\tname = Clone {p.clone}\n\temail = clone{p.clone}@example.com\n{tracing}", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": str(config),
            "GIT_CONFIG_NOSYSTEM": "1",
            "PYTHONPYCACHEPREFIX": str(PYCACHE),
        }
    )
    argv = [exe, "--repo", str(clone), "promote", f"{p.model}@{p.version}", "--to", "dev", "--reason", f"c{p.clone} n{p.n}"]
    argv += ["--yes", "--push", "--json"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, p.stderr = out.read().decode(), err.read().decode()
    p.code = proc.returncode
    p.cpu = usage.ru_utime + usage.ru_stime
    try:
        p.result = json.loads(text) if text.strip() else {}
    except ValueError:
        p.result = {"unparsed": text}
    p.commands, p.processes = trace_counts(trace)


def check(bare: Path, start: str, promotions: list[Promotion]) -> list[str]:
    """What is wrong with the record after a run (empty: nothing)."""
    wrong = []
    bad = [p for p in promotions if p.code != 0 or (p.result.get("result") or {}).get("status") != "done"]  # type: ignore[union-attr]
    for p in bad[:5]:
        wrong.append(f"clone {p.clone} promotion {p.n}: exit {p.code}: {p.result.get('error') or p.stderr.strip()[-300:]}")
    if bad:
        wrong.append(f"{len(promotions) - len(bad)} of {len(promotions)} landed ({sum(p.code == 6 for p in promotions)} exit 6)")
    if git(bare, "rev-list", "--merges", f"{start}..main").strip():
        wrong.append("history is not linear: merge commits on the remote")
    intents: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    last: dict[str, tuple[str, str]] = {}
    for sha in git(bare, "rev-list", "--reverse", f"{start}..main").split():
        body = git(bare, "log", "-1", "--format=%B", sha)
        t = dict(line.split(": ", 1) for line in body.splitlines() if line.startswith("Mlrelease-") and ": " in line)
        pid, action = t.get("Mlrelease-Promotion-Id", ""), t.get("Mlrelease-Action", "")
        if action == "promote":
            intents[pid] = intents.get(pid, 0) + 1
        elif action == "outcome":
            outcomes[pid] = outcomes.get(pid, 0) + 1
            last[t.get("Mlrelease-Model", "")] = (t.get("Mlrelease-Version", ""), pid)
    ids = [str((p.result.get("result") or {}).get("action_id")) for p in promotions if p not in bad]  # type: ignore[union-attr]
    if sorted(intents) != sorted(ids) or any(v != 1 for v in intents.values()):
        wrong.append(f"intents: {len(intents)} ids, {sum(intents.values())} commits, for {len(ids)} landed promotions")
    if sorted(outcomes) != sorted(ids) or any(v != 1 for v in outcomes.values()):
        wrong.append(f"outcomes: {len(outcomes)} ids, {sum(outcomes.values())} commits, for {len(ids)} landed promotions")
    for model in sorted({p.model for p in promotions}):
        state = yaml.safe_load(git(bare, "show", f"main:releases/dev/{model}.yaml"))
        if state["observed"]["phase"] == "Pending":
            wrong.append(f"{model} in dev is left Pending")
        version, pid = last.get(model, ("", ""))
        live = state.get("live") or {}
        if (str(live.get("version")), live.get("promotion_id")) != (version, pid):
            wrong.append(f"{model} in dev: live is {live}, not the last landed promotion ({version} {pid})")
    return wrong


def _versions(seed: Path, model: str, versions: int, count: int) -> list[str]:
    """``count`` versions to promote in a row, none a no-op: never the one live before it."""
    try:
        live = str((yaml.safe_load(git(seed, "show", f"main:releases/dev/{model}.yaml")).get("live") or {}).get("version"))
    except subprocess.CalledProcessError:
        live = None
    names = [version_name(j) for j in range(versions)]
    start = (names.index(live) + 1) if live in names else 0
    return [names[(start + n) % versions] for n in range(count)]


def one_run(
    seed: Path, work: Path, exe: str, clones: int, promotions: int, versions: int, *, traced: bool = True
) -> tuple[float, list[Promotion], list[str]]:
    bare = work / "remote.git"
    git(work, "clone", "-q", "--bare", str(seed), str(bare))
    paths = []
    for c in range(clones):
        path = work / f"clone{c}"
        git(work, "clone", "-q", str(bare), str(path))
        paths.append(path)
    start = git(bare, "rev-parse", "main").strip()
    plans = [
        [Promotion(c, n, model_name(c), v) for n, v in enumerate(_versions(seed, model_name(c), versions, promotions))]
        for c in range(clones)
    ]
    for plan in plans:  # two versions in a row must differ, or the second is a no-op
        for a, b in itertools.pairwise(plan):
            assert a.version != b.version

    def clone_worker(c: int) -> None:
        for p in plans[c]:
            run_promotion(p, paths[c], work, exe, traced=traced)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=clone_worker, args=(c,)) for c in range(clones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    done = [p for plan in plans for p in plan]
    return wall, done, check(bare, start, done)


def _fresh(path: Path) -> Path:
    path.mkdir()
    return path


def stats(values: list[float]) -> str:
    return f"median {statistics.median(values):g}, max {max(values):g}" if values else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exe", default=str(Path(sys.executable).parent / "mlrelease"), help="the mlrelease to measure")
    parser.add_argument("--clones", type=int, default=8)
    parser.add_argument("--promotions", type=int, default=10, help="per clone")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--releases", type=int, default=2000, help="release commits in the seed history")
    parser.add_argument("--solo", type=int, default=5, help="promotions by one clone alone first: the cost without contention")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    assert args.clones <= args.models
    top = Path(tempfile.mkdtemp(prefix="mlrelease-contention-"))
    figures: list[dict[str, object]] = []
    try:
        seed = top / "seed"
        info = build(seed, models=args.models, versions=args.versions, releases=args.releases)
        git(seed, "config", "user.name", "Seed")
        git(seed, "config", "user.email", "seed@example.com")
        print(
            f"registry: {args.models} models x {args.versions} versions, {info.commits} commits; "
            f"{args.clones} clones x {args.promotions} promotions; {args.exe}; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        # Alone: once traced (git processes), once not (CPU without trace2's own cost); one
        # unmeasured promotion first, so bytecode is compiled before anything is counted.
        _, alone, wrong = one_run(seed, _fresh(top / "solo-traced"), args.exe, 1, args.solo + 1, args.versions)
        _, quiet, wrong2 = one_run(seed, _fresh(top / "solo"), args.exe, 1, args.solo + 1, args.versions, traced=False)
        alone, quiet = alone[1:], quiet[1:]
        row: dict[str, object] = {
            "alone": args.solo,
            "git_commands": stats([len(p.commands) for p in alone]),
            "git_processes": stats([p.processes for p in alone]),
            "pushes": stats([p.pushes for p in alone]),
            "cpu_s_untraced": stats([round(p.cpu, 2) for p in quiet]),
            "wrong": wrong + wrong2,
        }
        figures.append(row)
        print(
            f"alone (1 clone, {args.solo} promotions, no contention): git commands/promotion {row['git_commands']}, "
            f"git processes/promotion {row['git_processes']}, pushes {row['pushes']}, "
            f"CPU/promotion {row['cpu_s_untraced']} s (untraced); load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        print(f"  git commands of one promotion alone: {'; '.join(map(subcommand, alone[-1].commands))}", flush=True)
        failed = bool(wrong or wrong2)
        for r in range(args.runs):
            work = top / f"run{r}"
            work.mkdir()
            load = os.getloadavg()[0]
            wall, done, wrong = one_run(seed, work, args.exe, args.clones, args.promotions, args.versions)
            landed = sum(1 for p in done if p.code == 0)
            row = {
                "run": r + 1,
                "load_before": round(load, 1),
                "load_after": round(os.getloadavg()[0], 1),
                "wall_s": round(wall, 1),
                "landed": f"{landed}/{len(done)}",
                "exit_6": sum(p.code == 6 for p in done),
                "pushes": stats([p.pushes for p in done]),
                "git_commands": stats([len(p.commands) for p in done]),
                "git_processes": stats([p.processes for p in done]),
                "cpu_s": stats([round(p.cpu, 2) for p in done]),
                "wrong": wrong,
            }
            figures.append(row)
            failed = failed or bool(wrong)
            print(
                f"run {r + 1}: wall {wall:.1f} s, landed {row['landed']} (exit 6: {row['exit_6']}), pushes/promotion {row['pushes']}, "
                f"git commands/promotion {row['git_commands']}, git processes/promotion {row['git_processes']}, "
                f"CPU/promotion {row['cpu_s']} s; load {row['load_before']} -> {row['load_after']}",
                flush=True,
            )
            for line in wrong:
                print(f"  WRONG: {line}", flush=True)
            if r == 0:
                sample = done[len(done) // 2]
                print(
                    f"  git commands of one promotion ({len(sample.commands)}): " + "; ".join(map(subcommand, sample.commands)), flush=True
                )
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
