"""The reward model behind the direct method and doubly robust: ``q(x, a, k) ≈ E[r | x, a, k]``.

Four models, all fitted with **cross-fitting**: the logged pages are split into
``n_folds`` folds, and each fold's predictions come from a model fitted on the other
folds, so that a row's own reward never informs its own prediction (which keeps doubly
robust's correction term unbiased).

* ``logistic``: scikit-learn logistic regression (0/1 rewards) on the features
  ``[context x, one-hot item a, item features of a, one-hot slot k]``;
* ``lightgbm``: LightGBM on the same features (any reward);
* ``beta_binomial``: no features at all. At each slot ``k`` the items' click rates are
  drawn from a prior ``Beta(alpha_k, beta_k)`` fitted by maximum marginal likelihood
  (empirical Bayes: each item's clicks are beta-binomial given its impressions), and
  ``q(a, k)`` is the posterior mean ``(clicks + alpha_k) / (impressions + alpha_k +
  beta_k)``. An item the logs rarely showed is pulled to the prior mean, which weighs
  every item equally, not to the logged click rate, which the logging policy's favourite
  items dominate. It ignores the context, so it suits logging policies that do not look
  at the context (the Open Bandit Dataset's BTS and Random) and 0/1 rewards.
* ``blend``: the mean of ``beta_binomial``'s prediction and that of a per-slot logistic
  regression on ``[context x, item features of a]`` alone (no item identity; weakly
  regularised, C = 100, as in Open Bandit Pipeline's OBD benchmark). One side remembers
  each item, the other generalises across items by their features; on the Open Bandit
  Dataset their mean was the most accurate of the reward models tried for DR and SNDR
  (``benchmarks/README.md`` lists them). 0/1 rewards.
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


def _features(
    log: BanditLog, rows: np.ndarray, actions: np.ndarray, identity: bool = True
) -> sparse.csr_matrix:
    """Sparse features of (row, action) pairs: rows and actions int64 (m,). Without
    ``identity``: no one-hot item and slot, only the context and the item features."""
    blocks = [sparse.csr_matrix(log.context[rows])]
    if identity:
        blocks += [_one_hot(actions, log.n_actions), _one_hot(log.position[rows], log.n_positions)]
    if log.action_context is not None:
        blocks.append(sparse.csr_matrix(log.action_context[actions]))
    return sparse.hstack(blocks, format="csr")


BLEND_C = 100.0
"""Inverse L2 strength of ``blend``'s feature-only logistic regression."""


def _check_rewards(name: RewardModelName, binary: bool) -> None:
    if name in ("logistic", "beta_binomial", "blend") and not binary:
        raise ValueError(
            f"reward_model='{name}' needs 0/1 rewards; use reward_model='lightgbm' "
            "for other rewards (e.g. revenue)"
        )


def _beta_prior(clicks: np.ndarray, impressions: np.ndarray) -> tuple[float, float]:
    """``(alpha, beta)`` maximising the beta-binomial likelihood of the items' clicks.

    Args:
        clicks: float64 (m,): clicks of each item that has impressions.
        impressions: float64 (m,): its impressions (> 0).
    """
    from scipy import optimize, stats

    rate = clicks.sum() / impressions.sum()
    if rate <= 0 or rate >= 1:  # no clicks (or no misses): the prior is the one rate
        edge = 1e-6 if rate <= 0 else 1 - 1e-6
        return edge * 1e6, (1 - edge) * 1e6

    def loss(log_ab: np.ndarray) -> float:
        a, b = np.exp(log_ab)
        return -float(stats.betabinom.logpmf(clicks, impressions, a, b).sum())

    start = np.log([rate * 100.0, (1.0 - rate) * 100.0])
    bounds = [(-10.0, 16.0), (-10.0, 16.0)]
    fitted = optimize.minimize(loss, start, method="L-BFGS-B", bounds=bounds)
    a, b = np.exp(fitted.x)
    return float(a), float(b)


