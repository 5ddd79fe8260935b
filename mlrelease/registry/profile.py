"""Data profiles — feature distributions as bin fractions — read from versions, data sets and telemetry.

One reader for the three places a profile stands (a version's training profile, a data
set's, a telemetry snapshot's live one), so drift always compares like with like:
numeric features name their bins by ``edges``, categorical ones by their categories,
and fractions add up to 1.
"""

from __future__ import annotations

from typing import Any

from mlrelease.registry.fields import Fields, finite
from mlrelease.registry.types import FeatureProfile, Profile


def read_profile(parent: Fields, key: str) -> Profile | None:
    """The profile at ``key`` of ``parent``, or None when there is none."""
    f = parent.sub(key)
    if f is None:
        return None
    profile = profile_fields(f)
    f.done()
    return profile


def profile_fields(f: Fields) -> Profile:
    """A profile from its own mapping (a manifest's ``profile:``, or a whole profile file)."""
    return Profile(features=f.named("features", _feature, required=True), rows=f.int("rows", minimum=0))


def numeric_bin_label(edges: tuple[float, ...], i: int) -> str:
    """The name of bin ``i`` of ``edges``: ``<e1``, ``[e1,e2)`` … ``>=en``."""

    def g(x: float) -> str:
        return f"{x:g}"

    if i == 0:
        return f"<{g(edges[0])}"
    if i == len(edges):
        return f">={g(edges[-1])}"
    return f"[{g(edges[i - 1])},{g(edges[i])})"


def _feature(f: Fields) -> FeatureProfile:
    kind = f.choice("type", ("numeric", "categorical"), required=True) or "numeric"
    edges: tuple[float, ...] = ()
    bins: dict[str, float] = {}
    if kind == "numeric":
        raw_edges: list[Any] | None = f.list("edges", required=True)
        fractions: list[Any] = f.list("fractions", required=True) or []
        numbers = [finite(e) for e in raw_edges or ()], [finite(x) for x in fractions]
        if None in numbers[0] or None in numbers[1]:
            f.problem_at(f.line, f"'{f.where}' edges and fractions must be numbers (not text, NaN or infinities)")
        elif raw_edges is None:
            pass  # reported as missing
        elif not raw_edges:
            f.problem("edges", "must hold at least one edge")
        else:
            edges = tuple(e for e in numbers[0] if e is not None)
            fr = [x for x in numbers[1] if x is not None]
            if list(edges) != sorted(set(edges)):
                f.problem("edges", "must be strictly increasing")
            elif len(fr) != len(edges) + 1:
                f.problem("fractions", f"needs {len(edges) + 1} values for {len(edges)} edges, has {len(fr)}")
            else:
                bins = {numeric_bin_label(edges, i): v for i, v in enumerate(fr)}
    else:
        bins = f.number_map("fractions")
        if "fractions" not in f.data:
            f.problem_at(f.line, f"missing required field '{f.where}.fractions'")
    if any(v < 0 for v in bins.values()):
        f.problem_at(f.line, f"'{f.where}' fractions must not be negative")
    elif bins and abs(sum(bins.values()) - 1.0) > 0.02:
        f.problem("fractions", f"add up to {sum(bins.values()):.3f}, not 1")
    return FeatureProfile(kind=kind, bins=bins, edges=edges, dtype=f.str("dtype"), missing=f.number("missing"), mean=f.number("mean"))
