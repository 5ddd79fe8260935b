"""The judge: for each analysed metric, the challenger against the champion, and a verdict.

Per metric (a :class:`~mlrelease.registry.rollout.Check`), the two arms' observations in
the judged window give:

* the **estimate** challenger − champion (``delta``) with a confidence interval at
  ``1 − significance``, and the p-value of the named test of "no difference":
  rates — two-proportion z-test (interval: Newcombe's hybrid score); means — Welch's
  t-test; distributions — Mann-Whitney U (estimate: the Hodges-Lehmann shift, interval:
  its distribution-free interval); see :mod:`.stats`;
* the **tolerance**: how much worse the challenger may be, in the metric's units
  (``absolute + relative × |champion|``, as the no-regression gate reads it), "worse" by
  the metric's goal;
* the **verdict**, from where the interval lies against the tolerance:
  ``pass`` — even the worst end of the interval is within the tolerance (shown no worse
  than tolerated); ``fail`` — even the best end is beyond it (shown worse than tolerated);
  ``inconclusive`` — the interval straddles the tolerance, or an arm has fewer than
  ``min_samples``, or the source is unavailable. So a verdict is never a pass for want of
  data, and with a tolerance of 0 a pass needs evidence that the challenger is *better*.

For an inconclusive metric the judge says about how many more samples per arm would
settle it: the interval narrows as 1/√n, so it stops straddling the tolerance once
``n × (half-width / distance of the estimate from the tolerance)²`` samples are in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from mlrelease.registry.observations import Histogram, Mean, Observation, Rate, Samples
from mlrelease.registry.rollout import Check
from mlrelease.registry.types import MetricDef, worsening
from mlrelease.rollout import stats

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
MAX_ATOMS = 400  # per arm for the Hodges-Lehmann interval; raw samples beyond are grouped into quantile bins
TESTS = {"rate": "two-proportion z-test", "mean": "Welch's t-test", "distribution": "Mann-Whitney U"}


@dataclass(frozen=True)
class MetricVerdict:
    """One metric judged: both arms' figures, the estimate and interval, the test, the verdict and why."""

    metric: str
    shape: str
    test: str
    goal: str
    critical: bool
    confidence: float
    min_samples: int
    champion: float | None = None  # the arm's figure: the rate, the mean, or the median of a distribution
    challenger: float | None = None
    n_champion: float = 0.0
    n_challenger: float = 0.0
    delta: float | None = None  # challenger − champion (a distribution: the Hodges-Lehmann shift)
    low: float | None = None  # confidence interval of delta
    high: float | None = None
    p_value: float | None = None
    margin: float | None = None  # the worsening tolerated, in the metric's units (≥ 0)
    verdict: str = INCONCLUSIVE
    reason: str = ""
    more_samples: tuple[float, float] | None = None  # (champion, challenger) more needed to settle it

    @property
    def worse_by(self) -> tuple[float, float] | None:
        """The interval of how much worse the challenger is (positive = worse), by the metric's goal."""
        if self.low is None or self.high is None:
            return None
        low, high = sorted((worsening(self.goal, self.low), worsening(self.goal, self.high)))
        return low, high

    def to_json(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "type": self.shape,
            "test": self.test,
            "goal": self.goal,
            "critical": self.critical,
            "confidence": self.confidence,
            "champion": _finite(self.champion),
            "challenger": _finite(self.challenger),
            "samples": {"champion": self.n_champion, "challenger": self.n_challenger, "minimum": self.min_samples},
            "delta": _finite(self.delta),
            "interval": [_finite(self.low), _finite(self.high)] if self.low is not None else None,
            "p_value": self.p_value,
            "tolerated_worsening": self.margin,
            "verdict": self.verdict,
            "reason": self.reason,
            "more_samples": {"champion": self.more_samples[0], "challenger": self.more_samples[1]} if self.more_samples else None,
        }


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


@dataclass(frozen=True)
class Judgement:
    """Every metric's verdict, and the worst of them as the rollout reads it."""

    verdicts: tuple[MetricVerdict, ...]
    unavailable: str | None = None  # the source's error, when it could not answer
    confidence_note: str | None = None  # e.g. an interim look's stricter level
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def critical_failures(self) -> tuple[MetricVerdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == FAIL and v.critical)

    @property
    def failures(self) -> tuple[MetricVerdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == FAIL)

    @property
    def inconclusive(self) -> tuple[MetricVerdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == INCONCLUSIVE)

    @property
    def overall(self) -> str:
        if self.failures:
            return FAIL
        if self.inconclusive or self.unavailable:
            return INCONCLUSIVE
        return PASS

    def to_json(self) -> dict[str, object]:
        return {
            "overall": self.overall,
            "unavailable": self.unavailable,
            "note": self.confidence_note,
            "notes": list(self.notes),
            "metrics": [v.to_json() for v in self.verdicts],
        }


# ---- one metric -----------------------------------------------------------------------------


def goal_of(check: Check, catalogue: Mapping[str, MetricDef]) -> str:
    if check.builtin_goal is not None:
        return check.builtin_goal
    definition = catalogue.get(check.metric)
    return definition.goal if definition is not None else "max"