def _beta_binomial_table(log: BanditLog, train: np.ndarray) -> np.ndarray:
    """float64 (n_actions, n_positions): posterior mean reward of each item at each slot
    from the rows ``train`` (module docstring)."""
    table = np.empty((log.n_actions, log.n_positions))
    for slot in range(log.n_positions):
        rows = train[log.position[train] == slot]
        if rows.size == 0:
            rows = train  # nothing logged at this slot: borrow every slot's evidence
        impressions = np.bincount(log.action[rows], minlength=log.n_actions).astype(np.float64)
        clicks = np.bincount(log.action[rows], weights=log.reward[rows], minlength=log.n_actions)
        seen = impressions > 0
        a, b = _beta_prior(clicks[seen], impressions[seen])
        table[:, slot] = (clicks + a) / (impressions + a + b)
    return table


def _model(name: RewardModelName, binary: bool, seed: int):
    _check_rewards(name, binary)
    if name == "logistic":
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
    identity: bool = True,
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
        features = _features(log, pair_rows, actions[real], identity)
        predicted[real] = _predict(model, features, binary)
        out[start : start + len(chunk)] = (probs * predicted).sum(axis=1)
    return out


def _beta_binomial_fold(
    log: BanditLog, target: TargetPolicy, train: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``beta_binomial``'s (logged, target) predictions at ``test`` from ``train``."""
    table = _beta_binomial_table(log, train)
    actions = target.actions[test]
    at_slot = table[np.maximum(actions, 0), log.position[test][:, None]]
    expected = (target.probs[test] * np.where(actions >= 0, at_slot, 0.0)).sum(axis=1)
    return table[log.action[test], log.position[test]], expected


def _feature_fold(
    log: BanditLog, target: TargetPolicy, train: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``blend``'s feature side: per slot, a logistic regression on the context and the
    item features, its (logged, target) predictions at ``test`` from ``train``."""
    from sklearn.linear_model import LogisticRegression

    logged, expected = np.empty(len(test)), np.empty(len(test))
    has_features = log.context.shape[1] > 0 or log.action_context is not None
    for slot in range(log.n_positions):
        at_test = np.flatnonzero(log.position[test] == slot)
        if at_test.size == 0:
            continue
        rows = train[log.position[train] == slot]
        rows = rows if rows.size else train  # nothing logged at this slot: every slot
        y = log.reward[rows]
        here = test[at_test]
        if not has_features or np.unique(y).size < 2:
            constant = float(y.mean())  # nothing to tell rows apart: the slot's mean
            logged[at_test] = constant
            expected[at_test] = constant * target.probs[here].sum(axis=1)
            continue
        fitted = LogisticRegression(C=BLEND_C, max_iter=5000)
        fitted.fit(_features(log, rows, log.action[rows], identity=False), y.astype(int))
        features = _features(log, here, log.action[here], identity=False)
        logged[at_test] = fitted.predict_proba(features)[:, 1]
        expected[at_test] = _target_expectation(fitted, log, target, here, True, identity=False)
    return logged, expected


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
        model: ``"logistic"``, ``"beta_binomial"`` or ``"blend"`` (0/1 rewards), or
            ``"lightgbm"``.
        n_folds: Folds of pages (>= 2).
        rng: Seeded stream for the fold assignment (and LightGBM's seed).

    Raises:
        ValueError: For fewer pages than folds, or a 0/1 model with other rewards.
    """
    target.check(log)
    groups, group = np.unique(log.group, return_inverse=True)
    if n_folds < 2 or len(groups) < n_folds:
        raise ValueError(f"n_folds={n_folds} must be in [2, pages={len(groups)}]")
    binary = log.binary_reward
    _check_rewards(model, binary)
    fold = rng.permutation(len(groups))[group] % n_folds
    logged = np.empty(len(log))
    expected = np.empty(len(log))
    seed = int(rng.integers(2**31 - 1))
    for f in range(n_folds):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        if model in ("beta_binomial", "blend"):
            logged[test], expected[test] = _beta_binomial_fold(log, target, train, test)
            if model == "blend":
                feature_logged, feature_expected = _feature_fold(log, target, train, test)
                logged[test] = (logged[test] + feature_logged) / 2
                expected[test] = (expected[test] + feature_expected) / 2
            continue
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
