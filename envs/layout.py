"""The flat observation of the re-rank and session envs, and how to split it back.

stable-baselines3 policies take one fixed-shape ``Box``; the candidates, their mask and
the query features are laid out one after the other::

    obs = [features (K * F, row-major: slot 0's F features first) | mask (K) | query (Dq)]

``mask`` is 1.0 for a candidate the action may rank and 0.0 for padding (and, in the
session env, for candidates already shown). The fusion env's observation is the query
features alone (``k = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RerankLayout:
    """Where the parts of a flat observation lie.

    Args:
        k: Candidate slots K (0 for the fusion env).
        n_features: F, features per candidate.
        query_dim: Dq, query features (and session context) at the end.
    """

    k: int
    n_features: int
    query_dim: int

    @property
    def size(self) -> int:
        """D = K * F + K + Dq."""
        return self.k * self.n_features + self.k + self.query_dim

    def split(self, obs: Any) -> tuple[Any, Any, Any]:
        """``(features (B, K, F), mask bool (B, K), query_features (B, Dq))`` of obs (B, D).

        Works on numpy arrays and torch tensors alike (views where possible).
        """
        kf = self.k * self.n_features
        features = obs[:, :kf].reshape(-1, self.k, self.n_features)
        mask = obs[:, kf : kf + self.k] > 0.5
        return features, mask, obs[:, kf + self.k : kf + self.k + self.query_dim]

    def join(
        self, features: np.ndarray, mask: np.ndarray, query_features: np.ndarray
    ) -> np.ndarray:
        """float32 obs (B, D) from features (B, K, F), mask bool (B, K) and query (B, Dq)."""
        b = mask.shape[0]
        out = np.empty((b, self.size), dtype=np.float32)
        kf = self.k * self.n_features
        out[:, :kf] = features.reshape(b, kf)
        out[:, kf : kf + self.k] = mask
        out[:, kf + self.k :] = query_features
        return out
