"""The Open Bandit Dataset check of the estimators (Saito et al., NeurIPS 2021 D&B).

Estimate the Random policy's CTR from the logs of Bernoulli Thompson Sampling (BTS), and
compare with the Random policy's on-policy CTR in its own logs, per campaign. The error of
an estimate ``V`` is the relative estimation error ``|V - V_on| / V_on``; its spread comes
from bootstrap runs: each run resamples the BTS impressions with replacement (the rows of
:func:`bootstrap_rows`, which the OBP side of the benchmark reuses) and estimates again,
reward model included.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusionrank import progress
from fusionrank.datasets import obd_impressions
from fusionrank.evaluation.config import RewardModelName
from fusionrank.evaluation.ope.data import BanditLog, from_obd
from fusionrank.evaluation.ope.estimators import ESTIMATORS, Estimate, estimate_all
from fusionrank.evaluation.ope.targets import uniform_target

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class OBDValidation:
    """One campaign's check.

    Args:
        campaign: ``"all"``, ``"men"`` or ``"women"``.
        on_policy: The Random policy's CTR in its own logs (the ground truth).
        estimates: Each estimator on the full BTS logs, with its bootstrap interval.
        relative_errors: float64, shape (n_estimators, n_runs): the relative error of each
            estimator (rows in ``estimators`` order) in each bootstrap run.
        estimators: The estimator names.
    """

    campaign: str
    on_policy: float
    estimates: tuple[Estimate, ...]
    relative_errors: np.ndarray
    estimators: tuple[str, ...]

    def summary(self) -> dict[str, dict[str, float]]:
        """Per estimator: full-data value and error, and the runs' mean and sd of error."""
        out = {}
        for i, estimate in enumerate(self.estimates):
            out[estimate.estimator] = {
                "value": estimate.value,
                "ci_low": estimate.ci[0],
                "ci_high": estimate.ci[1],
                "relative_error": abs(estimate.value - self.on_policy) / self.on_policy,
                "relative_error_mean": float(self.relative_errors[i].mean()),
                "relative_error_sd": float(self.relative_errors[i].std(ddof=1))
                if self.relative_errors.shape[1] > 1
                else 0.0,
            }
        return out


def bootstrap_rows(n: int, n_runs: int, seed: int) -> np.ndarray:
    """int64, shape (n_runs, n): row indices (file order) of each bootstrap run."""
    return np.random.default_rng(seed).integers(0, n, size=(n_runs, n))


def validate_on_obd(
    data_dir: str | Path,
    campaign: str,
    *,
    n_runs: int = 30,
    seed: int = 0,
    reward_model: RewardModelName = "logistic",
    n_folds: int = 3,
    n_bootstrap: int = 1000,
    estimators: tuple[str, ...] = ESTIMATORS,
) -> OBDValidation:
    """Run the check for one campaign (module docstring).

    Args:
        data_dir: The OBD folder holding ``random/`` and ``bts/``.
        campaign: ``"all"``, ``"men"`` or ``"women"``.
        n_runs: Bootstrap runs of the BTS logs.
        seed: Seeds the runs' rows (:func:`bootstrap_rows`) and the estimators.
        reward_model: Regression behind DM, DR and SNDR.
        n_folds: Cross-fitting folds.
        n_bootstrap: Resamples of each full-data interval.
        estimators: Which estimators to run.
    """
    on_policy = float(obd_impressions(data_dir, "random", campaign).click.mean())
    log = from_obd(obd_impressions(data_dir, "bts", campaign))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))

    def estimate(sample: BanditLog, resamples: int) -> tuple[Estimate, ...]:
        return estimate_all(
            sample,
            uniform_target(sample),
            reward_model=reward_model,
            n_folds=n_folds,
            n_bootstrap=resamples,
            rng=rng,
            estimators=estimators,
        )

    full = estimate(log, n_bootstrap)
    errors = np.empty((len(estimators), n_runs))
    for run, rows in enumerate(
        progress.track(bootstrap_rows(len(log), n_runs, seed), f"OBD {campaign}: runs")
    ):
        values = estimate(log.take(rows, np.arange(len(rows), dtype=np.int64)), 0)
        errors[:, run] = [abs(v.value - on_policy) / on_policy for v in values]
    logger.info("OBD %s: %d runs, on-policy CTR %.5f", campaign, n_runs, on_policy)
    return OBDValidation(campaign, on_policy, full, errors, tuple(estimators))
