"""Paired lifts of arm B over arm A: intervals, p-values and the minimum detectable effect.

Both arms of a simulated A/B see the same sessions (same queries, users and random draws),
so the per-session differences ``d_i = b_i - a_i`` are the unit of analysis. For ``n``
sessions with mean difference ``d̄`` and sample standard deviation ``s_d``:

* absolute lift ``d̄``, standard error ``se = s_d / sqrt(n)``; the normal-approximation
  interval is ``d̄ ± t_{n-1, 1-alpha/2} se`` and the p-value the paired t-test's
  (:func:`scipy.stats.ttest_rel`; at the session counts of an A/B, t is the normal);
* relative lift ``rho = mean_b / mean_a - 1``; its delta-method variance is
  ``Var(rho) ≈ (s_b² / m_a² + m_b² s_a² / m_a⁴ - 2 m_b s_ab / m_a³) / n``;
* the percentile bootstrap resamples sessions (pairs kept together) for both lifts at once
  (seeded; resampled session counts times the metrics, one matrix product per chunk);
* the minimum detectable effect at power ``1 - beta`` is ``(z_{1-alpha/2} + z_{1-beta}) se``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

logger = logging.getLogger(__name__)

_BOOTSTRAP_CHUNK = 1_000_000  # resample counts held at once (small chunks stay in cache)


@dataclass(frozen=True)
class LiftResult:
    """The lift of arm B over arm A on one per-session metric.

    Args:
        metric: The metric's name.
        n: Paired sessions.
        mean_a, mean_b: Arm means.
        diff: ``mean_b - mean_a``.
        se: Standard error of ``diff``.
        ci_normal, ci_bootstrap: ``(low, high)`` intervals of ``diff``.
        relative: ``mean_b / mean_a - 1`` (NaN when ``mean_a`` is 0).
        relative_ci_normal: Delta-method interval of ``relative``.
        relative_ci_bootstrap: Percentile bootstrap interval of ``relative``.
        p_value: Two-sided paired t-test of ``diff == 0``.
        mde: Minimum detectable absolute effect at ``power`` for this ``n``.
        mde_relative: ``mde / mean_a``.
        alpha: Two-sided level of the intervals (0.05 gives 95 % intervals).
        power: The power the MDE is computed for.
    """

    metric: str
    n: int
    mean_a: float
    mean_b: float
    diff: float
    se: float
    ci_normal: tuple[float, float]
    ci_bootstrap: tuple[float, float]
    relative: float
    relative_ci_normal: tuple[float, float]
    relative_ci_bootstrap: tuple[float, float]
    p_value: float
    mde: float
    mde_relative: float
    alpha: float
    power: float

    @property
    def significant(self) -> bool:
        """True when the p-value is below ``alpha``."""
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _z(q: float) -> float:
    return float(stats.norm.ppf(q))


def mde_factor(alpha: float, power: float) -> float:
    """``z_{1-alpha/2} + z_{power}``: the MDE in standard errors (2.80 at 0.05 and 0.8)."""
    return _z(1 - alpha / 2) + _z(power)


def _check_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape != b.shape:
        raise ValueError(f"arms must have the same shape, got a {a.shape} and b {b.shape}")
    if a.shape[1] < 2:
        raise ValueError(f"a lift needs at least 2 sessions per arm, got {a.shape[1]}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("per-session metrics contain NaN or infinity; drop those sessions")
    return a, b


def _lifts(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Absolute and relative lifts of stacked metrics: (k, ..., n) -> (2, k, ...)."""
    mean_a, mean_b = a.mean(axis=axis), b.mean(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(mean_a != 0, mean_b / mean_a - 1, np.nan)
    return np.stack([mean_b - mean_a, relative])


def _bootstrap(
    a: np.ndarray, b: np.ndarray, alpha: float, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Percentile intervals of both lifts of every metric: (k, n) each -> (2, 2, k).

    The paired bootstrap resamples whole sessions: a resample is a count vector
    ``c ~ Multinomial(n, 1/n)`` over the n sessions (from n uniform draws), and its means
    are ``c @ x / n`` for the stacked metrics ``x`` (n, 2k) of both arms. A batch of R
    resamples is one matrix product ``(R, n) @ (n, 2k)``, never a gathered copy of the
    sessions. Interval: the ``alpha/2`` and ``1 - alpha/2`` quantiles of the resampled
    ``mean_b - mean_a`` and ``mean_b / mean_a - 1``.
    """
    if np.ptp(b - a, axis=1).max() == 0:  # every difference equal: the interval is a point
        point = _lifts(a, b)
        return np.stack([point, point])
    k, n = a.shape
    x = np.concatenate([a, b]).T  # (n, 2k)
    batch = max(1, _BOOTSTRAP_CHUNK // n)
    means = []
    for start in range(0, n_resamples, batch):
        r = min(batch, n_resamples - start)
        draws = rng.integers(0, n, size=(r, n)) + (np.arange(r) * n)[:, None]
        counts = np.bincount(draws.ravel(), minlength=r * n).reshape(r, n)
        means.append(counts.astype(np.float64) @ x / n)
    resampled = np.concatenate(means)  # (R, 2k)
    mean_a, mean_b = resampled[:, :k], resampled[:, k:]
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(mean_a != 0, mean_b / mean_a - 1, np.nan)
    lifts = np.stack([mean_b - mean_a, relative])  # (2, R, k)
    return np.quantile(lifts, [alpha / 2, 1 - alpha / 2], axis=1)


def _normal(a: np.ndarray, b: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    """Paired t-test, normal interval and delta-method relative interval per metric."""
    n = a.shape[1]
    diff = b - a
    mean_a, mean_b = a.mean(axis=1), b.mean(axis=1)
    sd = diff.std(axis=1, ddof=1)
    se = sd / np.sqrt(n)
    t_crit = float(stats.t.ppf(1 - alpha / 2, n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = stats.ttest_rel(b, a, axis=1).pvalue
        cov = ((a - mean_a[:, None]) * (b - mean_b[:, None])).sum(axis=1) / (n - 1)
        var_a, var_b = a.var(axis=1, ddof=1), b.var(axis=1, ddof=1)
        rel_var = (
            var_b / mean_a**2 + mean_b**2 * var_a / mean_a**4 - 2 * mean_b * cov / mean_a**3
        ) / n
        relative = np.where(mean_a != 0, mean_b / mean_a - 1, np.nan)
    # No spread at all: the difference is exact (e.g. identical arms under common draws).
    p_value = np.where(se > 0, p_value, np.where(diff.mean(axis=1) == 0, 1.0, 0.0))
    rel_half = t_crit * np.sqrt(np.maximum(rel_var, 0.0))
    return {
        "mean_a": mean_a,
        "mean_b": mean_b,
        "diff": mean_b - mean_a,
        "se": se,
        "low": mean_b - mean_a - t_crit * se,
        "high": mean_b - mean_a + t_crit * se,
        "relative": relative,
        "rel_low": relative - rel_half,
        "rel_high": relative + rel_half,
        "p_value": p_value,
    }


def paired_lifts(
    a: np.ndarray,
    b: np.ndarray,
    names: Sequence[str],
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> tuple[LiftResult, ...]:
    """Lifts of B over A for several per-session metrics of the same paired sessions.

    Args:
        a: float, shape (k, n): metric ``i`` of session ``j`` in arm A.
        b: float, shape (k, n): the same sessions in arm B.
        names: k metric names.
        alpha: Two-sided level; intervals cover ``1 - alpha``.
        power: Power for the minimum detectable effect.
        n_bootstrap: Bootstrap resamples (sessions resampled in pairs).
        rng: Seeded stream for the bootstrap.

    Returns:
        One :class:`LiftResult` per metric, in ``names`` order.

    Raises:
        ValueError: For arms of different shapes, fewer than 2 sessions, non-finite values,
            or a wrong number of names.
    """
    a, b = _check_pairs(a, b)
    if len(names) != a.shape[0]:
        raise ValueError(f"names has {len(names)} entries for {a.shape[0]} metrics")
    normal = _normal(a, b, alpha)
    boot = _bootstrap(a, b, alpha, n_bootstrap, rng)
    factor = mde_factor(alpha, power)
    results = []
    for i, name in enumerate(names):
        mde = factor * float(normal["se"][i])
        mean_a = float(normal["mean_a"][i])
        results.append(
            LiftResult(
                metric=name,
                n=int(a.shape[1]),
                mean_a=mean_a,
                mean_b=float(normal["mean_b"][i]),
                diff=float(normal["diff"][i]),
                se=float(normal["se"][i]),
                ci_normal=(float(normal["low"][i]), float(normal["high"][i])),
                ci_bootstrap=(float(boot[0, 0, i]), float(boot[1, 0, i])),
                relative=float(normal["relative"][i]),
                relative_ci_normal=(float(normal["rel_low"][i]), float(normal["rel_high"][i])),
                relative_ci_bootstrap=(float(boot[0, 1, i]), float(boot[1, 1, i])),
                p_value=float(normal["p_value"][i]),
                mde=mde,
                mde_relative=mde / mean_a if mean_a != 0 else float("nan"),
                alpha=alpha,
                power=power,
            )
        )
    return tuple(results)


def paired_lift(
    a: np.ndarray,
    b: np.ndarray,
    name: str = "metric",
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> LiftResult:
    """:func:`paired_lifts` for one metric: ``a`` and ``b`` are float arrays of shape (n,)."""
    return paired_lifts(
        np.asarray(a)[None, :],
        np.asarray(b)[None, :],
        [name],
        alpha=alpha,
        power=power,
        n_bootstrap=n_bootstrap,
        rng=rng,
    )[0]


def cumulative_lift(a: np.ndarray, b: np.ndarray, n_points: int = 200) -> dict[str, np.ndarray]:
    """The running lift as sessions accumulate, for the cumulative-lift plot.

    Args:
        a, b: float, shape (n,): one metric per session of each arm, in session order.
        n_points: Points kept (evenly spaced session counts).

    Returns:
        ``sessions`` int64 (p,), ``diff`` float64 (p,) (running mean of ``b - a``) and
        ``low``/``high`` float64 (p,): its running normal 95 % interval.
    """
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    n = diff.shape[0]
    counts = np.unique(np.linspace(2, n, min(n_points, n - 1)).astype(np.int64))
    total = np.cumsum(diff)[counts - 1]
    square = np.cumsum(diff**2)[counts - 1]
    mean = total / counts
    var = np.maximum(square - counts * mean**2, 0.0) / (counts - 1)
    half = _z(0.975) * np.sqrt(var / counts)
    return {"sessions": counts, "diff": mean, "low": mean - half, "high": mean + half}
