"""A rollout's position reads the release file's history at a commit id, so it is kept, not read again.

livehistory keeps a file's log per commit id (in the process, and under .git/mlrelease/filelog/
extended from the last tip); rollout/position.py asked at "HEAD" for a work-tree registry, which
is never kept: the TUI's rollout progress (rollout.report.in_progress, asked on every refresh)
ran a whole `git log -- releases/ENV/MODEL.yaml` each time (review finding). Counted with git's
own trace2.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.contention_bench import trace_counts
from mlrelease.registry.loader import open_registry
from mlrelease.rollout.report import in_progress
from tests.git_trace import traced
from tests.test_rollout_cli import started


def test_the_rollout_progress_of_a_work_tree_reads_the_release_files_history_once(tmp_path: Path) -> None:
    w = started(tmp_path)
    now = datetime.now(UTC)
    with open_registry(w.root) as reg:
        first = in_progress(reg, now)
    assert [e.position is not None for e in first] == [True]  # the canary at 10%: its history was read
    trace = traced(tmp_path)
    with open_registry(w.root) as reg:
        again = in_progress(reg, now)
    assert [e.position for e in again] == [e.position for e in first]
    commands, _ = trace_counts(trace)
    logs = [a for a in commands if "--format=commit %H" in a and a[-1] == "releases/production/fraud-card.yaml"]
    assert logs == []
