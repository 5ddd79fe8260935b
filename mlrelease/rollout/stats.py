"""The standard tests the rollout judge uses, written out so they need no library at run time.

Each function is a textbook method, named as it is in the literature, and the test suite
checks every number against ``scipy.stats`` (to 1e-9) on many cases
(``tests/test_rollout_stats.py``). Why by hand: the judge needs four tests and two
distributions; a run-time SciPy (and NumPy) would add ~100 MB to every CI job that runs
``mlrelease rollout`` for about 200 lines of well-known formulas.

* **Two-proportion z-test** (pooled standard error) for rates — the p-value; the same as a
  χ² test of the 2×2 table without continuity correction. Its interval for the difference
  is **Newcombe's hybrid score interval** (method 10 of Newcombe 1998), built from the two
  Wilson score intervals, which stays honest when a rate is 0 (where the Wald interval
  collapses to a point and would "prove" a zero-error canary perfect after ten calls).
* **Welch's t-test** for means (unequal variances, Welch–Satterthwaite degrees of freedom),
  with the matching t interval. Student's t distribution comes from the regularised
  incomplete beta function (continued fraction, Lentz's method).
* **Mann-Whitney U** (two-sided, normal approximation with tie and continuity correction,
  as ``scipy.stats.mannwhitneyu(method="asymptotic")``) for distributions, with the
  **Hodges-Lehmann** shift estimate and its distribution-free (Moses) confidence interval:
  the order statistics of the pairwise differences that invert the same test (Hollander &
  Wolfe). Data come as weighted atoms (value, count), so a histogram with a million
  observations costs as much as its buckets.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()
_EPS = 1e-15
_TINY = 1e-300


# ---- distributions --------------------------------------------------------------------------


def norm_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z, accurate in the far tail (erfc, not 1 − cdf)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def norm_ppf(p: float) -> float:
    """The standard normal quantile (Wichura's AS 241, as the standard library computes it)."""
    return _NORMAL.inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a:g}, b={b:g}, x={x:g}")


def _stirling_tail(x: float) -> float:
    """log Γ(x) minus Stirling's approximation (x − ½)·log x − x + ½·log 2π, for x ≥ 20."""
    x2 = x * x
    return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x


def _log_beta_front(a: float, b: float) -> float:
    """log Γ(a + b) − log Γ(a) − log Γ(b) without the cancellation of three huge lgammas (a Welch df of millions)."""
    big, small = max(a, b), min(a, b)
    if big < 20.0:
        return math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    s = big + small
    ratio = (big - 0.5) * math.log1p(small / big) + small * math.log(s) - small + _stirling_tail(s) - _stirling_tail(big)
    return ratio - math.lgamma(small)


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """The regularised incomplete beta function I_x(a, b); ``y`` = 1 − x when the caller knows it exactly."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_x = math.log1p(-y) if y < 0.5 else math.log(x)
    log_y = math.log1p(-x) if x < 0.5 else math.log(y)
    log_front = _log_beta_front(a, b) + a * log_x + b * log_y
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, y) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(df):
        return norm_sf(t)
    # 1 − x is computed directly: for a large df, x is within 1e-6 of 1 and 1 − x would lose digits.
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t), t * t / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def _t_pdf(t: float, df: float) -> float:
    log = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi) - (df + 1) / 2 * math.log1p(t * t / df)
    return math.exp(log)


def t_ppf(p: float, df: float) -> float:
    """The quantile of Student's t: Newton's method on :func:`t_sf` from the normal quantile, kept in a bracket."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a probability strictly between 0 and 1, not {p!r}")
    if math.isinf(df):
        return norm_ppf(p)
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    target = 1.0 - p  # the upper tail t_sf must reach
    lo, hi = 0.0, 1.0
    while t_sf(hi, df) > target:
        lo, hi = hi, hi * 2.0
    t = min(max(norm_ppf(p), lo), hi)
    for _ in range(200):
        gap = t_sf(t, df) - target  # > 0: t is too small
        if gap > 0:
            lo = t
        else:
            hi = t
        nxt = t + gap / _t_pdf(t, df)
        if not lo < nxt < hi:
            nxt = (lo + hi) / 2.0
        if abs(nxt - t) <= 1e-14 * max(1.0, abs(t)):
            return nxt
        t = nxt
    return t


# ---- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Challenger minus champion: the estimate, its interval, the test's statistic and p-value."""

    test: str  # the named test, as the output says it
    estimate: float  # challenger − champion, in the metric's units
    low: float  # confidence interval for the estimate
    high: float
    statistic: float  # z, t or U, as the test defines it
    p_value: float
    df: float | None = None  # Welch's degrees of freedom


# ---- rates --------------------------------------------------------------------------------------


def wilson_interval(events: float, trials: float, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of one proportion."""
    z = norm_ppf(0.5 + confidence / 2.0)
    p = events / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2.0 * trials)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportions(events_a: float, trials_a: float, events_b: float, trials_b: float, confidence: float) -> Comparison:
    """B − A for two rates: the two-proportion z-test (pooled) and Newcombe's hybrid score interval."""
    pa, pb = events_a / trials_a, events_b / trials_b
    pooled = (events_a + events_b) / (trials_a + trials_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / trials_a + 1.0 / trials_b))
    if se == 0.0:
        z, p = 0.0, 1.0  # both arms all-or-nothing alike: no evidence of a difference
    else:
        z = (pb - pa) / se
        p = min(1.0, 2.0 * norm_sf(abs(z)))
    la, ua = wilson_interval(events_a, trials_a, confidence)
    lb, ub = wilson_interval(events_b, trials_b, confidence)
    d = pb - pa
    low = d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return Comparison("two-proportion z-test", d, low, high, z, p)


