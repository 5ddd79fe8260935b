"""``history`` asks git each question once: counted by git's own trace2, as bench/contention_bench.py counts.

The registry opened at a ref has already resolved it and holds the process's one
``cat-file --batch`` pipe; the history read after it must not resolve the tip again nor start
a second pipe for the blobs of the commits without trailers (review finding: it did both).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.contention_bench import trace_counts
from mlrelease.registry.history import history
from mlrelease.registry.loader import open_registry
from tests.git_trace import traced


@pytest.mark.parametrize("ref", [None, "main"])
def test_history_runs_no_git_command_twice(repo: Path, tmp_path: Path, ref: str | None) -> None:
    history(open_registry(repo))  # the commit index is built once; what is counted is a run after it
    trace = traced(tmp_path)
    events = history(open_registry(repo, ref), "fraud-card")
    assert {e.action for e in events} == {"edit"} and len(events) == 3  # derived from blobs: the pipe was used
    commands, _ = trace_counts(trace)
    repeated = sorted({" ".join(a[-3:]) for a in commands if commands.count(a) > 1})
    assert repeated == [], commands
