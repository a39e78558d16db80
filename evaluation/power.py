"""Power and sample size for planning a live A/B test (normal approximation).

With ``z_a = z_{1-alpha/2}``, ``z_b = z_{power}`` and an effect ``delta`` on a metric whose
per-session standard deviation is ``sigma``:

* **two-sample** (a live test: each user sees one arm; ``n`` sessions per arm)
  ``se = sigma sqrt(2 / n)``, so ``n = 2 sigma² (z_a + z_b)² / delta²``;
* **paired** (both arms on the same sessions, as in the simulator or interleaving;
  ``sigma`` is then the standard deviation of the per-session difference)
  ``se = sigma / sqrt(n)``, so ``n = sigma² (z_a + z_b)² / delta²``.

Power at ``n`` is ``Phi(|delta| / se - z_a) + Phi(-|delta| / se - z_a)``, and the minimum
detectable effect ``(z_a + z_b) se``. For a conversion rate ``p``, ``sigma = sqrt(p (1-p))``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

logger = logging.getLogger(__name__)

Design = Literal["two-sample", "paired"]
DESIGNS: tuple[Design, ...] = ("two-sample", "paired")


def _check(alpha: float, power: float | None, design: str) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha} must be in (0, 1), e.g. 0.05")
    if power is not None and not 0 < power < 1:
        raise ValueError(f"power={power} must be in (0, 1), e.g. 0.8")
    if design not in DESIGNS:
        raise ValueError(f"design={design!r} is unknown; use one of {', '.join(DESIGNS)}")


def _variance_factor(design: str) -> float:
    return 2.0 if design == "two-sample" else 1.0


def standard_error(sd: float, n: float, design: Design = "two-sample") -> float:
    """The standard error of the difference of arm means with ``n`` sessions per arm."""
    if sd < 0 or n <= 0:
        raise ValueError(f"need sd >= 0 and n > 0, got sd={sd}, n={n}")
    return float(sd * math.sqrt(_variance_factor(design) / n))


def sample_size(
    effect: float,
    sd: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    design: Design = "two-sample",
) -> int:
    """Sessions per arm (pairs when ``design="paired"``) to detect ``effect``.

    Args:
        effect: The absolute effect to detect (same unit as the metric), non-zero.
        sd: Per-session standard deviation (of the difference when paired).
        alpha: Two-sided significance level.
        power: Probability of detecting ``effect``.
        design: ``"two-sample"`` or ``"paired"``.

    Raises:
        ValueError: For a zero effect, a negative sd, or levels outside (0, 1).
    """
    _check(alpha, power, design)
    if effect == 0 or not np.isfinite(effect):
        raise ValueError(f"effect={effect} must be a non-zero finite number")
    if sd < 0:
        raise ValueError(f"sd={sd} must be >= 0")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return max(2, math.ceil(_variance_factor(design) * (sd * z / effect) ** 2))


def power_at(
    effect: float, sd: float, n: float, *, alpha: float = 0.05, design: Design = "two-sample"
) -> float:
    """Probability that a two-sided test at ``alpha`` detects ``effect`` with ``n`` per arm."""
    _check(alpha, None, design)
    se = standard_error(sd, n, design)
    if se == 0:
        return 1.0 if effect != 0 else alpha
    z_a = stats.norm.ppf(1 - alpha / 2)
    shift = abs(effect) / se
    return float(stats.norm.cdf(shift - z_a) + stats.norm.cdf(-shift - z_a))


def minimum_detectable_effect(
    sd: float,
    n: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    design: Design = "two-sample",
) -> float:
    """The smallest absolute effect detected with probability ``power`` at ``n`` per arm."""
    _check(alpha, power, design)
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z * standard_error(sd, n, design))


def proportion_sd(rate: float) -> float:
    """Per-session standard deviation ``sqrt(p (1 - p))`` of a 0/1 metric with rate ``p``."""
    if not 0 < rate < 1:
        raise ValueError(f"baseline rate={rate} must be in (0, 1), e.g. 0.05 for 5 %")
    return math.sqrt(rate * (1 - rate))


@dataclass(frozen=True)
class PowerPlan:
    """A planning answer: what a live test needs, or what it can detect.

    Args:
        baseline: The metric's mean in the control arm.
        sd: Per-session standard deviation used.
        effect: Absolute effect to detect (``relative_effect * baseline``).
        relative_effect: ``effect / baseline``.
        sessions_per_arm: Sessions each arm needs (or has).
        power: Power at that size.
        alpha: Two-sided level.
        design: ``"two-sample"`` or ``"paired"``.
    """

    baseline: float
    sd: float
    effect: float
    relative_effect: float
    sessions_per_arm: int
    power: float
    alpha: float
    design: Design


def plan(
    baseline: float,
    *,
    sd: float | None = None,
    relative_effect: float | None = None,
    sessions_per_arm: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    design: Design = "two-sample",
) -> PowerPlan:
    """Plan a live test from a baseline: give a relative effect to get the sessions needed,
    or the sessions per arm to get the smallest relative effect detectable at ``power``.

    Args:
        baseline: Control mean (a rate in (0, 1) when ``sd`` is None).
        sd: Per-session standard deviation; default ``sqrt(p (1 - p))`` of a rate.
        relative_effect: The lift to detect, e.g. 0.02 for +2 %.
        sessions_per_arm: The sessions each arm will get.

    Raises:
        ValueError: Unless exactly one of ``relative_effect`` and ``sessions_per_arm`` is
            given, or for a zero baseline.
    """
    if (relative_effect is None) == (sessions_per_arm is None):
        raise ValueError("give exactly one of relative_effect (e.g. 0.02) and sessions_per_arm")
    if baseline == 0:
        raise ValueError("baseline=0: a relative effect of a zero mean is undefined")
    sd = proportion_sd(baseline) if sd is None else sd
    if relative_effect is not None:
        effect = relative_effect * baseline
        n = sample_size(effect, sd, alpha=alpha, power=power, design=design)
    else:
        assert sessions_per_arm is not None
        n = sessions_per_arm
        effect = minimum_detectable_effect(sd, n, alpha=alpha, power=power, design=design)
    return PowerPlan(
        baseline=baseline,
        sd=sd,
        effect=effect,
        relative_effect=effect / baseline,
        sessions_per_arm=n,
        power=power_at(effect, sd, n, alpha=alpha, design=design),
        alpha=alpha,
        design=design,
    )