def judge_metric(
    check: Check,
    goal: str,
    champion: Observation | None,
    challenger: Observation | None,
    *,
    significance: float | None = None,
    unavailable: str | None = None,
) -> MetricVerdict:
    """``check`` on the two arms' observations; ``significance`` overrides the check's (an interim look)."""
    alpha = check.significance if significance is None else significance
    base = MetricVerdict(
        metric=check.metric,
        shape=check.shape,
        test=TESTS[check.shape],
        goal=goal,
        critical=check.critical,
        confidence=1.0 - alpha,
        min_samples=check.min_samples,
    )
    if unavailable is not None:
        return _with(base, reason=f"source unavailable: {unavailable}")
    for arm, obs in (("champion", champion), ("challenger", challenger)):
        if obs is not None and obs.shape != check.shape:
            return _with(base, reason=f"the source gives the {arm}'s {check.metric} as a {obs.shape}, the analysis expects a {check.shape}")
    n_a = champion.n if champion is not None else 0.0
    n_b = challenger.n if challenger is not None else 0.0
    base = _with(
        base,
        champion=champion.value if champion is not None else None,
        challenger=challenger.value if challenger is not None else None,
        n_champion=n_a,
        n_challenger=n_b,
    )
    if champion is None or challenger is None or min(n_a, n_b) < check.min_samples:
        missing = (max(check.min_samples - n_a, 0.0), max(check.min_samples - n_b, 0.0))
        return _with(
            base,
            reason=f"not enough data yet: {n_a:,.0f} champion and {n_b:,.0f} challenger samples, {check.min_samples:,} per arm needed",
            more_samples=missing,
        )
    comparison = _compare(champion, challenger, 1.0 - alpha)
    if comparison is None:
        return _with(base, reason=f"{check.metric}: the arms' data cannot be compared")
    margin = check.tolerance.absolute + check.tolerance.relative * abs(base.champion or 0.0)
    judged = _with(base, delta=comparison.estimate, low=comparison.low, high=comparison.high, p_value=comparison.p_value, margin=margin)
    worse = judged.worse_by
    assert worse is not None

    def by(x: float) -> str:
        return amount(check.shape, x, sign=True)

    if worse[0] > margin:
        return _with(judged, verdict=FAIL, reason=f"worse than tolerated: even at best {by(worse[0])} worse (tolerated {by(margin)})")
    if worse[1] <= margin:
        return _with(judged, verdict=PASS, reason=f"within tolerance: at worst {by(worse[1])} worse (tolerated {by(margin)})")
    return _with(
        judged,
        reason=f"the interval ({by(worse[0])} to {by(worse[1])} worse) straddles the tolerance ({by(margin)})",
        more_samples=_more(worse, margin, n_a, n_b),
    )


def amount(shape: str, x: float | None, *, sign: bool = False) -> str:
    """A difference in the metric's units: percentage points for a rate."""
    if x is None or not math.isfinite(x):
        return "—"
    if shape == "rate":
        return f"{x * 100:+.3f} pp" if sign else f"{x * 100:.3f} pp"
    return f"{x:+.4g}" if sign else f"{x:.4g}"


def _with(v: MetricVerdict, **changes: object) -> MetricVerdict:
    return replace(v, **changes)  # type: ignore[arg-type]


def _more(worse: tuple[float, float], margin: float, n_a: float, n_b: float) -> tuple[float, float] | None:
    """More samples per arm for the interval to stop straddling the tolerance (it narrows as 1/√n)."""
    centre, half = (worse[0] + worse[1]) / 2.0, (worse[1] - worse[0]) / 2.0
    gap = abs(centre - margin)
    if not math.isfinite(half) or gap <= 0.0:
        return None  # the estimate sits on the tolerance: no number of samples settles it
    factor = (half / gap) ** 2
    return (math.ceil(n_a * (factor - 1.0)), math.ceil(n_b * (factor - 1.0)))


def _grouped(atoms: list[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """At most ``limit`` atoms: neighbours merged into equal-count bins, each at its mean value."""
    if len(atoms) <= limit:
        return atoms
    total = sum(c for _, c in atoms)
    size = total / limit
    out: list[tuple[float, float]] = []
    acc_v = acc_c = 0.0
    for v, c in atoms:
        acc_v += v * c
        acc_c += c
        if acc_c >= size:
            out.append((acc_v / acc_c, acc_c))
            acc_v = acc_c = 0.0
    if acc_c:
        out.append((acc_v / acc_c, acc_c))
    return out


def _compare(a: Observation, b: Observation, confidence: float) -> stats.Comparison | None:
    if isinstance(a, Rate) and isinstance(b, Rate):
        return stats.two_proportions(a.events, a.trials, b.events, b.trials, confidence)
    if isinstance(a, Mean) and isinstance(b, Mean):
        if min(a.count, b.count) < 2:
            return None
        return stats.welch(a.mean, a.sd, a.count, b.mean, b.sd, b.count, confidence)
    if isinstance(a, Histogram | Samples) and isinstance(b, Histogram | Samples):
        if isinstance(a, Histogram) and isinstance(b, Histogram) and a.edges != b.edges:
            return None
        xa, xb = a.atoms(), b.atoms()
        test = stats.mann_whitney(xa, xb)  # exact ranks on every value
        estimate, low, high = stats.hodges_lehmann(_grouped(xa, MAX_ATOMS), _grouped(xb, MAX_ATOMS), confidence)
        return stats.Comparison("Mann-Whitney U", estimate, low, high, test.u, test.p_value)
    return None


# ---- every metric -------------------------------------------------------------------------------


def judge(
    checks: tuple[Check, ...],
    catalogue: Mapping[str, MetricDef],
    champion: Mapping[str, Observation],
    challenger: Mapping[str, Observation],
    *,
    significance: float | None = None,
    unavailable: str | None = None,
    notes: tuple[str, ...] = (),
) -> Judgement:
    verdicts = tuple(
        judge_metric(
            c,
            goal_of(c, catalogue),
            champion.get(c.metric),
            challenger.get(c.metric),
            significance=significance,
            unavailable=unavailable,
        )
        for c in checks
    )
    note = f"interim look: judged at {1 - significance:.1%} confidence (Haybittle-Peto)" if significance is not None else None
    return Judgement(verdicts, unavailable=unavailable, confidence_note=note, notes=notes)
