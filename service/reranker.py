"""The re-ranker, in process: a policy (plus the run's retriever) behind one call.

``Reranker.load(path).rerank(query, item_ids, features=...)`` scores a caller's own
candidates; ``search(query)`` runs the whole pipeline (retrieval with the policy's
per-query fusion weights, then re-ranking). The HTTP service wraps exactly these calls.

Per request, in order: the query's features and fusion weights (cached per query text,
LRU), the candidates' features (given by the caller, or ``Retriever.pair_features`` for
catalog ids), the fused score under the policy's weights where the caller gave none, one
scoring call (onnxruntime for neural policies, the policy's own ``scores`` otherwise),
and a stable sort.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fusionrank.service.config import ServiceConfig
from fusionrank.service.inputs import (
    FeatureLayout,
    RequestError,
    check_ids,
    check_matrix,
    check_vector,
)
from fusionrank.service.loading import LoadedModel, load_model
from fusionrank.types import PAD, CandidateBatch, Query

if TYPE_CHECKING:
    from fusionrank.agents.policy import Policy
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

QUERY_ID = "service"
Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]


@dataclass(frozen=True, eq=False)
class RerankResult:
    """Re-ranked candidates, best first.

    Args:
        item_ids: The top ``n`` item ids.
        scores: float64, shape (n,): the policy's scores, descending.
        fusion_weights: The per-modality weights used, or None (no retriever, no weights).
        policy_name: The policy's name.
        policy_version: ``sha256[:12]`` of the policy's files.
        n_candidates: K, the candidates scored.
    """

    item_ids: tuple[str, ...]
    scores: np.ndarray
    fusion_weights: dict[str, float] | None
    policy_name: str
    policy_version: str
    n_candidates: int


class Reranker:
    """A loaded policy, its scoring engine and (optionally) the run's retriever.

    Build it with :meth:`load`. Thread-safe: the HTTP service calls it from a thread pool.

    Args:
        model: What :func:`~fusionrank.service.loading.load_model` found.
        config: The service settings (limits, cache size, default top-k).
    """

    def __init__(self, model: LoadedModel, config: ServiceConfig) -> None:
        self.model = model
        self.config = config
        self.policy: Policy = model.policy
        self.retriever: Retriever | None = model.retriever
        self.scorer: Scorer | None = model.scorer
        retrieval = None if self.retriever is None else self.retriever.config
        self.layout = FeatureLayout(
            self.policy.feature_names,
            self.policy.modality_names,
            "weighted" if retrieval is None else retrieval.fusion,
            60.0 if retrieval is None else retrieval.rrf_k,
        )
        self._ids: dict[str, int] = (
            {}
            if self.retriever is None
            else {str(i): n for n, i in enumerate(self.retriever.item_ids)}
        )
        self._cache: OrderedDict[str, tuple[np.ndarray | None, np.ndarray | None]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, path: str | Path, config: ServiceConfig | None = None, reuse: Reranker | None = None
    ) -> Reranker:
        """Load from a run folder (``runs/<name>``: its ``policies/`` and ``retrieval/``)
        or a policy folder (``runs/<name>/policies/<policy>``).

        Raises:
            ValueError: If no policy is found, it does not load, or it does not fit the
                run's retriever; the message names the file and the fix.

        ``reuse``: a re-ranker of the same run whose retriever is kept (a reload).
        """
        config = config or ServiceConfig()
        return cls(load_model(Path(path), config, None if reuse is None else reuse.model), config)

    # ------------------------------------------------------------------ properties
    @property
    def version(self) -> str:
        return self.policy.version

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def engine(self) -> str:
        return self.model.engine

    # --------------------------------------------------------------------- re-rank
    def rerank(
        self,
        query_text: str,
        item_ids: Sequence[str],
        features: Sequence[Sequence[float]] | np.ndarray | None = None,
        first_stage_scores: Sequence[float] | np.ndarray | None = None,
        modality_scores: Sequence[Sequence[float]] | np.ndarray | None = None,
        top_k: int | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> RerankResult:
        """Re-rank a caller's candidates for one query.

        Args:
            query_text: The query.
            item_ids: K candidate ids, no repeats.
            features: float, shape (K, F) or (K, F - 1) without ``fused_score``, in the
                policy's ``feature_names`` order (or ``feature_names``'s); None: the
                candidates are catalog items and the retriever computes them.
            first_stage_scores: float, shape (K,): the caller's first-stage order
                (descending); the candidates are scored in this order, so ties and
                order-keeping policies (e.g. ``ppo-fusion``) follow it. None: the fused
                order under the policy's weights (as the retriever would have listed
                them), the given order for features without a fused score.
            modality_scores: float, shape (K, M): the caller's per-modality scores; where
                the fused score is not given and the features lack the ``{m}_z`` columns,
                ``fused = sum_m w_m * (s_m - mean_K s_m) / std_K s_m``.
            top_k: Results returned (default ``service.default_top_k``, at most K).
            feature_names: Names of ``features``' columns, any order.

        Raises:
            RequestError: For bad input, naming the field.
        """
        query = self._query(query_text)
        ids = check_ids(item_ids, self.config.max_candidates)
        k = len(ids)
        first = check_vector("first_stage_scores", first_stage_scores, k)
        modal = check_matrix("modality_scores", modality_scores, k, self.policy.modality_names)
        top = self._top_k(top_k, k)
        qf, weights = self._context(query)
        if features is None:
            values = self._catalog_features(query, ids, weights)
        else:
            values, has_fused = self.layout.arrange(features, feature_names, k)
            if not has_fused:
                self._fill_fused(values, modal, weights)
        order = self._first_stage_order(values, first)
        slot_modal = None if modal is None else modal[order]
        scores = self._score(query, values[order], [ids[i] for i in order], slot_modal, qf)
        ranked = np.lexsort((np.arange(k), -scores))[:top]
        return self._result([ids[i] for i in order[ranked]], scores[ranked], weights, k)

    def search(
        self, query_text: str, k: int | None = None, top_k: int | None = None
    ) -> RerankResult:
        """Retrieve ``k`` candidates with the policy's fusion weights, re-rank, keep
        ``top_k`` (the whole pipeline for one query).

        Raises:
            RequestError: For an empty query or bad ``k``/``top_k``.
            ValueError: If this run has no retriever.
        """
        from fusionrank.retrieval.pool import fuse

        retriever = self._need_retriever("query")
        query = self._query(query_text)
        k = self.config.search_k if k is None else k
        if not 1 <= k <= self.config.max_candidates:
            raise RequestError("k", f"is {k}; give 1 to {self.config.max_candidates}")
        qf, weights = self._context(query)
        if weights is None:
            weights = retriever.default_weights(1)[0].astype(np.float64)
        batch = fuse(retriever.pool([query]), weights[None, :], k)
        real = int(batch.mask[0].sum())
        if real == 0:
            return self._result([], np.zeros(0), weights, 0)
        scores = self._score_batch(batch, qf)[0, :real]
        ranked = np.lexsort((np.arange(real), -scores))[: self._top_k(top_k, real)]
        ids = [str(retriever.item_ids[i]) for i in batch.item_index[0, ranked]]
        return self._result(ids, scores[ranked], weights, real)

    def is_cached(self, query_text: str) -> bool:
        """Whether the query's features and fusion weights are cached (a re-rank of given
        features then runs no encoder: well under a millisecond)."""
        return query_text in self._cache

    # --------------------------------------------------------------------- helpers
    def _query(self, text: str) -> Query:
        if not isinstance(text, str) or not text.strip():
            raise RequestError("query", "is empty; give the query text")
        return Query(QUERY_ID, text)

    def _top_k(self, top_k: int | None, k: int) -> int:
        if top_k is None:
            return min(self.config.default_top_k, k)
        if top_k < 1:
            raise RequestError("top_k", f"is {top_k}; give a number >= 1")
        return min(top_k, k)

    def _first_stage_order(self, values: np.ndarray, first: np.ndarray | None) -> np.ndarray:
        """int64 (K,): candidate rows by descending first-stage score, else fused score."""
        if first is not None:
            return np.argsort(-first, kind="stable")
        column = self.layout.fused_column
        if column is None:
            return np.arange(values.shape[0])
        return np.argsort(-values[:, column], kind="stable")

    def _need_retriever(self, field: str) -> Retriever:
        if self.retriever is None:
            raise RequestError(
                field,
                "this service has no retriever (no runs/<name>/retrieval index); give "
                "candidate features, or build the index with `fusionrank index build`",
            )
        return self.retriever

    def _context(self, query: Query) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Query features float32 (1, Dq) or None, fusion weights float64 (M,) or None;
        cached per query text (LRU of ``service.query_cache`` entries)."""
        with self._lock:
            hit = self._cache.get(query.text)
            if hit is not None:
                self._cache.move_to_end(query.text)
                return hit
        qf = None if self.retriever is None else self.retriever.query_features([query])
        weights = self.policy.fusion_weights([query], qf)
        if weights is None and self.retriever is not None:
            weights = self.retriever.default_weights(1)
        row = None if weights is None else np.asarray(weights, dtype=np.float64)[0]
        if qf is None and self.policy.query_feature_dim:
            self._need_retriever("query")
        entry = (qf, row)
        if self.config.query_cache:
            with self._lock:
                self._cache[query.text] = entry
                while len(self._cache) > self.config.query_cache:
                    self._cache.popitem(last=False)
        return entry

    def _index(self, ids: list[str]) -> np.ndarray:
        """Catalog item indices int64 (K,); raise naming the unknown ids."""
        self._need_retriever("features")
        index = np.array([self._ids.get(i, PAD) for i in ids], dtype=np.int64)
        unknown = [ids[i] for i in np.flatnonzero(index < 0)]
        if unknown:
            raise RequestError(
                "item_ids",
                f"{len(unknown)} id(s) are not in the catalog: {unknown[:5]}; give their "
                "features, or drop them",
            )
        return index

    def _known_index(self, ids: list[str]) -> np.ndarray:
        """Catalog indices where known; unseen items get slots past the catalog."""
        n = len(self._ids)
        index = np.array([self._ids.get(i, PAD) for i in ids], dtype=np.int64)
        unseen = index < 0
        index[unseen] = n + np.arange(int(unseen.sum()))
        return index

    def _catalog_features(
        self, query: Query, ids: list[str], weights: np.ndarray | None
    ) -> np.ndarray:
        """float32 (K, F): ``pair_features`` with ``fused_score`` under ``weights``."""
        retriever = self._need_retriever("features")
        values = retriever.pair_features([query.text], self._index(ids)[None, :])[0]
        self._fill_fused(values, None, weights)
        return values

    def _fill_fused(
        self, values: np.ndarray, modal: np.ndarray | None, weights: np.ndarray | None
    ) -> None:
        """Write the fused score into ``values`` float32 (K, F) in place."""
        column = self.layout.fused_column
        if column is None:
            return
        if weights is None:
            weights = np.full(
                len(self.policy.modality_names), 1.0 / len(self.policy.modality_names)
            )
        terms = self.layout.fusion_terms(values)
        if terms is None and modal is not None:
            std = modal.std(axis=0)
            terms = (modal - modal.mean(axis=0)) / np.where(std > 0, std, 1.0)
        if terms is None:
            raise RequestError(
                "features",
                "fused_score is missing and cannot be computed (no per-modality z "
                "columns, no modality_scores); give all features",
            )
        values[:, column] = (terms @ weights).astype(np.float32)

    def _score(
        self,
        query: Query,
        values: np.ndarray,
        ids: list[str],
        modal: np.ndarray | None,
        qf: np.ndarray | None,
    ) -> np.ndarray:
        """float64 (K,) scores of one query's candidates (ids, features) in slot order."""
        k = values.shape[0]
        if self.scorer is not None:
            return self.scorer(values[None], np.ones((1, k), dtype=bool), qf)[0].astype(np.float64)
        index = self._known_index(ids)
        modal = (
            np.zeros((k, len(self.policy.modality_names)), np.float32) if modal is None else modal
        )
        batch = CandidateBatch(
            queries=(query,),
            item_index=index[None, :],
            modality_scores=modal.astype(np.float32)[None],
            features=values[None],
            mask=np.ones((1, k), dtype=bool),
            modality_names=self.policy.modality_names,
            feature_names=self.policy.feature_names,
        )
        return self._score_batch(batch, qf)[0]

    def _score_batch(self, batch: CandidateBatch, qf: np.ndarray | None) -> np.ndarray:
        """float64 (B, K) scores of a candidate batch, by the engine or the policy."""
        if self.scorer is not None:
            return self.scorer(batch.features, batch.mask, qf).astype(np.float64)
        return np.asarray(self.policy.scores(batch, qf), dtype=np.float64)

    def _result(
        self, ids: list[str], scores: np.ndarray, weights: np.ndarray | None, k: int
    ) -> RerankResult:
        names = self.policy.modality_names
        return RerankResult(
            item_ids=tuple(ids),
            scores=np.asarray(scores, dtype=np.float64),
            fusion_weights=None
            if weights is None
            else {m: round(float(w), 6) for m, w in zip(names, weights, strict=True)},
            policy_name=self.policy.name,
            policy_version=self.policy.version,
            n_candidates=k,
        )
