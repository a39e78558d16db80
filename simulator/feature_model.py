"""Feature models: a pair parameter predicted from pair features, for pairs the logs
never showed, and the blend with a pair's own estimate.

The blend is a shrinkage towards the feature model, the posterior mean of a Beta prior
with mean ``f`` (the feature model's prediction) and strength ``m`` pseudo-observations::

    blended = (n * own + m * f) / (n + m)

where ``own`` is the click model's estimate for the pair and ``n`` its evidence (the
expected number of examinations for attractiveness, of clicks for satisfaction and
purchase). Unseen pairs (``n = 0``) get ``f``; a pair examined ``m`` times gets half of
each.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)


def blend(own: np.ndarray, weight: np.ndarray, predicted: np.ndarray, strength: float):
    """``(weight * own + strength * predicted) / (weight + strength)``, elementwise.

    Args:
        own, weight, predicted: float64 arrays of one shape.
        strength: ``m`` >= 0; with 0 a seen pair keeps its own estimate.
    """
    total = weight + strength
    with np.errstate(invalid="ignore", divide="ignore"):
        mixed = (weight * own + strength * predicted) / total
    return np.where(total > 0, mixed, predicted)


class FeatureModel:
    """A probability from features: ``p = sigmoid(w . (x - mu) / sigma + b)``.

    Fitted to fractional targets ``y`` in [0, 1] with weights ``n`` by minimising the
    weighted cross-entropy ``-sum n_k (y_k ln p_k + (1 - y_k) ln(1 - p_k))`` plus
    ``||w||^2 / (2 C)``: scikit-learn's ``LogisticRegression`` sees each pair twice, as a
    positive with weight ``n y`` and a negative with weight ``n (1 - y)``. Without
    features it is the weighted mean of the targets.

    Args:
        c: Inverse regularisation strength ``C``.
    """

    def __init__(self, c: float = 1.0) -> None:
        self.c = float(c)
        self.mean = np.zeros(0)
        self.scale = np.ones(0)
        self.coef = np.zeros(0)
        self.intercept = 0.0

    def fit(self, features: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> FeatureModel:
        """Fit to targets.

        Args:
            features: float, shape (P, F).
            targets: float64, shape (P,), in [0, 1].
            weights: float64, shape (P,), >= 0.

        Raises:
            ValueError: If the weights sum to zero.
        """
        weights = np.asarray(weights, dtype=np.float64)
        targets = np.clip(np.asarray(targets, dtype=np.float64), 0.0, 1.0)
        if weights.sum() <= 0:
            raise ValueError("feature model: the pairs carry no weight (no views or clicks)")
        x = np.asarray(features, dtype=np.float64)
        self.mean = (weights @ x) / weights.sum() if x.shape[1] else np.zeros(0)
        spread = np.sqrt((weights @ (x - self.mean) ** 2) / weights.sum()) if x.shape[1] else []
        self.scale = np.where(np.asarray(spread) > 1e-9, spread, 1.0)
        rate = float(np.clip((weights @ targets) / weights.sum(), 1e-6, 1 - 1e-6))
        if x.shape[1] == 0 or (np.all(self.scale == 1.0) and np.allclose(x, self.mean)):
            self.coef, self.intercept = np.zeros(x.shape[1]), float(np.log(rate / (1 - rate)))
            return self
        z = (x - self.mean) / self.scale
        labels = np.r_[np.ones(len(z)), np.zeros(len(z))]
        sample_weight = np.r_[weights * targets, weights * (1 - targets)]
        keep = sample_weight > 0
        model = LogisticRegression(C=self.c, max_iter=500)
        model.fit(np.r_[z, z][keep], labels[keep], sample_weight=sample_weight[keep])
        self.coef, self.intercept = model.coef_[0].astype(np.float64), float(model.intercept_[0])
        logger.debug("feature model: coef %s intercept %.3f", self.coef, self.intercept)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """float64, shape (...): the probability for features of shape (..., F)."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.coef + self.intercept)))

    def state(self) -> dict[str, np.ndarray]:
        """Arrays to save; :meth:`from_state` restores the model."""
        return {
            "mean": self.mean,
            "scale": self.scale,
            "coef": self.coef,
            "intercept": np.array([self.intercept]),
            "c": np.array([self.c]),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> FeatureModel:
        model = cls(float(state["c"][0]))
        model.mean, model.scale, model.coef = state["mean"], state["scale"], state["coef"]
        model.intercept = float(state["intercept"][0])
        return model


class BoostedFeatureModel:
    """A probability from features through gradient-boosted trees: ``p = sigmoid(f(x))``.

    ``f`` is a LightGBM booster fitted with the cross-entropy objective to fractional
    targets ``y`` in [0, 1] with weights ``n`` (the same weighted cross-entropy as
    :class:`FeatureModel`, without its linearity in the features: interactions such as
    "image match and text match" and saturations are learned). Deterministic: one thread,
    a fixed seed.

    Args:
        n_estimators: Boosting rounds.
        num_leaves: Leaves per tree.
        learning_rate: Shrinkage per round.
        min_child_weight: Smallest sum of weights (evidence) in a leaf.
    """

    def __init__(
        self,
        n_estimators: int = 100,
        num_leaves: int = 15,
        learning_rate: float = 0.05,
        min_child_weight: float = 20.0,
    ) -> None:
        self.params: dict[str, float] = {
            "n_estimators": int(n_estimators),
            "num_leaves": int(num_leaves),
            "learning_rate": float(learning_rate),
            "min_child_weight": float(min_child_weight),
        }
        self.booster: Any = None
        self.constant = 0.5

    def fit(
        self, features: np.ndarray, targets: np.ndarray, weights: np.ndarray
    ) -> BoostedFeatureModel:
        """Fit to targets (as :meth:`FeatureModel.fit`).

        Raises:
            ValueError: If the weights sum to zero.
        """
        import lightgbm as lgb

        weights = np.asarray(weights, dtype=np.float64)
        targets = np.clip(np.asarray(targets, dtype=np.float64), 0.0, 1.0)
        if weights.sum() <= 0:
            raise ValueError("feature model: the pairs carry no weight (no views or clicks)")
        self.constant = float(np.clip((weights @ targets) / weights.sum(), 1e-6, 1 - 1e-6))
        x = np.asarray(features, dtype=np.float64)
        if x.shape[1] == 0:
            return self
        params = {
            "objective": "cross_entropy",
            "num_leaves": self.params["num_leaves"],
            "learning_rate": self.params["learning_rate"],
            "min_sum_hessian_in_leaf": self.params["min_child_weight"] * 0.05,
            "min_data_in_leaf": 20,
            "num_threads": 1,
            "deterministic": True,
            "force_row_wise": True,
            "seed": 0,
            "verbose": -1,
        }
        keep = weights > 0
        data = lgb.Dataset(x[keep], targets[keep], weight=weights[keep])
        self.booster = lgb.train(params, data, num_boost_round=int(self.params["n_estimators"]))
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """float64, shape (...): the probability for features of shape (..., F)."""
        x = np.asarray(features, dtype=np.float64)
        if self.booster is None or x.shape[-1] == 0:
            return np.full(x.shape[:-1], self.constant)
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] == 0:
            return np.zeros(x.shape[:-1])
        return np.asarray(self.booster.predict(flat), dtype=np.float64).reshape(x.shape[:-1])

    def state(self) -> dict[str, np.ndarray]:
        """Arrays to save (the booster as its text model); :meth:`from_state` restores it."""
        text = "" if self.booster is None else self.booster.model_to_string()
        return {
            "kind": np.array(["lightgbm"]),
            "model": np.array([text]),
            "constant": np.array([self.constant]),
            "params": np.array([self.params[k] for k in sorted(self.params)], dtype=np.float64),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> BoostedFeatureModel:
        import lightgbm as lgb

        values = dict(
            zip(
                sorted(("n_estimators", "num_leaves", "learning_rate", "min_child_weight")),
                state["params"].tolist(),
                strict=True,
            )
        )
        model = cls(**values)
        model.constant = float(state["constant"][0])
        text = str(state["model"][0])
        model.booster = lgb.Booster(model_str=text) if text else None
        return model


AnyFeatureModel = FeatureModel | BoostedFeatureModel


def make_feature_model(kind: str, regularization: float, n_estimators: int) -> AnyFeatureModel:
    """``logistic`` (:class:`FeatureModel`) or ``lightgbm`` (:class:`BoostedFeatureModel`)."""
    if kind == "lightgbm":
        return BoostedFeatureModel(n_estimators=n_estimators)
    if kind == "logistic":
        return FeatureModel(regularization)
    raise ValueError(f"unknown feature model {kind!r}; use logistic or lightgbm")


def feature_model_from_state(state: dict[str, np.ndarray]) -> AnyFeatureModel:
    """The feature model a :meth:`state` dict describes (either kind)."""
    if "kind" in state and str(state["kind"][0]) == "lightgbm":
        return BoostedFeatureModel.from_state(state)
    return FeatureModel.from_state(state)
