"""A metric across a model's recent versions: the overview's trend beside the headline figure.

Reads only the newest few manifests of each model (through the blob-id parse cache), so
it stays cheap on large registries; versions without the metric are skipped, not zeroed,
and so are rejected versions (never promotable: they are not part of the model's course).
"""

from __future__ import annotations

from mlrelease.registry import layout
from mlrelease.registry.loader import Registry

RECENT = 6


def metric_trend(reg: Registry, model: str, metric: str, *, last: int = RECENT) -> tuple[float, ...]:
    """``metric`` of the newest ``last`` versions of ``model`` that are not rejected, oldest first."""
    rejected = {r.version for r in reg.collect(lambda: reg.rejections(model), []) or ()}  # a broken file: the lint reports it
    names = [v for v in reg.version_names(model) if v not in rejected][-last:]
    items = [("version", layout.version_path(model, v)) for v in names]
    parsed = reg.parse_many(items)
    out = []
    for item in items:
        status, value = parsed[item]
        if status == "ok" and metric in value.metrics:
            out.append(value.metrics[metric])
    return tuple(out)
