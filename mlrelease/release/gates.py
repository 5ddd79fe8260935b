"""Release gates as pure functions: facts in, one :class:`GateResult` per check out.

The planner gathers the facts from the registry (manifests, release state, history,
the clock) and calls these; nothing here reads git, so every rule is tested directly
and the CLI, the TUI and the commit-time re-check all get the same verdicts. Each
result carries its numbers, because "refused" without the numbers sends people digging.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time
from zoneinfo import ZoneInfo

from mlrelease.registry.config import DAYS
from mlrelease.registry.types import (
    Config,
    Environment,
    MetricDef,
    Pin,
    Rejection,
    ReleaseState,
    Threshold,
    Tolerance,
    Window,
    Windows,
    worsening,
)
from mlrelease.release.plan import GateResult

_EPS = 1e-12  # metrics are floats read from YAML: 0.8 must pass "min 0.8"


def _fmt(metric: MetricDef | None, value: float | None) -> str:
    if metric is not None:
        return metric.render(value)
    return "—" if value is None else f"{value:.4g}"


def rejected(version: str, rejections: Iterable[Rejection]) -> GateResult:
    for r in rejections:
        if r.version == version:
            return GateResult(
                "rejected",
                False,
                f"{version} was rejected by {r.by} on {r.at:%Y-%m-%d}: {r.reason}",
                {"by": r.by, "at": r.at.isoformat(), "reason": r.reason},
            )
    return GateResult("rejected", True, f"{version} is not rejected")


def order(version: str, env: Environment, evidence: Mapping[str, tuple[str | None, str | None]]) -> list[GateResult]:
    """``evidence``: required environment → (what is live there now, how ``version`` was live there or None)."""
    out = []
    for req in env.requires:
        live_now, how = evidence.get(req, (None, None))
        numbers = {"required": req, "live_there": live_now}
        if how:
            out.append(GateResult(f"order:{req}", True, f"{version} {how} in {req}", numbers))
        else:
            now = f"live there now: {live_now}" if live_now else "nothing is live there"
            out.append(GateResult(f"order:{req}", False, f"{version} has never been live in {req} ({now})", numbers))
    return out


def thresholds(limits: Mapping[str, Threshold], metrics: Mapping[str, float], catalogue: Mapping[str, MetricDef]) -> list[GateResult]:
    out = []
    for name, limit in limits.items():
        m = catalogue.get(name)
        value = metrics.get(name)
        numbers: dict[str, object] = {"metric": name, "value": value, "min": limit.min, "max": limit.max}
        if value is None:
            out.append(GateResult(f"threshold:{name}", False, f"{name} is missing from the version manifest", numbers))
            continue
        problems = []
        if limit.min is not None and value < limit.min - _EPS:
            problems.append(f"{name} {_fmt(m, value)} < min {_fmt(m, limit.min)}")
        if limit.max is not None and value > limit.max + _EPS:
            problems.append(f"{name} {_fmt(m, value)} > max {_fmt(m, limit.max)}")
        if problems:
            out.append(GateResult(f"threshold:{name}", False, "; ".join(problems), numbers))
        else:
            bounds = [
                f"min {_fmt(m, limit.min)}" if limit.min is not None else "",
                f"max {_fmt(m, limit.max)}" if limit.max is not None else "",
            ]
            out.append(GateResult(f"threshold:{name}", True, f"{name} {_fmt(m, value)} within {' '.join(b for b in bounds if b)}", numbers))
    return out


def allowed_worsening(tolerance: Tolerance, live_value: float) -> float:
    """How much worse than live a metric may be: the larger of the absolute and relative allowance."""
    return max(tolerance.absolute, tolerance.relative * abs(live_value))


def no_regression(
    rules: Mapping[str, Tolerance],
    metrics: Mapping[str, float],
    live_version: str | None,
    live_metrics: Mapping[str, float] | None,
    catalogue: Mapping[str, MetricDef],
) -> list[GateResult]:
    out = []
    for name, tolerance in rules.items():
        gate = f"no_regression:{name}"
        m = catalogue.get(name)
        value = metrics.get(name)
        live_value = (live_metrics or {}).get(name)
        numbers: dict[str, object] = {
            "metric": name,
            "value": value,
            "live_version": live_version,
            "live_value": live_value,
            "absolute": tolerance.absolute,
            "relative": tolerance.relative,
        }
        if live_version is None:
            out.append(GateResult(gate, True, f"nothing is live to compare {name} with", numbers))
            continue
        if m is None:
            out.append(GateResult(gate, False, f"{name} is not in the metric catalogue, so its goal (max or min) is unknown", numbers))
            continue
        if value is None and live_value is None:  # a metric this model does not report: nothing can regress
            out.append(GateResult(gate, True, f"neither {live_version} (live) nor this version reports {name}", numbers))
            continue
        if value is None:
            out.append(GateResult(gate, False, f"{name} is missing from the version manifest", numbers))
            continue
        if live_value is None:
            out.append(GateResult(gate, True, f"live {live_version} has no {name} to compare with", numbers))
            continue
        allowed = allowed_worsening(tolerance, live_value)
        worse_by = worsening(m.goal, value - live_value)
        numbers.update({"goal": m.goal, "worse_by": worse_by, "allowed": allowed})
        text = f"{name} {_fmt(m, value)} vs live {live_version} {_fmt(m, live_value)} (goal {m.goal})"
        # The change in the metric's own format: a percentage metric says "worse by 3.0%", never "0.03".
        change = f"worse by {_fmt(m, worse_by)}, allowed {_fmt(m, allowed)}"
        if worse_by > allowed + _EPS:
            out.append(GateResult(gate, False, f"{text}: {change}", numbers))
        else:
            verdict = "not worse" if worse_by <= 0 else change
            out.append(GateResult(gate, True, f"{text}: {verdict}", numbers))
    return out


def _describe(w: Window) -> str:
    days = ",".join(w.days) if w.days else "every day"
    start = w.start.strftime("%H:%M") if w.start else "00:00"
    end = w.end.strftime("%H:%M") if w.end else "24:00"
    return f"{days} {start}-{end}"


def in_window(w: Window, local: datetime) -> bool:
    """Whether local time falls in ``w``; a window whose end is before its start runs past midnight."""
    day = DAYS[local.weekday()]
    previous_day = DAYS[(local.weekday() - 1) % 7]
    t = local.time().replace(tzinfo=None)
    start = w.start or time(0, 0)

    def listed(d: str) -> bool:
        return not w.days or d in w.days

    if w.end is None or start < w.end:
        return listed(day) and t >= start and (w.end is None or t < w.end)
    # Overnight (e.g. 22:00-06:00): the part after midnight belongs to the day it started on.
    return (listed(day) and t >= start) or (listed(previous_day) and t < w.end)


def window(windows: Windows, now: datetime) -> GateResult:
    local = now.astimezone(ZoneInfo(windows.timezone))
    stamp = f"{DAYS[local.weekday()]} {local:%H:%M} {windows.timezone}"
    numbers: dict[str, object] = {"now": local.isoformat(), "timezone": windows.timezone}
    for w in windows.deny:
        if in_window(w, local):
            return GateResult("window", False, f"now ({stamp}) is in the denied window {_describe(w)}", numbers | {"window": _describe(w)})
    if windows.allow:
        for w in windows.allow:
            if in_window(w, local):
                return GateResult(
                    "window", True, f"now ({stamp}) is in the allowed window {_describe(w)}", numbers | {"window": _describe(w)}
                )
        allowed = "; ".join(_describe(w) for w in windows.allow)
        return GateResult("window", False, f"now ({stamp}) is outside the allowed windows ({allowed})", numbers)
    return GateResult("window", True, f"now ({stamp}) is not in a denied window", numbers)


def pinned(pin: Pin | None, environment: str) -> GateResult:
    if pin is None:
        return GateResult("pin", True, f"{environment} is not pinned")
    why = f": {pin.reason}" if pin.reason else ""
    return GateResult(
        "pin",
        False,
        f"{environment} is pinned by {pin.by} since {pin.at:%Y-%m-%d %H:%M}{why} (unpin it, or --force)",
        {"by": pin.by, "at": pin.at.isoformat(), "reason": pin.reason},
    )


def promote_gates(
    version: str,
    env: Environment,
    config: Config,
    *,
    metrics: Mapping[str, float],
    rejections: Iterable[Rejection],
    state: ReleaseState,
    order_results: list[GateResult],
    live_metrics: Mapping[str, float] | None,
    approvals: GateResult | None,
    now: datetime,
) -> list[GateResult]:
    """Every gate of a promotion, in the order plans show them: the planner's and ``verify``'s one list."""
    live = state.live
    results = [rejected(version, rejections), pinned(state.pin, env.name), *order_results]
    results += thresholds(env.gates.thresholds, metrics, config.metrics)
    results += no_regression(env.gates.no_regression, metrics, live.version if live else None, live_metrics, config.metrics)
    if approvals is not None:
        results.append(approvals)
    if env.gates.windows.allow or env.gates.windows.deny:
        results.append(window(env.gates.windows, now))
    return results
