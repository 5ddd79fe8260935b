"""The samples behind a live figure, per version: what the rollout judge compares between arms.

A figure such as "detection rate 0.91" cannot be tested without knowing how many cases it
came from; an A/B judgement needs the data behind it. A telemetry snapshot may carry them
in ``observations:`` (``telemetry/<env>/<model>.yaml``, the http-json source's answer),
and the Prometheus source builds the same objects from per-version series. Four shapes:

* a **rate**: ``{events: 1830, trials: 2010}`` — errors per call, frauds caught per fraud;
* a **mean**: ``{count: 2010, mean: 1.41, sd: 0.9}`` — ``sd`` the sample standard deviation;
* a **histogram**: ``{edges: [5, 10, 25], counts: [120, 340, 80, 6]}`` — as in profiles,
  n edges make n + 1 buckets (below the first edge, between edges, from the last edge up);
* **samples**: ``{samples: [3.1, 4.7, ...]}`` — raw values (small windows only: a file is
  at most 1 MiB).

Snapshots of the same version in a window are combined (:func:`combine`): rates add their
counts, means pool exactly, histograms with the same edges add their buckets, samples are
concatenated. Values are plain numbers; an observation knows nothing of goals or tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import groupby, pairwise

from mlrelease.registry.fields import Fields, finite


@dataclass(frozen=True)
class Rate:
    events: float
    trials: float
    shape = "rate"

    @property
    def n(self) -> float:
        return self.trials

    @property
    def value(self) -> float | None:
        return self.events / self.trials if self.trials > 0 else None


@dataclass(frozen=True)
class Mean:
    count: float
    mean: float
    sd: float
    shape = "mean"

    @property
    def n(self) -> float:
        return self.count

    @property
    def value(self) -> float | None:
        return self.mean if self.count > 0 else None


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]
    counts: tuple[float, ...]  # len(edges) + 1 buckets
    shape = "distribution"

    @property
    def n(self) -> float:
        return sum(self.counts)

    @property
    def value(self) -> float | None:
        return self.quantile(0.5)

    def representatives(self) -> list[float]:
        """A value standing for each bucket: the middle between its edges; an open end counts as its edge."""
        e = self.edges
        return [e[0], *((lo + hi) / 2.0 for lo, hi in pairwise(e)), e[-1]]

    def quantile(self, q: float) -> float | None:
        """Linear interpolation inside the bucket, as Prometheus' histogram_quantile does; open ends give their edge."""
        total = self.n
        if total <= 0:
            return None
        rank = q * total
        seen = 0.0
        for i, c in enumerate(self.counts):
            if c > 0 and seen + c >= rank:
                if i == 0 or i == len(self.edges):
                    return self.edges[min(i, len(self.edges) - 1)]
                lo, hi = self.edges[i - 1], self.edges[i]
                return lo + (hi - lo) * (rank - seen) / c
            seen += c
        return self.edges[-1]

    def atoms(self) -> list[tuple[float, float]]:
        return [(v, c) for v, c in zip(self.representatives(), self.counts, strict=True) if c > 0]


