"""The words every face shows beside events and states that ``mlrelease verify`` does not accept.

``history``, ``list`` and the TUI never decide for themselves what is trustworthy: they
ask :func:`report` (one verify of the history at the registry's tip, kept under
``.git/mlrelease/verify/`` so that asking again costs a file read) and show these words:

* an event whose commit has findings: ``hand-edited`` (no Mlrelease-Action trailer),
  ``unsigned`` (signing required and missing or not allowed), or ``unverified: KIND``
  (forged trailers, out of sequence, a deleted record, a gate that did not hold…);
* a release state any finding touched: the same words, so a forged "live" never looks
  like a genuine one in ``list`` or the overview;
* a finding a second person accepted on the record (``review --finding``): the same word
  with ``(accepted)``, in the events' and states' ``accepted`` words, not their marks:
  it is shown, and it is no open problem.

A fresh clone has no report yet: ``list`` and ``history`` verify up to :data:`BUDGET`
commits themselves and otherwise say the history is not verified yet (a whole-history
verify of a big registry takes seconds, and a read must not); ``mlrelease verify`` keeps
its report here, and every later read resumes from it.

Forced gates and break-glass need no verify: the record itself says them
(``desired.forced``, ``break_glass``), and the faces read them from there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from mlrelease import __version__
from mlrelease.errors import MlreleaseError
from mlrelease.registry import layout
from mlrelease.registry.bundles import folded
from mlrelease.registry.cache import SCHEMA
from mlrelease.registry.gitio import git, git_dir
from mlrelease.registry.history import Event, iter_history
from mlrelease.registry.loader import Registry
from mlrelease.registry.overview import Overview

from .report import Accepted, Finding, Report
from .state import WalkState
from .verify import resume, verify

WORDS = {"hand-edit": "hand-edited", "unsigned": "unsigned"}


def word(kind: str) -> str:
    return WORDS.get(kind, f"unverified: {kind}")


Found = Finding | Accepted  # an open finding, or one accepted on the record


def _words(found: Iterable[Found]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The marks of open findings, and the words of accepted ones, each once."""
    marks: dict[str, None] = {}
    accepted: dict[str, None] = {}
    for f in found:
        if isinstance(f, Accepted):
            accepted[f"{word(f.finding.kind)} (accepted)"] = None
        else:
            marks[word(f.kind)] = None
    return tuple(marks), tuple(accepted)


def _finding(f: Found) -> Finding:
    return f.finding if isinstance(f, Accepted) else f


def _cache_dir(reg: Registry) -> tuple[Path, str] | None:
    """The cache folder and this registry's salt (its folder in the repository, mlrelease's version, the cache schema)."""
    if reg.git_root is None:
        return None
    prefix = reg.root.resolve().relative_to(reg.git_root.resolve()).as_posix()
    salt = hashlib.sha256(f"{prefix}\0{__version__}\0{SCHEMA}".encode()).hexdigest()[:12]
    return git_dir(reg.git_root) / "mlrelease" / "verify", salt


