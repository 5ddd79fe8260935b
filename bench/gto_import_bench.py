"""``import gto`` at 1,000 tags, and what the registry it makes costs to read (issue 12, "worth doing").

Builds a GTO repository the way a team's looks after a long life — M models, V versions
each on their own commits, every version assigned to dev, staging and prod in turn, some
rolled back — with annotated tags in GTO's grammar, written by one ``git fast-import``
(the ``gto`` CLI takes seconds a tag; the tags are the same bytes). Then it times, with
the ``mlrelease`` given by ``--mlrelease`` (repeatable, e.g. a base checkout's and this
one's):

* ``import gto`` into a fresh registry;
* ``list`` and ``lint`` on that registry, and on a synthetic registry of the same size
  (``bench.synth``: same models, versions and release commits), median of ``--reps``.

The load average is printed with each figure: the machine may be shared.

Run: ``.venv/bin/python -m bench.gto_import_bench --mlrelease .venv/bin/mlrelease``
(``--models 50 --versions 5`` make 1,000 tags: 250 registrations, 750 assignments).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.synth import build

STAGES = ("dev", "staging", "prod")


def child_env() -> dict[str, str]:
    """Our environment, with bytecode caching on (as an installed mlrelease has it)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def gto_repo(path: Path, models: int, versions: int) -> int:
    """A GTO repository; returns the number of tags."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    out = bytearray()
    t = 1_700_000_000
    mark = 0
    tags = 0
    counters: dict[str, int] = {}
    for v in range(versions):
        for m in range(models):
            mark += 1
            t += 60
            name = f"model-{m:03d}"
            body = f"train {name} v{v}\n".encode()
            out += f"commit refs/heads/main\nmark :{mark}\ncommitter Ann <ann@example.com> {t} +0000\n".encode()
            out += b"data %d\n%s\n" % (len(body), body)
            if mark > 1:
                out += f"from :{mark - 1}\n".encode()
            content = f"{name} {v}\n".encode()
            out += f"M 100644 inline {name}/model.txt\ndata {len(content)}\n".encode() + content + b"\n"

            def tag(ref: str, message: str, when: int, commit: int = mark) -> None:
                nonlocal out, tags
                msg = message.encode()
                out += f"tag {ref}\nfrom :{commit}\ntagger Bob <bob@example.com> {when} +0000\n".encode()
                out += b"data %d\n%s\n" % (len(msg), msg)
                tags += 1

            tag(f"{name}@v0.{v}.0", f"Registering {name} v0.{v}.0", t)
            for i, stage in enumerate(STAGES):
                counters[name] = counters.get(name, 0) + 1
                tag(f"{name}#{stage}#{counters[name]}", f"Assigning {stage}", t + 10 * (i + 1))
    out += b"done\n"
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=path, input=bytes(out), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)
    return tags


def registry(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "mlrelease.yaml").write_text(
        "version: 1\nname: bench\nconventions:\n  model_name: '[a-z][a-z0-9-]{1,40}'\n  dataset_name: '[a-z][a-z0-9-]{1,40}'\n"
        "  version_scheme: semver\nmetrics:\n  f1: {goal: max}\nenvironments:\n  - {name: dev, backend: record}\n"
        "  - {name: staging, backend: record}\n  - {name: production, backend: record}\nbackends:\n  record: {type: record}\n"
    )
    env = {**os.environ, "GIT_AUTHOR_NAME": "B", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "B", "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", "add", "-A"], cwd=path, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "start"], cwd=path, check=True, env=env)
    return path


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timed(argv: list[str], reps: int) -> dict[str, object]:
    """The first run (cold: no parse cache yet) apart from the median of the ``reps`` after it."""
    walls = []
    before = load()
    started = time.monotonic()
    subprocess.run(argv, capture_output=True, check=False, env=child_env())
    first = time.monotonic() - started
    for _ in range(reps):
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=child_env())
        walls.append(time.monotonic() - started)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(argv)}: {proc.stderr[-1000:]}")
    return {"first_s": round(first, 2), "median_s": round(statistics.median(walls), 2), "load": f"{before} → {load()}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mlrelease", action="append", default=[])
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--versions", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    tools = args.mlrelease or [".venv/bin/mlrelease"]
    with tempfile.TemporaryDirectory(prefix="gto-import-bench-") as tmp:
        work = Path(tmp)
        tags = gto_repo(work / "gto", args.models, args.versions)
        synth = build(work / "synth", models=args.models, versions=args.versions, releases=args.models * args.versions * 3)
        for tool in tools:
            root = registry(work / f"reg-{abs(hash(tool))}")
            started = time.monotonic()
            proc = subprocess.run(
                [tool, "--repo", str(root), "import", "gto", str(work / "gto"), "--stage-map", "prod=production", "--json"],
                capture_output=True,
                text=True,
                check=False,
                env=child_env(),
            )
            took = time.monotonic() - started
            if proc.returncode != 0:
                raise SystemExit(f"import failed: {proc.stdout[-1000:]}{proc.stderr[-1000:]}")
            row = {"mlrelease": tool, "tags": tags, "import_s": round(took, 2), "load": load()}
            for what, repo in (("imported", root), ("synthetic", synth.root)):
                for cmd in ("list", "lint"):
                    row[f"{what}_{cmd}"] = timed([tool, "--repo", str(repo), cmd], args.reps)
            print(json.dumps(row))


if __name__ == "__main__":
    main()
