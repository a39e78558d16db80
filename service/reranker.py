"""The re-ranker, in process: a policy (plus the run's retriever) behind one call.

``Reranker.load(path).rerank(query, item_ids, features=...)`` scores a caller's own
candidates; ``search(query)`` runs the whole pipeline (retrieval with the policy's
per-query fusion weights, then re-ranking) through
:func:`fusionrank.agents.scoring.score_candidates`, the path evaluation ranks with. The
HTTP service wraps exactly these calls.

A re-rank is a recipe of small parts: the input checks (:mod:`.inputs`), the query's
context (query features, fusion weights and candidate pool, cached per query text and
computed in micro-batches: :mod:`.context`), the features (the caller's, arranged by
:class:`~.features.FeatureLayout`, or the catalog items' from the pool), the fused score
under the policy's weights where the caller gave none, one scoring call of the engine
(onnxruntime for neural policies, the policy's own ``scores`` otherwise: :mod:`.engine`)
and a stable sort.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fusionrank.service.config import ServiceConfig
from fusionrank.service.context import ContextCache, QueryContext
from fusionrank.service.engine import CatalogIds, ScoringEngine
from fusionrank.service.features import FeatureLayout
from fusionrank.service.inputs import (
    RequestError,
    check_count,
    check_ids,
    check_matrix,
    check_query,
    check_scores,
    check_vector,
)
from fusionrank.service.loading import LoadedModel, load_model

if TYPE_CHECKING:
    from fusionrank.agents.policy import Policy
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class RerankResult:
    """Re-ranked candidates, best first.

    Args:
        item_ids: The top ``n`` item ids.
        scores: float64, shape (n,): the policy's scores, descending.
        fusion_weights: The per-modality weights used, or None (the policy has none).
        policy_name: The policy's name.
        policy_version: ``sha256[:12]`` of what decides the policy's scores.
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
        retrieval = None if self.retriever is None else self.retriever.config
        self.layout = FeatureLayout(
            self.policy.feature_names,
            self.policy.modality_names,
            "weighted" if retrieval is None else retrieval.fusion,
            60.0 if retrieval is None else retrieval.rrf_k,
        )
        self.catalog = CatalogIds(self.retriever)
        self.scoring = ScoringEngine(self.policy, model.scorer, self.catalog.size)
        self.contexts = ContextCache(self.policy, model.retrieval, config.query_cache)

    @classmethod
    def load(
        cls, path: str | Path, config: ServiceConfig | None = None, reuse: Reranker | None = None
    ) -> Reranker:
        """Load from a run folder (``runs/<name>``: its ``policies/`` and ``retrieval/``)
        or a policy folder (``runs/<name>/policies/<policy>``).

        Raises:
            ValueError: If no policy is found, it does not load, or it does not fit the
                run's retriever; the message names the file and the fix.

        ``reuse``: a re-ranker whose retriever is kept (a reload of the same run, or of a
        policy outside any run).
        """
        config = config or ServiceConfig()
        return cls(load_model(Path(path), config, None if reuse is None else reuse.model), config)

    @property
    def version(self) -> str:
        return self.policy.version

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def engine(self) -> str:
        return self.model.engine

    def is_cached(self, query_text: str) -> bool:
        """Whether the query's context is cached (a re-rank then runs no encoder and no
        index search: well under a millisecond)."""
        return query_text in self.contexts

    def precheck(self, query_text: str, item_ids: Sequence[str] | None = None) -> None:
        """The cheap checks of a request (query, ids), so that a bad request is refused
        with 422 before it queues for a worker (and is never shed as 503 instead).

        Raises:
            RequestError: As :meth:`rerank` would.
        """
        check_query(query_text, self.config.max_query_chars)
        if item_ids is not None:
            check_ids(item_ids, self.config.max_candidates)

    def is_fast(self, query_text: str, item_ids: Sequence[str], has_features: bool) -> bool:
        """Whether a re-rank runs no encoder and no index search: the query is cached and
        the candidates come with features or are all in its pool."""
        context = self.contexts.peek(query_text)
        if context is None:
            return False
        if has_features:
            return True
        if context.retrieved is None:
            return False
        index = self.catalog.lookup(item_ids)
        return bool(np.all(index >= 0) and context.retrieved.pool_rows(index)[0].all())

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
            query_text: The query (at most ``service.max_query_chars`` characters).
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
            RequestError: For bad input, naming the field; also when a candidate's
                score comes out non-finite (its features are out of the trained range).
        """
        text = check_query(query_text, self.config.max_query_chars)
        ids = check_ids(item_ids, self.config.max_candidates)
        k = len(ids)
        first = check_vector("first_stage_scores", first_stage_scores, k)
        modal = check_matrix("modality_scores", modality_scores, k, self.policy.modality_names)
        top = check_count("top_k", top_k, self.config.default_top_k, k)
        if features is None and self.retriever is None:
            self._need_retriever("features")
        context = self.contexts.get(text)
        if features is None:
            index = self.catalog.require(ids)
            values = self._catalog_features(context, index)
        else:
            index = self.catalog.lookup(ids)
            values, has_fused = self.layout.arrange(features, feature_names, k)
            if not has_fused:
                self.layout.fill_fused(values, context.fusion_weights, modal)
        order = self.layout.first_stage_order(values, first)
        slot_modal = None if modal is None else modal[order]
        scores = self.scoring.score_rows(
            context.query, values[order], index[order], slot_modal, context.query_features
        )
        if not np.all(np.isfinite(scores)):
            self._refuse_non_finite(context, values, index, modal, scores, order, ids, features)
        ranked = np.lexsort((np.arange(k), -scores))[:top]
        return self._result([ids[i] for i in order[ranked]], scores[ranked], context, k)

    def search(
        self, query_text: str, k: int | None = None, top_k: int | None = None
    ) -> RerankResult:
        """Retrieve ``k`` candidates with the policy's fusion weights, re-rank, keep
        ``top_k`` (the whole pipeline for one query, as evaluation ranks).

        Raises:
            RequestError: For a bad query or ``k``/``top_k``, or when this run has no
                retriever.
        """
        from fusionrank.agents.scoring import score_candidates

        retriever = self._need_retriever("query")
        text = check_query(query_text, self.config.max_query_chars)
        limit = self.config.max_candidates
        k = check_count("k", k, self.config.search_k, limit + 1)
        if k > limit:
            raise RequestError("k", f"is over {limit}; give 1 to {limit} (service.max_candidates)")
        context = self.contexts.get(text)
        ranked = score_candidates(
            self.policy,
            retriever,
            [context.query],
            k,
            query_features=context.query_features,
            scorer=self.scoring.score,
            pool=context.pool,
        )
        real = int(ranked.batch.mask[0].sum())
        if real == 0:
            return self._result([], np.zeros(0), context, 0)
        scores = ranked.scores[0, :real]
        ids = [str(retriever.item_ids[i]) for i in ranked.batch.item_index[0, :real]]
        check_scores(scores, ids, "query", self.name)
        order = np.lexsort((np.arange(real), -scores))
        top = order[: check_count("top_k", top_k, self.config.default_top_k, real)]
        return self._result([ids[i] for i in top], scores[top], context, real)

    # --------------------------------------------------------------------- helpers
    def _need_retriever(self, field: str) -> Retriever:
        if self.retriever is None:
            raise RequestError(
                field,
                "this service has no retriever (no runs/<name>/retrieval index); give "
                "candidate features, or build the index with `fusionrank index build`",
            )
        return self.retriever

    def _refuse_non_finite(
        self,
        context: QueryContext,
        values: np.ndarray,
        index: np.ndarray,
        modal: np.ndarray | None,
        scores: np.ndarray,
        order: np.ndarray,
        ids: list[str],
        features: object,
    ) -> None:
        """Raise a RequestError naming the rows whose scores are not finite (in request
        order; ``scores`` are in slot ``order``)."""
        alone = self.scoring.score_each(context.query, values, index, modal, context.query_features)
        in_request_order = np.empty(len(ids))
        in_request_order[order] = scores
        field = "item_ids" if features is None else "features"
        check_scores(in_request_order, ids, field, self.name, alone)

    def _catalog_features(self, context: QueryContext, index: np.ndarray) -> np.ndarray:
        """float32 (K, F): the catalog items' pair features (from the query's pool, else
        ``pair_features``) with ``fused_score`` under the policy's weights."""
        retriever = self._need_retriever("features")
        assert context.retrieved is not None
        found, rows = context.retrieved.pool_rows(index)
        values = np.zeros((index.size, len(self.policy.feature_names)), dtype=np.float32)
        values[:, : rows.shape[1]] = rows
        if not found.all():
            missing = np.flatnonzero(~found)
            values[missing] = retriever.pair_features([context.query.text], index[missing][None])[0]
        self.layout.fill_fused(values, context.fusion_weights, None)
        return values

    def _result(
        self, ids: list[str], scores: np.ndarray, context: QueryContext, k: int
    ) -> RerankResult:
        weights = context.fusion_weights
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