def _tip(reg: Registry) -> str | None:
    if reg.git_root is None:
        return None
    proc = git(reg.git_root, "rev-parse", "--verify", "--quiet", f"{reg.ref or 'HEAD'}^{{commit}}", check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


KEEP = 8  # tips whose verify is kept; the newest few are where the next one resumes
CANDIDATES = 4  # earlier tips tried (newest first) as a place to resume from
# Commits that ``list`` and ``history`` verify themselves before they answer (about a second
# on this machine's cores); beyond that, they say the history is not verified yet and
# ``mlrelease verify`` (which keeps its report here) does it once.
BUDGET = 2000


class NotVerifiedYet(MlreleaseError):
    """More commits to verify than a read command verifies on its way (:data:`BUDGET`)."""


def report(reg: Registry, budget: int | None = None, *, fresh: bool = False) -> Report:
    """Verify's report over the registry's whole history, cached per tip commit.

    A tip with no cache resumes from the newest cached tip it descends from in a straight
    line (the usual case after an action: one or two commits on top), verifying only the
    commits since, from the walk's state at that tip (audit/state.py): the same report
    (findings and notices in the same order, the same counts) as a full verify. With a
    ``budget``, more commits than that to verify raise :class:`NotVerifiedYet` instead.
    ``fresh``: verify every commit again (and keep that report).
    """
    tip = _tip(reg)
    if tip is None:
        return verify(reg)
    where = _cache_dir(reg)
    if where is None:
        return verify(reg)
    folder, salt = where
    cached = None if fresh else _read_report(folder / f"{tip}-{salt}.json")
    if cached is not None:
        return cached
    ahead = None if fresh else _AHEAD.pop((str(folder), salt, tip), None)
    base, seed, prior = (None, None, None) if fresh else ahead[0] if ahead is not None else _resume_point(reg, folder, salt, tip)
    if budget is not None:
        assert reg.git_root is not None
        count = ahead[1].result() if ahead is not None else _count(reg.git_root, tip, base)
        if count > budget:
            since = "since the last verify" if base else "in its history"
            raise NotVerifiedYet(
                f"not verified yet: {count:,} commits {since} (list and history verify up to {budget:,} themselves); "
                "`mlrelease verify` checks them once and keeps its report"
            )
    later, state = resume(reg, tip, base, seed)
    full = prior.then(later) if prior is not None else later.settle()
    _write(folder / f"{tip}-{salt}.json", full.to_json())
    _write(folder / f"{tip}-{salt}.state.json", state.to_json())
    _prune(folder, salt)
    return full


def _count(git_root: Path, tip: str, base: str | None) -> int:
    return int(git(git_root, "rev-list", "--count", tip, *([f"^{base}"] if base else []), "--").stdout.decode() or 0)


# (cache folder, salt, tip) → (resume point, the count of commits since it), started by count_ahead
_AHEAD: dict[tuple[str, str, str], tuple[tuple[str | None, WalkState | None, Report | None], Future[int]]] = {}


def count_ahead(reg: Registry) -> tuple[str, str, str] | None:
    """Start counting, on a thread, the commits :func:`report` will have to count for ``reg``'s tip.

    With no kept report near the tip (a first ``list`` after a clone), ``report`` counts the
    whole history only to say how many commits are not verified yet: ``git rev-list
    --count`` of 124,566 commits is 0.6 s of one core. Started before a command parses
    (``list``: its release states), git counts while Python parses, and ``report`` takes
    the number when it gets there. Nothing is started when the tip's report is kept.
    """
    tip = _tip(reg)
    where = _cache_dir(reg)
    if tip is None or where is None or reg.git_root is None:
        return None
    folder, salt = where
    if (folder / f"{tip}-{salt}.json").is_file():
        return None
    point = _resume_point(reg, folder, salt, tip)
    pool = ThreadPoolExecutor(1, thread_name_prefix="mlrelease-count")
    key = (str(folder), salt, tip)
    _AHEAD[key] = (point, pool.submit(_count, reg.git_root, tip, point[0]))
    pool.shutdown(wait=False)
    return key


@contextlib.contextmanager
def counted_ahead(reg: Registry) -> Iterator[None]:
    """:func:`count_ahead` for the commands inside, and the count forgotten after them, taken or not.

    A command that fails before :func:`report` takes its count (a broken registry stops
    ``list`` in its overview) must not leave it to whatever the process does next.
    """
    key = count_ahead(reg)
    try:
        yield
    finally:
        if key is not None:
            _AHEAD.pop(key, None)


def findings(reg: Registry, budget: int | None = None) -> list[Found]:
    """The findings of :func:`report`, open and accepted (what history, list and the TUI mark).

    A tip too far from any report to verify within ``budget`` — the commit ``--at DATE``
    names, a year back in a big registry — takes its findings from a kept report of a
    later tip it leads to in a straight line (:func:`_from_descendant`), if there is one.
    """
    try:
        r = report(reg, budget)
    except NotVerifiedYet:
        found = _from_descendant(reg)
        if found is None:
            raise
        return found
    return [*r.findings, *r.accepted]


def _from_descendant(reg: Registry) -> list[Found] | None:
    """The tip's findings as those of a kept report of a descendant, less the commits after the tip.

    The walk checks each commit against the history before it, and files each finding
    under the commit it is about: so when the commits after ``tip`` up to a verified
    ``later`` are one line on top of it (no merge: :func:`_straight_line`), ``later``'s
    walk is ``tip``'s walk and then that line, and ``tip``'s findings are ``later``'s
    without the line's. An acceptance made in that line would leave open at ``tip`` a
    finding ``later`` reports as accepted: then nothing is derived. Only the findings:
    the notices and counts of a report are the walk's at its own tip, so ``verify``
    itself never answers this way.
    """
    tip, where = _tip(reg), _cache_dir(reg)
    if tip is None or where is None or reg.git_root is None:
        return None
    folder, salt = where
    try:
        kept = sorted(folder.glob(f"*-{salt}.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return None
    for path in kept[:CANDIDATES]:
        later = path.name.split("-", 1)[0]
        if later == tip or not _straight_line(reg.git_root, tip, later):
            continue
        full = _read_report(path)
        if full is None:
            continue
        line = set(git(reg.git_root, "rev-list", later, f"^{tip}", "--").stdout.decode().split())
        if any(c.commit in line for c in full.claims):
            return None
        return [*(f for f in full.findings if f.commit not in line), *full.accepted]
    return None


def _read_report(path: Path) -> Report | None:
    try:
        return Report.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # absent, or broken or from an older mlrelease: read again from git


def _resume_point(reg: Registry, folder: Path, salt: str, tip: str) -> tuple[str | None, WalkState | None, Report | None]:
    """The newest cached tip that ``tip`` descends from by single-parent commits, its state and its report."""
    assert reg.git_root is not None
    try:
        states = sorted(folder.glob(f"*-{salt}.state.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return None, None, None
    for state_file in states[:CANDIDATES]:
        base = state_file.name.split("-", 1)[0]
        if not _straight_line(reg.git_root, base, tip):
            continue
        prior = _read_report(folder / f"{base}-{salt}.json")
        try:
            seed = WalkState.from_json(json.loads(state_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # broken or half-written: another candidate, or a full verify
        if prior is not None:
            return base, seed, prior
    return None, None, None


def _straight_line(git_root: Path, base: str, tip: str) -> bool:
    """Whether the commits after ``base`` up to ``tip`` are one line on top of it, no merge among them.

    Only then is a full verify's walk (oldest first, topological) the walk up to ``base``
    followed by these commits; a merge could bring older commits that the full walk puts
    before some of ``base``'s own.
    """
    proc = git(git_root, "rev-list", "--parents", tip, f"^{base}", "--", check=False)
    if proc.returncode != 0:
        return False
    lines = [line.split() for line in proc.stdout.decode().splitlines()]
    if not lines or any(len(words) != 2 for words in lines):
        return False
    chain = [words[0] for words in lines]
    return chain[0] == tip and all(words[1] == nxt for words, nxt in zip(lines, [*chain[1:], base], strict=True))


def _write(path: Path, data: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only clone: verify again next time


def _prune(folder: Path, salt: str) -> None:
    """Keep the newest :data:`KEEP` tips (each tip's findings with its state)."""
    try:
        states = sorted(folder.glob(f"*-{salt}.state.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in states[KEEP:]:
            tip = old.name.split("-", 1)[0]
            old.unlink(missing_ok=True)
            (folder / f"{tip}-{salt}.json").unlink(missing_ok=True)
    except OSError:
        pass


def by_commit(found: Iterable[Found]) -> dict[str, list[Found]]:
    out: dict[str, list[Found]] = {}
    for f in found:
        out.setdefault(_finding(f).commit, []).append(f)
    return out


def mark_events(events: Iterable[Event], found: list[Found]) -> Iterator[Event]:
    """Each event with the words of its commit's findings (those of its own file, or of the whole commit), lazily."""
    index = by_commit(found)
    for e in events:
        mine = [f for f in index.get(e.commit, ()) if _finding(f).path is None or e.path is None or _finding(f).path == e.path]
        words, accepted = _words(mine)
        yield dataclasses.replace(e, marks=words, accepted=accepted) if mine else e


def state_marks(found: list[Found]) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Registry path of a release state → the words of every finding that touched it: (open, accepted)."""
    out: dict[str, list[Found]] = {}
    for f in found:
        if _finding(f).path is not None:
            out.setdefault(_finding(f).path or "", []).append(f)
    return {path: _words(items) for path, items in out.items()}


def safe_findings(reg: Registry, budget: int | None = None) -> tuple[list[Found], str | None]:
    """Findings, or none and why verify could not run or was not run (a face shows the reason, and the rest of its view)."""
    try:
        return findings(reg, budget), None
    except MlreleaseError as exc:
        return [], str(exc)


def mark_overview(view: Overview, found: list[Found]) -> Overview:
    """The overview with each release state's marks (``list`` and the TUI's overview)."""
    paths = state_marks(found)
    if not paths:
        return view
    none: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    models = tuple(
        dataclasses.replace(
            m,
            environments=tuple(
                dataclasses.replace(e, marks=words[0], accepted=words[1])
                for e in m.environments
                for words in (paths.get(layout.release_path(e.environment, m.name), none),)
            ),
        )
        for m in view.models
    )
    return dataclasses.replace(view, models=models)


BUNDLE_SLACK = 64  # events read past this model's oldest bundle commit: the other models' commits of a bundle are next to its own


def whole_bundles(reg: Registry, events: Iterable[Event], found: list[Found]) -> Iterator[Event]:
    """One model's ``events`` (grouped and marked), each bundle row folded again from every model's commits of that bundle.

    The one place this rule lives: ``history MODEL`` (text and --json) and the TUI's
    History tab both call it, so a bundle row says the same in every face, and the same as
    the whole history's row of that bundle.

    One model's history holds only its own commits of a bundle, so its row said neither
    what became of the other models nor their marks (hand-edited, forced, break-glass).
    A bundle's commits are written at once, so the history of every model, read newest
    first until :data:`BUNDLE_SLACK` events past this model's oldest commit of the bundle,
    holds all of them. Lazily: the events go out one by one (``history --json`` of a big
    registry holds none of them), and every model's history is read only as far as the
    bundle rows met so far need, not at all when there are none.
    """
    every: Iterator[Event] | None = None
    read = 0  # events of every model's history read so far
    at: dict[str, int] = {}  # commit of a bundle's event → where in every model's history it was read
    seen: dict[str, list[Event]] = {}  # bundle id → its events of every model, newest first
    for e in events:
        if not (e.members and e.bundle):
            yield e
            continue
        if every is None:
            every = mark_events(iter_history(reg), found)
        own = {m.commit for m in e.members}
        while not own <= at.keys() or read <= max(at[c] for c in own) + BUNDLE_SLACK:
            other = next(every, None)
            if other is None:
                break
            read += 1
            if other.bundle is not None:
                at.setdefault(other.commit, read)
                seen.setdefault(other.bundle, []).append(other)
        mine = seen.pop(e.bundle, None)  # a bundle is one row of one model's history
        yield folded(e.bundle, mine) if mine else e
