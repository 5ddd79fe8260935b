"""Per-arm figures: what each version served during a canary, from any telemetry source.

The rollout judge compares the challenger (canary) with the champion (the live version)
on the same window, so it asks for each version's own figures: the observations behind
each analysed metric (:mod:`mlrelease.registry.observations`), the version's series (for
charts) and its newest input profile (for per-arm drift).

* ``file`` and ``http-json`` answer from their snapshots: every snapshot names the
  ``version`` that served it, so during a canary the monitoring job writes one snapshot per
  version. A snapshot counts for the window when ``since < at ≤ until``. Observations of
  one version in the window are combined; the built-in ``error_rate`` is ``errors`` out of
  ``calls`` unless the snapshot gives an ``error_rate`` observation itself.
* A source with its own per-version queries (Prometheus, by a version label) implements
  ``arm_figures(model, environment, versions, since, until)`` and is asked directly.

Sources keep their contract: a failure is a :class:`~mlrelease.errors.SourceError`; the
caller turns it into "inconclusive, source unavailable", never into a pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from mlrelease.registry.observations import Mismatch, Observation, Rate, combine
from mlrelease.registry.types import Profile, Snapshot
from mlrelease.telemetry.base import TelemetrySource


@dataclass(frozen=True)
class ArmFigures:
    """One version's figures over the judged window."""

    version: str
    observations: dict[str, Observation]
    series: tuple[Snapshot, ...] = ()  # this version's snapshots, oldest first (the window and before)
    profile: Profile | None = None  # its newest input profile in the window
    notes: tuple[str, ...] = ()


def arm_figures(
    source: TelemetrySource, model: str, environment: str, versions: Iterable[str], since: datetime, until: datetime
) -> dict[str, ArmFigures]:
    """Each version's figures between ``since`` and ``until``, from whatever the source offers."""
    versions = tuple(dict.fromkeys(versions))
    own = getattr(source, "arm_figures", None)
    if callable(own):
        found: dict[str, ArmFigures] = own(model, environment, versions, since, until)
        return found
    telemetry = source.fetch(model, environment, history=True)
    return from_snapshots(telemetry.snapshots if telemetry else (), versions, since, until)


def _observations(s: Snapshot) -> dict[str, Observation]:
    found = dict(s.observations)
    if "error_rate" not in found and s.calls is not None and s.errors is not None:
        found["error_rate"] = Rate(float(min(s.errors, s.calls)), float(s.calls))
    return found


def from_snapshots(snapshots: Iterable[Snapshot], versions: tuple[str, ...], since: datetime, until: datetime) -> dict[str, ArmFigures]:
    ordered = sorted(snapshots, key=lambda s: s.at)
    unnamed = sum(1 for s in ordered if s.version is None and since < s.at <= until)
    note = (f"{unnamed} snapshot(s) in the window name no version; per-arm figures need `version:` on each snapshot",) if unnamed else ()
    out: dict[str, ArmFigures] = {}
    for version in versions:
        mine = tuple(s for s in ordered if s.version == version)
        window = [s for s in mine if since < s.at <= until]
        by_metric: dict[str, list[Observation]] = {}
        for s in window:
            for name, obs in _observations(s).items():
                by_metric.setdefault(name, []).append(obs)
        observations: dict[str, Observation] = {}
        notes = list(note)
        for name, items in by_metric.items():
            try:
                combined = combine(items)
            except Mismatch as exc:
                notes.append(f"{version}: {name}: {exc}")
                continue
            if combined is not None:
                observations[name] = combined
        profile = next((s.profile for s in reversed(window) if s.profile is not None), None)
        out[version] = ArmFigures(version, observations, mine, profile, tuple(notes))
    return out
