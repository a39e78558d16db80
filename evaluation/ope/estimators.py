"""Off-policy estimators of a target policy's expected reward per impression.

With logged rows ``i`` (context ``x_i``, item ``a_i`` at slot ``k_i``, reward ``r_i``,
logging propensity ``mu_i``), target probability ``pi_i = pi(a_i at k_i | x_i)``, importance
weight ``w_i = pi_i / mu_i``, and cross-fitted reward predictions ``q_i = q(x_i, a_i, k_i)``
and ``q_i^pi = sum_a pi(a at k_i | x_i) q(x_i, a, k_i)``, over ``n`` rows:

* IPS        ``V = (1/n) sum w_i r_i`` (per slot, this is the independent-item IPS of
  Li et al. 2018: unbiased when the reward of a slot depends on its own item only);
* SNIPS      ``V = sum w_i r_i / sum w_i`` (always within [min r, max r]);
* DM         ``V = (1/n) sum q_i^pi``;
* DR         ``V = (1/n) sum (q_i^pi + w_i (r_i - q_i))``;
* SNDR       ``V = (1/n) sum q_i^pi + sum w_i (r_i - q_i) / sum w_i``;
* PBM-IPS    under the position-based model ``E[r | a at k] = theta_k alpha(x, a)``, a click
  at slot ``k`` divided by ``theta_k`` estimates ``alpha``, and the target earns
  ``sum_j theta_j pi(a at j)`` from that item over its K slots, so
  ``V = (1/n) sum (r_i / theta_{k_i}) (1/K) sum_j theta_j pi(a_i at j | x_i) / mu_i``:
  it pools the evidence of every slot about an item, for targets that move items.

Each estimate comes with a percentile bootstrap interval that resamples logged pages
(``scipy.stats.bootstrap``), with the reward model held fixed, and the effective sample
size ``(sum w)² / sum w²`` of its weights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from fusionrank.evaluation.config import RewardModelName
from fusionrank.evaluation.ope.data import BanditLog
from fusionrank.evaluation.ope.reward_model import RewardPredictions, fit_reward_model
from fusionrank.evaluation.ope.targets import TargetPolicy

logger = logging.getLogger(__name__)

ESTIMATORS = ("IPS", "SNIPS", "DM", "DR", "SNDR", "PBM-IPS")
_WEIGHTS = "the logged propensities are the logging policy's"
ASSUMPTIONS = {
    "IPS": f"{_WEIGHTS}, every item the target shows at a slot could be logged there, and "
    "a slot's reward depends on its own item only",
    "SNIPS": f"as IPS ({_WEIGHTS}; a slot's reward depends on its own item only); "
    "self-normalised, so slightly biased but bounded",
    "DM": "the reward model predicts the reward of items at slots the logs rarely showed",
    "DR": f"either the reward model or the propensities are right ({_WEIGHTS})",
    "SNDR": "as DR, with the correction self-normalised",
    "PBM-IPS": f"{_WEIGHTS}, and clicks follow the position-based model (examination "
    "times attractiveness, the examination estimated from the logs or given)",
}


@dataclass(frozen=True)
class Estimate:
    """One estimator's value of the target policy.

    Args:
        estimator: Its name (one of :data:`ESTIMATORS`).
        value: Estimated expected reward per impression.
        ci: Percentile bootstrap ``(low, high)`` interval at ``1 - alpha`` (NaN when
            computed with ``n_bootstrap=0``).
        std_error: Bootstrap standard error (NaN likewise).
        n: Logged rows (impressions).
        n_groups: Logged pages.
        ess: Effective sample size of the importance weights (``n`` for DM).
        assumption: What the estimate rests on, in a sentence.
        coverage: For estimators that value only what the logs showed: the share of the
            target's examination that falls on logged (query, item) pairs; else None.
    """

    estimator: str
    value: float
    ci: tuple[float, float]
    std_error: float
    n: int
    n_groups: int
    ess: float
    assumption: str = ""
    coverage: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


Statistic = Callable[..., np.ndarray]


def _ratio(num: np.ndarray, den: np.ndarray, axis: int = -1) -> np.ndarray:
    return num.mean(axis=axis) / den.mean(axis=axis)


def _two_ratios(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, axis: int = -1
) -> np.ndarray:
    return a.mean(axis=axis) / b.mean(axis=axis) + c.mean(axis=axis) / d.mean(axis=axis)


def _estimate(
    name: str,
    log: BanditLog,
    columns: list[np.ndarray],
    statistic: Statistic,
    weights: np.ndarray | None,
    alpha: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> Estimate:
    """Sum each row column per page, then bootstrap ``statistic`` of the page means."""
    _, group = np.unique(log.group, return_inverse=True)
    n_groups = int(group.max()) + 1
    sums = tuple(np.bincount(group, weights=c, minlength=n_groups) for c in columns)
    value = float(statistic(*sums))
    if n_bootstrap == 0:  # point estimate only (e.g. inside an outer bootstrap)
        low = high = std_error = float("nan")
    elif n_groups < 2 or all(np.ptp(s) == 0 for s in sums):
        low = high = value
        std_error = 0.0
    else:
        result = stats.bootstrap(
            sums,
            statistic,
            n_resamples=n_bootstrap,
            vectorized=True,
            paired=True,
            confidence_level=1 - alpha,
            method="percentile",
            rng=rng,
        )
        low, high = (float(v) for v in result.confidence_interval)
        std_error = float(result.standard_error)
    ess = float(len(log)) if weights is None else _ess(weights)
    return Estimate(
        name, value, (low, high), std_error, len(log), n_groups, ess, ASSUMPTIONS.get(name, "")
    )


def ess_of(weights: np.ndarray) -> float:
    """Effective sample size ``(sum w)² / sum w²`` of weights (float64 (n,))."""
    return _ess(weights)


def _ess(weights: np.ndarray) -> float:
    square = float((weights**2).sum())
    return float(weights.sum() ** 2 / square) if square > 0 else 0.0


def importance_weights(log: BanditLog, target: TargetPolicy) -> np.ndarray:
    """``w_i = pi(a_i at k_i | x_i) / mu_i``, float64 shape (n,)."""
    return target.logged_prob(log) / log.propensity


def ips(
    log: BanditLog,
    target: TargetPolicy,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> Estimate:
    """Inverse propensity scoring (module docstring)."""
    w = importance_weights(log, target)
    ones = np.ones(len(log))
    return _estimate("IPS", log, [w * log.reward, ones], _ratio, w, alpha, n_bootstrap, rng)


def snips(
    log: BanditLog,
    target: TargetPolicy,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> Estimate:
    """Self-normalised IPS (module docstring)."""
    w = importance_weights(log, target)
    if w.sum() == 0:
        raise ValueError(
            f"target {target.name} never shows a logged item at its logged slot: every "
            "importance weight is 0, so SNIPS is undefined; the logs cannot evaluate it"
        )
    return _estimate("SNIPS", log, [w * log.reward, w], _ratio, w, alpha, n_bootstrap, rng)


def direct_method(
    log: BanditLog,
    target: TargetPolicy,
    predictions: RewardPredictions,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> Estimate:
    """The direct method: the reward model's value of the target (module docstring)."""
    ones = np.ones(len(log))
    return _estimate("DM", log, [predictions.target, ones], _ratio, None, alpha, n_bootstrap, rng)


