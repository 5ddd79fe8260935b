"""Count the git processes a piece of code starts, with git's own trace2 (as bench/contention_bench.py counts)."""

from __future__ import annotations

from pathlib import Path

from bench.contention_bench import subcommand, trace_counts


def traced(tmp_path: Path) -> Path:
    """From now on every git this process starts writes its trace2 events into the folder returned."""
    trace = tmp_path / "trace"
    trace.mkdir()
    config = tmp_path / "_home" / ".gitconfig"  # the isolated HOME of tests/conftest.py
    config.write_text(config.read_text(encoding="utf-8") + f"[trace2]\n\teventTarget = {trace}\n", encoding="utf-8")
    return trace


def started(trace: Path) -> list[list[str]]:
    """The argv of each top-level git command mlrelease started since :func:`traced`."""
    return trace_counts(trace)[0]


def subcommands(trace: Path) -> list[str]:
    """``fetch``, ``cat-file``, ... of each git command started, in order."""
    return [subcommand(a) for a in started(trace)]
