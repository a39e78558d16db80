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
