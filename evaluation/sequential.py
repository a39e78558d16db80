"""An always-valid sequential test: the mixture SPRT (mSPRT) on paired differences.

Observations ``d_1, d_2, ...`` (per-session differences B - A) are treated as
``N(delta, sigma²)``. Mixing the likelihood ratio of ``delta`` against ``H0: delta = 0``
over a normal prior ``delta ~ N(0, tau²)`` gives, after ``n`` observations with mean
``d̄_n`` (Robbins 1970; Johari et al., "Always valid inference", 2017),

    Lambda_n = sqrt(sigma² / (sigma² + n tau²))
               * exp(n² tau² d̄_n² / (2 sigma² (sigma² + n tau²))).

``Lambda_n`` is a non-negative martingale under H0, so by Ville's inequality
``P(exists n: Lambda_n >= 1 / alpha) <= alpha``: the test may look after every session and
stop the first time ``Lambda_n >= 1 / alpha`` without inflating its type-I error. The
always-valid p-value is ``p_n = min(1, min_{m <= n} 1 / Lambda_m)`` and inverting the test
gives the confidence sequence

    d̄_n ± sqrt(2 sigma² (sigma² + n tau²) / (n² tau²)
                 * (log(1 / alpha) + log((sigma² + n tau²) / sigma²) / 2)).

``sigma²`` is the running sample variance (a plug-in, as in Johari et al.), and ``tau`` is
given in units of ``sigma`` (``tau_abs = tau * sigma``), which makes the test scale-free:
with ``z_n = d̄_n / sigma_n`` and ``t = tau``,
``log Lambda_n = -log(1 + n t²) / 2 + n² t² z_n² / (2 (1 + n t²))``. The test does not
stop before ``min_samples`` observations, while the variance estimate settles.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SequentialResult:
    """The outcome of an mSPRT over a stream of paired differences.

    Args:
        n: Observations in the stream.
        stopped_at: 1-based count of observations when ``Lambda`` first reached
            ``1 / alpha`` (the test stops there), or None.
        reject: True when the test stopped (rejected ``delta = 0``).
        p_value: Always-valid p-value at the stop, or at the end.
        estimate: Mean difference at the stop, or at the end.
        ci: Always-valid ``(low, high)`` interval at the stop, or at the end.
        alpha: The level.
        tau: Mixture scale in units of the standard deviation.
    """

    n: int
    stopped_at: int | None
    reject: bool
    p_value: float
    estimate: float
    ci: tuple[float, float]
    alpha: float
    tau: float


def _running(differences: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, running means and running sample variances along the last axis."""
    n = differences.shape[-1]
    counts = np.arange(1, n + 1, dtype=np.float64)
    total = np.cumsum(differences, axis=-1)
    mean = total / counts
    square = np.cumsum(differences**2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(square - counts * mean**2, 0.0) / np.maximum(counts - 1, 1)
    return counts, mean, var


def log_likelihood_ratio(differences: np.ndarray, tau: float = 0.1) -> np.ndarray:
    """``log Lambda_n`` after each observation (module docstring).

    Args:
        differences: float, shape (..., n): streams of paired differences.
        tau: Mixture scale in standard deviations.

    Returns:
        float64, shape (..., n); 0 where the running variance is still 0 and the mean is 0,
        +inf where the variance is 0 but the mean is not.
    """
    if tau <= 0:
        raise ValueError(f"tau={tau} must be > 0, e.g. 0.1 standard deviations")
    counts, mean, var = _running(np.asarray(differences, dtype=np.float64))
    t2 = tau**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z2 = np.where(var > 0, mean**2 / var, np.where(mean == 0, 0.0, np.inf))
    return -0.5 * np.log1p(counts * t2) + counts**2 * t2 * z2 / (2 * (1 + counts * t2))


def stopping_index(
    differences: np.ndarray, alpha: float = 0.05, tau: float = 0.1, min_samples: int = 100
) -> np.ndarray:
    """0-based index of the first observation where the test stops, or -1.

    Args:
        differences: float, shape (..., n).

    Returns:
        int64, shape (...).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha} must be in (0, 1)")
    log_lr = log_likelihood_ratio(differences, tau)
    crossed = log_lr >= np.log(1 / alpha)
    crossed[..., : max(min_samples - 1, 0)] = False
    first = np.argmax(crossed, axis=-1)
    return np.where(crossed.any(axis=-1), first, -1).astype(np.int64)


def msprt(
    differences: np.ndarray, *, alpha: float = 0.05, tau: float = 0.1, min_samples: int = 100
) -> SequentialResult:
    """Run the mSPRT over one stream of paired differences, in order.

    Args:
        differences: float, shape (n,): per-session ``b - a``, in arrival order.
        alpha: The level: P(ever rejecting a true ``delta = 0``) <= alpha.
        tau: Mixture scale in standard deviations (about the effect size expected).
        min_samples: No stop before this many observations.

    Raises:
        ValueError: For an empty or non-finite stream, or bad ``alpha``/``tau``.
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.shape[0] < 2 or not np.isfinite(d).all():
        raise ValueError("differences must be a finite 1-D array of at least 2 values")
    stop = int(stopping_index(d, alpha, tau, min_samples))
    at = stop if stop >= 0 else d.shape[0] - 1
    counts, mean, var = _running(d)
    log_lr = log_likelihood_ratio(d, tau)
    max_log_lr = float(np.max(log_lr[max(min_samples - 1, 0) : at + 1], initial=0.0))
    return SequentialResult(
        n=int(d.shape[0]),
        stopped_at=stop + 1 if stop >= 0 else None,
        reject=stop >= 0,
        p_value=float(min(1.0, np.exp(-max_log_lr))),
        estimate=float(mean[at]),
        ci=_confidence_sequence(float(mean[at]), float(var[at]), int(counts[at]), alpha, tau),
        alpha=alpha,
        tau=tau,
    )


def _confidence_sequence(
    mean: float, var: float, n: int, alpha: float, tau: float
) -> tuple[float, float]:
    if var == 0:
        return (mean, mean)
    tau2 = (tau**2) * var
    radius2 = (
        2
        * var
        * (var + n * tau2)
        / (n**2 * tau2)
        * (np.log(1 / alpha) + 0.5 * np.log((var + n * tau2) / var))
    )
    radius = float(np.sqrt(radius2))
    return (mean - radius, mean + radius)


def simulated_type_one_error(
    n_streams: int,
    n: int,
    rng: np.random.Generator,
    *,
    alpha: float = 0.05,
    tau: float = 0.1,
    min_samples: int = 100,
    sampler: str = "normal",
) -> float:
    """Share of null streams (true mean difference 0) on which the mSPRT ever rejects.

    Args:
        n_streams: Independent streams simulated at once.
        n: Observations per stream (the test may look after each).
        rng: Seeded stream.
        sampler: ``"normal"`` (N(0, 1)) or ``"skewed"`` (Exponential(1) - 1: mean 0 with a
            long right tail, like per-session revenue).
    """
    if sampler == "normal":
        d = rng.standard_normal((n_streams, n))
    elif sampler == "skewed":
        d = rng.exponential(1.0, (n_streams, n)) - 1.0
    else:
        raise ValueError(f"sampler={sampler!r} is unknown; use 'normal' or 'skewed'")
    return float((stopping_index(d, alpha, tau, min_samples) >= 0).mean())