@dataclass(frozen=True)
class Samples:
    values: tuple[float, ...]
    shape = "distribution"

    @property
    def n(self) -> float:
        return float(len(self.values))

    @property
    def value(self) -> float | None:
        return self.quantile(0.5)

    @cached_property
    def ordered(self) -> list[float]:
        """The values sorted once, for every quantile and rank the judge needs."""
        return sorted(self.values)

    def atoms(self) -> list[tuple[float, float]]:
        """Each distinct value once, with how often it occurs."""
        return [(v, float(sum(1 for _ in group))) for v, group in groupby(self.ordered)]

    def quantile(self, q: float) -> float | None:
        if not self.values:
            return None
        ordered = self.ordered
        pos = q * (len(ordered) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


Observation = Rate | Mean | Histogram | Samples


class Mismatch(ValueError):
    """Observations that cannot be combined (different shapes, or histograms with other edges)."""


def combine(items: Iterable[Observation]) -> Observation | None:
    """One observation from several of one arm (snapshots in a window); raises :class:`Mismatch`."""
    items = list(items)
    if not items:
        return None
    first = items[0]
    if any(type(i) is not type(first) for i in items):
        raise Mismatch(f"the snapshots give it in different shapes ({', '.join(sorted({type(i).__name__.lower() for i in items}))})")
    if isinstance(first, Rate):
        rates = [i for i in items if isinstance(i, Rate)]
        return Rate(sum(r.events for r in rates), sum(r.trials for r in rates))
    if isinstance(first, Mean):
        means = [i for i in items if isinstance(i, Mean)]
        n = sum(m.count for m in means)
        if n <= 0:
            return Mean(0.0, 0.0, 0.0)
        total = sum(m.count * m.mean for m in means)
        mean = total / n
        # Within-group and between-group squares, exactly (no sum of squares of huge numbers).
        squares = sum((m.count - 1) * m.sd * m.sd + m.count * (m.mean - mean) ** 2 for m in means if m.count > 0)
        return Mean(n, mean, math.sqrt(squares / (n - 1)) if n > 1 else 0.0)
    if isinstance(first, Histogram):
        hists = [i for i in items if isinstance(i, Histogram)]
        if any(h.edges != first.edges for h in hists):
            raise Mismatch("its histograms have different edges, so their buckets cannot be added")
        return Histogram(first.edges, tuple(map(sum, zip(*(h.counts for h in hists), strict=True))))
    return Samples(tuple(v for i in items if isinstance(i, Samples) for v in i.values))


# ---- reading ------------------------------------------------------------------------------------


def _numbers(f: Fields, key: str) -> tuple[float, ...] | None:
    seq = f.list(key, required=True)
    if seq is None:
        return None
    numbers = [finite(v) for v in seq]  # no float() of a 401-digit whole number: it overflows
    if None in numbers:
        f.problem(key, "must be a list of numbers")
        return None
    return tuple(v for v in numbers if v is not None)


def _count(f: Fields, key: str) -> float:
    value = f.number(key, required=True)
    if value is not None and value < 0:
        f.problem(key, f"must not be negative, not {value:g}")
    return max(value or 0.0, 0.0)


def parse_observation(f: Fields) -> Observation | None:
    """One observation; its keys say its shape."""
    keys = set(f.data)
    if keys <= {"events", "trials"} and keys:
        events, trials = _count(f, "events"), _count(f, "trials")
        if events > trials:
            f.problem_at(f.line, f"'{f.where}' has more events ({events:g}) than trials ({trials:g})")
        return Rate(events, trials)
    if keys <= {"count", "mean", "sd"} and keys:
        count, mean, sd = _count(f, "count"), f.number("mean", required=True), _count(f, "sd")
        return Mean(count, mean or 0.0, sd)
    if keys <= {"edges", "counts"} and keys:
        edges, counts = _numbers(f, "edges"), _numbers(f, "counts")
        if edges is None or counts is None:
            return None
        if not edges or list(edges) != sorted(set(edges)):
            f.problem("edges", "must be strictly increasing, and at least one")
        elif len(counts) != len(edges) + 1:
            f.problem("counts", f"needs {len(edges) + 1} values for {len(edges)} edges, has {len(counts)}")
        elif any(c < 0 for c in counts):
            f.problem("counts", "must not be negative")
        else:
            return Histogram(edges, counts)
        return None
    if keys == {"samples"}:
        values = _numbers(f, "samples")
        return Samples(values) if values is not None else None
    f.seen.update(keys)
    f.problem_at(
        f.line,
        f"'{f.where}' must be a rate {{events, trials}}, a mean {{count, mean, sd}}, "
        f"a histogram {{edges, counts}} or {{samples}}, not keys {', '.join(sorted(keys)) or '(none)'}",
    )
    return None


def read_observations(parent: Fields, key: str) -> dict[str, Observation]:
    """A snapshot's ``observations``: metric name → observation (a custom key of the snapshot's shape)."""
    f = parent.sub(key)
    if f is None:
        return {}
    out: dict[str, Observation] = {}
    for name in f.data:
        f.seen.add(name)
        sub = Fields(f.data[name], f.path, f.problems, where=f"{f.where}.{name}", line=f.line_of(name))
        if sub.ok:
            found = parse_observation(sub)
            if found is not None:
                out[name] = found
            sub.done()
    return out
