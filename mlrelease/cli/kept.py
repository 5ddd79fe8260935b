"""A read command's JSON answer written once per state of the registry, then replayed.

The rules of what an answer is a function of live in :mod:`mlrelease.registry.answers`;
this is the face's half: resolve ``--at`` (so the key is the commit it names), replay a
kept answer through ``sys.stdout`` (the redacting stream, like every other output), or
run the command with its stdout copied into a recording that is kept only when the
command ended well — exit 0, nothing written to stderr, no secret known to the process
(so what was recorded is what any run prints), and the command saying its answer is whole
(``list`` is not kept when verify could not run).

``MLRELEASE_NO_ANSWERS=1`` turns it off (the benchmark's "computed" figures and the
equivalence tests use it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from mlrelease import secrets
from mlrelease.cli.args import registry_root, resolve_at
from mlrelease.registry import answers
from mlrelease.secrets import Front

OFF = "MLRELEASE_NO_ANSWERS"


def kept(
    args: argparse.Namespace,
    command: str,
    params: Sequence[object],
    compute: Callable[[], tuple[int, bool]],
    *,
    whole_tree: bool,
    inputs: Sequence[str] = (),
) -> int:
    """``compute()`` → (exit code, whether the answer is whole); replayed instead where an answer is kept."""
    resolve_at(args)
    if os.environ.get(OFF) == "1":
        return compute()[0]
    s = answers.slot(registry_root(args), args.ref, command, params, whole_tree=whole_tree, inputs=inputs)
    if s is not None and answers.replay(s, sys.stdout.write):
        return 0
    rec = answers.record(s) if s is not None else None
    if rec is None:
        return compute()[0]
    out, err = sys.stdout, sys.stderr
    tee, watch = _Tee(out, rec.write), _Watch(err)
    sys.stdout, sys.stderr = tee, watch
    try:
        code, whole = compute()
    except BaseException:
        rec.discard()
        raise
    finally:
        sys.stdout, sys.stderr = out, err
    if code == 0 and whole and not watch.used and not secrets.known():
        rec.keep()
    else:
        rec.discard()
    return code


class _Tee(Front):
    """Writes to the stream it wraps and to the recording."""

    def __init__(self, inner: TextIO, copy: Callable[[str], None]) -> None:
        super().__init__(inner)
        self._copy = copy

    def write(self, text: str) -> int:
        self._inner.write(text)
        self._copy(text)
        return len(text)


class _Watch(_Tee):
    """stderr, noting that something was written to it (a warning: the answer is not kept)."""

    def __init__(self, inner: TextIO) -> None:
        super().__init__(inner, self._note)
        self.used = False

    def _note(self, text: str) -> None:
        self.used = self.used or bool(text)
