"""The reward model behind the direct method and doubly robust: ``q(x, a, k) ≈ E[r | x, a, k]``.

A scikit-learn logistic regression (binary rewards) or a LightGBM model, on the features
``[context x, one-hot item a, item features of a, one-hot slot k]``, fitted with
**cross-fitting**: the logged pages are split into ``n_folds`` folds, and each fold's
predictions come from a model fitted on the other folds, so that a row's own reward never
informs its own prediction (which keeps doubly robust's correction term unbiased).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from fusionrank.evaluation.config import RewardModelName
from fusionrank.evaluation.ope.data import BanditLog
from fusionrank.evaluation.ope.targets import TargetPolicy

logger = logging.getLogger(__name__)

_PREDICT_ROWS = 200_000  # (row, candidate) pairs predicted at once


@dataclass(frozen=True, eq=False)
class RewardPredictions:
    """Cross-fitted reward predictions at the logged rows.

    Args:
        logged: float64, shape (n,): ``q(x_i, a_i, k_i)``, the logged item.
        target: float64, shape (n,): ``sum_c pi(c at k_i | x_i) q(x_i, c, k_i)``, the
            target policy's expected reward at the row's slot.
    """

    logged: np.ndarray
    target: np.ndarray


def _one_hot(columns: np.ndarray, width: int) -> sparse.csr_matrix:
    """int64 (m,) -> sparse (m, width) indicator rows."""
    m = len(columns)
    return sparse.csr_matrix((np.ones(m), (np.arange(m), columns)), shape=(m, width))


def _features(log: BanditLog, rows: np.ndarray, actions: np.ndarray) -> sparse.csr_matrix:
    """Sparse features of (row, action) pairs: rows and actions int64 (m,)."""
    blocks = [
        sparse.csr_matrix(log.context[rows]),
        _one_hot(actions, log.n_actions),
        _one_hot(log.position[rows], log.n_positions),
    ]
    if log.action_context is not None:
        blocks.append(sparse.csr_matrix(log.action_context[actions]))
    return sparse.hstack(blocks, format="csr")


def _model(name: RewardModelName, binary: bool, seed: int):
    if name == "logistic":
        if not binary:
            raise ValueError(
                "reward_model='logistic' needs 0/1 rewards; use reward_model='lightgbm' "
                "for other rewards (e.g. revenue)"
            )
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, max_iter=2000)
    import lightgbm

    kind = lightgbm.LGBMClassifier if binary else lightgbm.LGBMRegressor
    return kind(
        n_estimators=100,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=20,
        random_state=seed,
        verbose=-1,
        n_jobs=1,
    )


def _predict(model, features: sparse.csr_matrix, binary: bool) -> np.ndarray:
    if binary:
        return model.predict_proba(features)[:, 1]
    return model.predict(features)


def _target_expectation(
    model,
    log: BanditLog,
    target: TargetPolicy,
    rows: np.ndarray,
    binary: bool,
) -> np.ndarray:
    """``sum_c pi(c) q(x_i, c, k_i)`` for ``rows``, predicting in bounded chunks."""
    width = target.actions.shape[1]
    out = np.zeros(len(rows))
    step = max(1, _PREDICT_ROWS // width)
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        actions = target.actions[chunk]
        probs = target.probs[chunk]
        real = actions >= 0
        pair_rows = np.repeat(chunk, width)[real.ravel()]
        if pair_rows.size == 0:
            continue
        predicted = np.zeros(actions.shape)
        predicted[real] = _predict(model, _features(log, pair_rows, actions[real]), binary)
        out[start : start + len(chunk)] = (probs * predicted).sum(axis=1)
    return out


def fit_reward_model(
    log: BanditLog,
    target: TargetPolicy,
    *,
    model: RewardModelName = "logistic",
    n_folds: int = 3,
    rng: np.random.Generator,
) -> RewardPredictions:
    """Cross-fit the reward model and predict the logged and the target's rewards.

    Args:
        log: The logged rows.
        target: The target policy at those rows.
        model: ``"logistic"`` (0/1 rewards) or ``"lightgbm"``.
        n_folds: Folds of pages (>= 2).
        rng: Seeded stream for the fold assignment (and LightGBM's seed).

    Raises:
        ValueError: For fewer pages than folds, or ``logistic`` with non-0/1 rewards.
    """
    target.check(log)
    groups, group = np.unique(log.group, return_inverse=True)
    if n_folds < 2 or len(groups) < n_folds:
        raise ValueError(f"n_folds={n_folds} must be in [2, pages={len(groups)}]")
    binary = log.binary_reward
    fold = rng.permutation(len(groups))[group] % n_folds
    logged = np.empty(len(log))
    expected = np.empty(len(log))
    seed = int(rng.integers(2**31 - 1))
    for f in range(n_folds):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        fitted = _model(model, binary, seed)
        y = log.reward[train]
        if binary and np.unique(y).size < 2:
            constant = float(y.mean())  # one class only: the best estimate is that class
            logged[test], expected[test] = constant, constant * target.probs[test].sum(axis=1)
            continue
        fitted.fit(_features(log, train, log.action[train]), y.astype(int) if binary else y)
        logged[test] = _predict(fitted, _features(log, test, log.action[test]), binary)
        expected[test] = _target_expectation(fitted, log, target, test, binary)
    logger.debug("reward model %s cross-fitted on %d rows, %d folds", model, len(log), n_folds)
    return RewardPredictions(logged=logged, target=expected)
