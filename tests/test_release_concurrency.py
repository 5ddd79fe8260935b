"""Concurrency against one bare remote: 4 clones, 4 processes at a time, 5 promotions each.

Every `mlrelease promote --push` either lands exactly once (its intent and its outcome
commit, both on the remote) or is refused with exit 4 (stale state, or another promotion
of the same model and environment still Pending); history stays linear and the final
state of every release file is the last outcome written to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlrelease.registry.trailers import parse_trailers
from tests.builders import git, shared_remote
from tests.release_helpers import state_at

MLRELEASE = Path(sys.executable).parent / "mlrelease"

# (model, environment, versions in order) per worker; workers 0 and 1 fight over one file,
# worker 3 shares churn/dev with worker 2 and also writes fraud-card/staging alone.
PLANS = [
    [("fraud-card", "dev", v) for v in ("1.0.0", "1.1.0", "1.2.0", "1.0.0", "1.1.0")],
    [("fraud-card", "dev", v) for v in ("1.1.0", "1.0.0", "1.2.0", "1.1.0", "1.0.0")],
    [("churn", "dev", v) for v in ("0.1.0", "0.2.0", "0.1.0", "0.2.0", "0.1.0")],
    [
        ("fraud-card", "staging", "1.2.0"),
        ("churn", "dev", "0.2.0"),
        ("fraud-card", "staging", "1.0.0"),
        ("churn", "dev", "0.1.0"),
        ("fraud-card", "staging", "1.2.0"),
    ],
]


def worker(n: int, clone: Path) -> list[tuple[int, dict]]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": f"Worker {n}",
        "GIT_AUTHOR_EMAIL": f"w{n}@example.com",
        "GIT_COMMITTER_NAME": f"Worker {n}",
        "GIT_COMMITTER_EMAIL": f"w{n}@example.com",
    }
    out = []
    for model, environment, ver in PLANS[n]:
        proc = subprocess.run(
            [
                str(MLRELEASE),
                "--repo",
                str(clone),
                "promote",
                f"{model}@{ver}",
                "--to",
                environment,
                "--reason",
                f"w{n}",
                "--yes",
                "--push",
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        out.append((proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {"stderr": proc.stderr}))
    return out


def test_four_processes_five_promotions_each(tmp_path: Path) -> None:
    bare = shared_remote(tmp_path)
    clones = []
    for n in range(4):
        clone = tmp_path / f"clone{n}"
        git(tmp_path, "clone", "-q", str(bare), str(clone))
        clones.append(clone)
    start = git(bare, "rev-parse", "main").strip()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [r for rs in pool.map(worker, range(4), clones) for r in rs]

    assert {code for code, _ in results} <= {0, 4}, [r for r in results if r[0] not in (0, 4)]
    done = [d for code, d in results if code == 0 and d["result"]["status"] == "done"]
    refused = [d for code, d in results if code == 4]
    assert len(done) + len(refused) + sum(1 for c, d in results if c == 0 and d["result"]["status"] == "noop") == 20
    assert done, "at least some promotions must land"

    assert git(bare, "rev-list", "--merges", f"{start}..main") == ""
    shas = git(bare, "rev-list", "--reverse", f"{start}..main").split()
    intents: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    per_file: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for sha in shas:
        t = parse_trailers(git(bare, "log", "-1", "--format=%B", sha))
        pid = t["promotion_id"]
        if t["action"] == "promote":
            intents[pid] = intents.get(pid, 0) + 1
        else:
            assert t["action"] == "outcome" and t["phase"] == "Succeeded"
            outcomes[pid] = outcomes.get(pid, 0) + 1
        per_file.setdefault((t["environment"], t["model"]), []).append((t["action"], pid, t["version"]))

    landed = {d["result"]["action_id"] for d in done}
    assert len(landed) == len(done)
    assert intents == dict.fromkeys(landed, 1) and outcomes == dict.fromkeys(landed, 1)
    for d in refused:
        assert d["plan"]["action_id"] not in intents and ("Pending" in d["error"] or "changed since" in d["error"])

    for (environment, model), events in per_file.items():
        # Per file: intent, its own outcome, intent, its own outcome... no interleaving, nothing lost.
        assert [a for a, _, _ in events] == ["promote", "outcome"] * (len(events) // 2)
        assert all(events[i][1] == events[i + 1][1] for i in range(0, len(events), 2))
        s = state_at(bare, environment, model)
        assert s.live is not None and s.live.version == events[-1][2] and s.live.promotion_id == events[-1][1]
