"""The purchase model: the probability that a click ends in a purchase."""

from __future__ import annotations

import numpy as np

from fusionrank.simulator.feature_model import AnyFeatureModel, FeatureModel, blend


class PurchaseModel:
    """``P(purchase | click)`` per (query, item) pair, blended like the click parameters:

    ``b_qd = (k_qd + m f(x_qd)) / (n_qd + m)``, with ``n_qd`` clicks and ``k_qd``
    purchases of the pair in the logs, ``x_qd`` its features (which carry the price) and
    ``f`` a :class:`FeatureModel` fitted to the pairs' purchase rates weighted by clicks.
    Logs that record no purchases give a model that never buys.

    Args:
        feature_model: ``f``; None when the logs record no purchases.
        strength: ``m``.
    """

    def __init__(self, feature_model: AnyFeatureModel | None, strength: float) -> None:
        self.feature_model = feature_model
        self.strength = float(strength)

    @property
    def enabled(self) -> bool:
        return self.feature_model is not None

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        clicks: np.ndarray,
        purchases: np.ndarray,
        strength: float,
        regularization: float = 1.0,
        model: AnyFeatureModel | None = None,
    ) -> PurchaseModel:
        """Fit ``f`` on the pairs with clicks.

        Args:
            features: float, shape (P, F): pair features.
            clicks, purchases: float64, shape (P,): each pair's counts in the logs.
            strength: ``m``.
            regularization: The feature model's ``C``.
            model: An unfitted feature model to use (default: a logistic one).
        """
        clicked = clicks > 0
        if purchases.sum() == 0 or not clicked.any():
            return cls(None, strength)
        fitted = (model or FeatureModel(regularization)).fit(
            features[clicked], purchases[clicked] / clicks[clicked], clicks[clicked]
        )
        return cls(fitted, strength)

    def probs(self, features: np.ndarray, clicks: np.ndarray, purchases: np.ndarray):
        """float64 b per pair, for features (..., F) and the pairs' counts (...)."""
        if self.feature_model is None:
            return np.zeros(clicks.shape)
        predicted = self.feature_model.predict(features)
        with np.errstate(invalid="ignore", divide="ignore"):
            own = np.where(clicks > 0, purchases / np.maximum(clicks, 1e-12), 0.0)
        return blend(own, clicks, predicted, self.strength)
