"""Feature assembly: a caller's feature columns in the policy's order, the fused score
under the policy's fusion weights, and the first-stage order of the candidates.

The fused score is computed as :func:`fusionrank.retrieval.pool.fuse` computes it, in
float32: ``weighted``: ``sum_m w_m * {m}_z``; ``rrf``: ``sum_m w_m / (rrf_k + rank_m)``
with ``rank_m = 1 / {m}_recip_rank`` (a term 0 where the recip rank is 0). So a policy
served from features without ``fused_score`` sees the score it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fusionrank.retrieval.pool import FUSED_SCORE
from fusionrank.service.inputs import RequestError, check_matrix


@dataclass(frozen=True)
class FeatureLayout:
    """Where the policy's features are, to complete and fuse caller-given features.

    Args:
        feature_names: The policy's F names; ``fused_score`` may be among them.
        modality_names: M modality names.
        method: ``weighted`` or ``rrf`` (the retriever's fusion; see the module).
        rrf_k: Rank offset of reciprocal-rank fusion.
    """

    feature_names: tuple[str, ...]
    modality_names: tuple[str, ...]
    method: str = "weighted"
    rrf_k: float = 60.0

    @property
    def fused_column(self) -> int | None:
        names = self.feature_names
        return names.index(FUSED_SCORE) if FUSED_SCORE in names else None

    @property
    def given_names(self) -> tuple[str, ...]:
        """The names a caller may give: all, or all but ``fused_score``."""
        return tuple(n for n in self.feature_names if n != FUSED_SCORE)

    def fusion_terms(self, features: np.ndarray) -> np.ndarray | None:
        """Per-modality fusion terms float32 (K, M) from features float32 (K, F), or None
        when the features lack the columns."""
        kind = "z" if self.method == "weighted" else "recip_rank"
        wanted = [f"{m}_{kind}" for m in self.modality_names]
        if any(w not in self.feature_names for w in wanted):
            return None
        values = features[:, [self.feature_names.index(w) for w in wanted]]
        if self.method == "weighted":
            return values.astype(np.float32)
        recip = values.astype(np.float64)
        rank = np.rint(1.0 / np.maximum(recip, 1e-12))  # ranks are whole numbers
        return np.where(recip > 0, 1.0 / (self.rrf_k + rank), 0.0).astype(np.float32)

    def fill_fused(
        self, values: np.ndarray, weights: np.ndarray | None, modal: np.ndarray | None
    ) -> None:
        """Write the fused score under ``weights`` float (M,) into ``values`` float32
        (K, F) in place; from ``modal`` float32 (K, M) (z-scored over the K candidates)
        when the features lack the per-modality columns.

        Raises:
            RequestError: If there are no weights or nothing to fuse.
        """
        column = self.fused_column
        if column is None:
            return
        if weights is None:
            raise RequestError(
                "features",
                "fused_score is missing and this policy has no fusion weights of its own "
                "nor default_fusion_weights saved with it; give fused_score",
            )
        terms = self.fusion_terms(values)
        if terms is None and modal is not None:
            std = modal.std(axis=0)
            terms = ((modal - modal.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(np.float32)
        if terms is None:
            raise RequestError(
                "features",
                "fused_score is missing and cannot be computed (no per-modality z "
                "columns, no modality_scores); give all features",
            )
        w = np.asarray(weights, dtype=np.float32)
        values[:, column] = np.matmul(terms[None], w[None, :, None])[0, :, 0]

    def first_stage_order(self, values: np.ndarray, first: np.ndarray | None) -> np.ndarray:
        """int64 (K,): candidate rows by descending first-stage score, else fused score
        (ties keep the request order)."""
        if first is not None:
            return np.argsort(-first, kind="stable")
        column = self.fused_column
        if column is None:
            return np.arange(values.shape[0])
        return np.argsort(-values[:, column], kind="stable")

    def arrange(
        self,
        features: Sequence[Sequence[float]] | np.ndarray,
        names: Sequence[str] | None,
        k: int,
    ) -> tuple[np.ndarray, bool]:
        """Caller features as float32 (K, F) in policy order, and whether they held the
        fused score (if not, its column is 0 and must be filled).

        Args:
            features: (K, F) or (K, F - 1) values.
            names: Their column names (any order); None: the policy's order.
            k: K.
        """
        full = self.fused_column is not None
        if names is not None:
            return self._arrange_named(features, [str(n) for n in names], k)
        width = np.shape(features)[1] if np.ndim(features) == 2 else -1
        if full and width == len(self.given_names):
            values = check_matrix("features", features, k, self.given_names)
            assert values is not None
            out = np.insert(values, self.fused_column, 0.0, axis=1)  # type: ignore[arg-type]
            return out.astype(np.float32), False
        values = check_matrix("features", features, k, self.feature_names)
        assert values is not None
        return values, True

    def _arrange_named(
        self, features: Sequence[Sequence[float]] | np.ndarray, names: list[str], k: int
    ) -> tuple[np.ndarray, bool]:
        missing = [n for n in self.given_names if n not in names]
        extra = [n for n in names if n not in self.feature_names]
        if missing or extra or len(set(names)) != len(names):
            raise RequestError(
                "feature_names",
                f"missing {missing}, unknown {extra} or repeated names; give the "
                f"policy's features {list(self.feature_names)} (fused_score optional)",
            )
        values = check_matrix("features", features, k, names)
        assert values is not None
        out = np.zeros((k, len(self.feature_names)), dtype=np.float32)
        out[:, [self.feature_names.index(n) for n in names]] = values
        return out, FUSED_SCORE in names or self.fused_column is None