def doubly_robust(
    log: BanditLog,
    target: TargetPolicy,
    predictions: RewardPredictions,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> Estimate:
    """Doubly robust: the direct method corrected by importance-weighted residuals."""
    w = importance_weights(log, target)
    values = predictions.target + w * (log.reward - predictions.logged)
    return _estimate("DR", log, [values, np.ones(len(log))], _ratio, w, alpha, n_bootstrap, rng)


def self_normalized_dr(
    log: BanditLog,
    target: TargetPolicy,
    predictions: RewardPredictions,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> Estimate:
    """Self-normalised doubly robust: the residual term divided by ``sum w`` not ``n``."""
    w = importance_weights(log, target)
    if w.sum() == 0:
        raise ValueError(f"target {target.name}: every importance weight is 0; SNDR is undefined")
    residual = w * (log.reward - predictions.logged)
    columns = [predictions.target, np.ones(len(log)), residual, w]
    return _estimate("SNDR", log, columns, _two_ratios, w, alpha, n_bootstrap, rng)


def examination_from_logs(log: BanditLog) -> np.ndarray:
    """Relative examination ``theta_k`` of each slot, from the logs alone.

    Under the position-based model, ``E[r_i / mu_i | slot k] = theta_k sum_a alpha(x, a)``
    over the items the logging policy may show, so when it may show the same items at
    every slot (true of OBD's policies), the slot means of ``r / mu`` are proportional to
    ``theta``. Scaled so that the first slot has 1.

    Returns:
        float64, shape (K,).

    Raises:
        ValueError: If a slot has no rows or no reward at all.
    """
    counts = np.bincount(log.position, minlength=log.n_positions)
    totals = np.bincount(
        log.position, weights=log.reward / log.propensity, minlength=log.n_positions
    )
    if np.any(counts == 0) or np.any(totals <= 0):
        raise ValueError(
            "cannot estimate examination: some slot has no logged rows or no reward; "
            "pass examination= from a fitted click model instead"
        )
    theta = totals / counts
    return theta / theta[0]


def pbm_ips(
    log: BanditLog,
    target: TargetPolicy,
    examination: np.ndarray,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> Estimate:
    """Position-based-model IPS (module docstring).

    Args:
        examination: float, shape (K,): relative examination of each slot (> 0), e.g. from
            :func:`examination_from_logs` or a fitted click model.
    """
    theta = np.asarray(examination, dtype=np.float64)
    if theta.shape != (log.n_positions,) or np.any(theta <= 0):
        raise ValueError(
            f"examination must be {log.n_positions} positive values, one per slot; got {theta}"
        )
    target.check(log)
    pooled = (target.position_probs * theta).sum(axis=1) / log.n_positions
    w = pooled / (theta[log.position] * log.propensity)
    return _estimate(
        "PBM-IPS", log, [w * log.reward, np.ones(len(log))], _ratio, w, alpha, n_bootstrap, rng
    )


def estimate_all(
    log: BanditLog,
    target: TargetPolicy,
    *,
    examination: np.ndarray | None = None,
    reward_model: RewardModelName = "logistic",
    n_folds: int = 3,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
    estimators: tuple[str, ...] = ESTIMATORS,
) -> tuple[Estimate, ...]:
    """Every estimator of :data:`ESTIMATORS` that ``estimators`` names, in that order.

    The reward model is cross-fitted once and shared by DM, DR and SNDR; PBM-IPS uses
    ``examination`` or, when None, :func:`examination_from_logs`.
    """
    unknown = set(estimators) - set(ESTIMATORS)
    if unknown:
        raise ValueError(f"unknown estimator(s) {sorted(unknown)}; use {', '.join(ESTIMATORS)}")
    predictions = None
    if {"DM", "DR", "SNDR"} & set(estimators):
        predictions = fit_reward_model(log, target, model=reward_model, n_folds=n_folds, rng=rng)
    results = []
    for name in estimators:
        if name == "IPS":
            results.append(ips(log, target, alpha=alpha, n_bootstrap=n_bootstrap, rng=rng))
        elif name == "SNIPS":
            results.append(snips(log, target, alpha=alpha, n_bootstrap=n_bootstrap, rng=rng))
        elif name == "PBM-IPS":
            theta = examination_from_logs(log) if examination is None else examination
            results.append(
                pbm_ips(log, target, theta, alpha=alpha, n_bootstrap=n_bootstrap, rng=rng)
            )
        else:
            assert predictions is not None
            method = {"DM": direct_method, "DR": doubly_robust, "SNDR": self_normalized_dr}
            results.append(
                method[name](
                    log, target, predictions, alpha=alpha, n_bootstrap=n_bootstrap, rng=rng
                )
            )
    return tuple(results)