# ---- means --------------------------------------------------------------------------------------


def welch(mean_a: float, sd_a: float, n_a: float, mean_b: float, sd_b: float, n_b: float, confidence: float) -> Comparison:
    """B − A for two means: Welch's t-test (sample standard deviations, ddof 1) and its t interval."""
    va, vb = sd_a * sd_a / n_a, sd_b * sd_b / n_b
    d = mean_b - mean_a
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Comparison("Welch's t-test", d, d, d, 0.0 if d == 0 else math.copysign(math.inf, d), 1.0 if d == 0 else 0.0, None)
    df = (va + vb) ** 2 / (va * va / (n_a - 1) + vb * vb / (n_b - 1))
    t = d / se
    p = min(1.0, 2.0 * t_sf(abs(t), df))
    q = t_ppf(0.5 + confidence / 2.0, df)
    return Comparison("Welch's t-test", d, d - q * se, d + q * se, t, p, df)


# ---- distributions ------------------------------------------------------------------------------

Atoms = Sequence[tuple[float, float]]  # (value, count), values strictly increasing, counts > 0


def _merged(a: Atoms, b: Atoms) -> Iterator[tuple[float, float]]:
    """(count in a, count in b) per value of the union of both sides' values, ascending."""
    i = j = 0
    na, nb = len(a), len(b)
    while i < na or j < nb:
        if j >= nb or (i < na and a[i][0] < b[j][0]):
            yield a[i][1], 0.0
            i += 1
        elif i >= na or b[j][0] < a[i][0]:
            yield 0.0, b[j][1]
            j += 1
        else:
            yield a[i][1], b[j][1]
            i += 1
            j += 1


@dataclass(frozen=True)
class RankSum:
    """Mann-Whitney U of B against A with its normal approximation."""

    u: float  # U of B: pairs where B's value is the larger, ties counted one half
    n_a: float
    n_b: float
    sigma: float  # standard deviation of U under no difference, tie-corrected
    p_value: float


def mann_whitney(a: Atoms, b: Atoms) -> RankSum:
    """Two-sided Mann-Whitney U with tie and continuity correction (``method="asymptotic"``)."""
    n_a, n_b = sum(c for _, c in a), sum(c for _, c in b)
    n = n_a + n_b
    rank_sum_b = 0.0
    ties = 0.0
    below = 0.0
    for ca, cb in _merged(a, b):
        t = ca + cb
        rank_sum_b += cb * (below + (t + 1.0) / 2.0)
        ties += t * t * t - t
        below += t
    u_b = rank_sum_b - n_b * (n_b + 1.0) / 2.0
    mu = n_a * n_b / 2.0
    variance = n_a * n_b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))
    sigma = math.sqrt(max(variance, 0.0))
    if sigma == 0.0:
        return RankSum(u_b, n_a, n_b, 0.0, 1.0)
    big = max(u_b, n_a * n_b - u_b)
    z = (big - mu - 0.5) / sigma
    return RankSum(u_b, n_a, n_b, sigma, min(1.0, 2.0 * norm_sf(z)))


def _pairs_at_most(a: Atoms, b: Atoms, d: float) -> float:
    """How many pairs (x from A, y from B) have y − x ≤ d, weighted by their counts."""
    total = 0.0
    covered = 0.0  # weight of A's atoms x with y − x ≤ d; grows as y falls
    i = len(a) - 1
    for y, cb in reversed(b):
        while i >= 0 and y - a[i][0] <= d:
            covered += a[i][1]
            i -= 1
        total += cb * covered
    return total


def _difference_at_rank(a: Atoms, b: Atoms, rank: float) -> float:
    """The ``rank``-th smallest pairwise difference y − x (1-based, weighted).

    Bisection on the value with an O(|A| + |B|) count per probe, then the largest real
    difference at or below the bound found: exact up to 2⁻⁶⁴ of the range of differences.
    """
    lo = b[0][0] - a[-1][0]
    hi = b[-1][0] - a[0][0]
    if _pairs_at_most(a, b, lo) >= rank:
        return lo
    for _ in range(64):
        mid = (lo + hi) / 2.0
        if not lo < mid < hi:
            break
        if _pairs_at_most(a, b, mid) >= rank:
            hi = mid
        else:
            lo = mid
    xs = [x for x, _ in a]
    best = lo
    for y, _ in b:
        k = bisect_left(xs, y - hi)
        for j in (k - 1, k, k + 1):
            if 0 <= j < len(xs):
                diff = y - xs[j]
                if best < diff <= hi:
                    best = diff
    return best


def hodges_lehmann(a: Atoms, b: Atoms, confidence: float) -> tuple[float, float, float]:
    """The Hodges-Lehmann shift of B from A (median of the pairwise differences) and its Moses interval."""
    n_a, n_b = sum(c for _, c in a), sum(c for _, c in b)
    pairs = n_a * n_b
    half = (pairs + 1.0) / 2.0
    estimate = (_difference_at_rank(a, b, math.floor(half)) + _difference_at_rank(a, b, math.ceil(half))) / 2.0
    z = norm_ppf(0.5 + confidence / 2.0)
    c = math.floor(pairs / 2.0 - z * math.sqrt(pairs * (n_a + n_b + 1.0) / 12.0))
    if c < 1:
        return estimate, -math.inf, math.inf  # too few pairs for an interval at this confidence
    return estimate, _difference_at_rank(a, b, c), _difference_at_rank(a, b, pairs + 1.0 - c)


def atoms(values: Sequence[float]) -> list[tuple[float, float]]:
    """Raw samples as weighted atoms: each distinct value once, with how often it occurs."""
    out: list[tuple[float, float]] = []
    for v in sorted(values):
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1] + 1.0)
        else:
            out.append((v, 1.0))
    return out
