"""The first-stage retriever: every modality searched, candidates pooled, scores fused.

``search`` = ``fuse(pool(queries), fusion_weights, k)``. ``pool`` runs the encoders and
the FAISS indexes once per batch; :func:`~fusionrank.retrieval.pool.fuse` is pure numpy.
``pair_features`` gives any (query, item) pair the features that ``search`` gives a
candidate (see :mod:`fusionrank.retrieval.features`), so it plays
:class:`fusionrank.protocols.PairFeaturizer` for the user simulator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.retrieval import features as feat
from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.retrieval.lexical import LexicalIndex, LexicalQueries
from fusionrank.retrieval.modality import DenseModality, Hits
from fusionrank.retrieval.pool import CandidatePool, fuse
from fusionrank.types import CandidateBatch, Catalog, Query

if TYPE_CHECKING:
    from fusionrank.retrieval.clip import ClipModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A batch's distinct query texts, searched in every modality.

    Args:
        texts: U distinct texts.
        inverse: int64, shape (B,): each query's row in ``texts``.
        encoded: Per modality, the encoded queries (U rows).
        hits: Per modality, the top-``k_per_modality`` hits.
        lexical: The texts' term counts (for coverage and known-word share).
    """

    texts: list[str]
    inverse: np.ndarray
    encoded: list[Any]
    hits: list[Hits]
    lexical: LexicalQueries


class Retriever:
    """Multimodal first-stage retrieval over one catalog.

    Build one with :meth:`build` (from a catalog) or :meth:`load` (from a run folder).

    Args:
        modalities: The searched modalities, in weight-axis order.
        lexical: The catalog's term counts (the ``lexical`` modality when it is on;
            always used for ``coverage``).
        items: Per-item attributes.
        item_ids: The catalog's item ids, object (n_items,).
        config: The retrieval config (k, fusion, default weights, ...).
        pca: ``(mean (dim,), components (D, dim))`` of the text embeddings, or None.
        manifest: What the retriever was built from (written by :meth:`save`).
    """

    def __init__(
        self,
        modalities: Sequence[DenseModality | LexicalIndex],
        lexical: LexicalIndex,
        items: feat.ItemAttributes,
        item_ids: np.ndarray,
        config: RetrievalConfig,
        pca: tuple[np.ndarray, np.ndarray] | None,
        manifest: dict[str, Any],
    ) -> None:
        self.modalities = list(modalities)
        self.lexical = lexical
        self.items = items
        self.item_ids = np.asarray(item_ids, dtype=object)
        self.config = config
        self.pca = pca
        self.manifest = manifest
        self.modality_names: tuple[str, ...] = tuple(m.name for m in self.modalities)
        self.feature_names = feat.pair_feature_names(self.modality_names)
        pca_dim = 0 if pca is None else int(pca[1].shape[0])
        self.query_feature_names = feat.query_feature_names(self.modality_names, pca_dim)

    # ----------------------------------------------------------------- construction
    @classmethod
    def build(
        cls,
        catalog: Catalog,
        config: RetrievalConfig,
        folder: str | Path | None = None,
        clip: ClipModel | None = None,
    ) -> Retriever:
        """Encode a catalog and index it (see :func:`fusionrank.retrieval.store.build`)."""
        from fusionrank.retrieval.store import build

        return build(cls, catalog, config, None if folder is None else Path(folder), clip)

    @classmethod
    def load(cls, folder: str | Path, config: RetrievalConfig | None = None) -> Retriever:
        """Load a saved retriever (see :func:`fusionrank.retrieval.store.load`)."""
        from fusionrank.retrieval.store import load

        return load(cls, Path(folder), config)

    def save(self, folder: str | Path) -> Path:
        """Write the indexes to ``folder/index`` atomically; return that folder."""
        from fusionrank.retrieval.store import save

        return save(self, Path(folder))

    @property
    def n_items(self) -> int:
        return int(self.item_ids.shape[0])

    @property
    def dense(self) -> dict[str, DenseModality]:
        return {m.name: m for m in self.modalities if isinstance(m, DenseModality)}

    def default_weights(self, batch: int) -> np.ndarray:
        """The configured fusion weights over the built modalities, float32 (batch, M).

        Raises:
            ValueError: If they give every built modality weight 0.
        """
        raw = np.array(
            [self.config.fusion_weights.get(m, 0.0) for m in self.modality_names],  # type: ignore[call-overload]
            dtype=np.float32,
        )
        if raw.sum() <= 0:
            raise ValueError(
                f"retrieval.fusion_weights {self.config.fusion_weights} give every built "
                f"modality ({', '.join(self.modality_names)}) weight 0; weight one of them"
            )
        return np.broadcast_to(raw / raw.sum(), (batch, raw.size)).copy()

    # ----------------------------------------------------------------------- search
    def search(
        self,
        queries: Sequence[Query],
        k: int | None = None,
        fusion_weights: np.ndarray | None = None,
    ) -> CandidateBatch:
        """Fused candidates for a batch of queries.

        Args:
            queries: B queries.
            k: Candidates per query (default ``config.k``).
            fusion_weights: float (B, M) on the simplex, axis order ``modality_names``;
                None: the configured default weights.
        """
        pool = self.pool(queries)
        weights = self.default_weights(len(queries)) if fusion_weights is None else fusion_weights
        return fuse(pool, weights, k or self.config.k)

    def pool(self, queries: Sequence[Query], k_per_modality: int | None = None) -> CandidatePool:
        """Each query's union of per-modality top-k, every candidate scored in every
        modality from the stored vectors (exact), with its pair features."""
        if not len(queries):
            raise ValueError("no queries were given; pass at least one Query")
        k = k_per_modality or self.config.k_per_modality
        prepared = self._prepare([q.text for q in queries], k)
        items, mask = feat.union_candidates([h.items for h in prepared.hits])
        rows = np.broadcast_to(np.arange(items.shape[0])[:, None], items.shape)[mask]
        raw, z, ranks, base = self._pair_arrays(prepared, rows, items[mask])
        rrf = np.where(ranks > 0, 1.0 / (self.config.rrf_k + ranks), 0.0).astype(np.float32)

        def spread(values: np.ndarray) -> np.ndarray:
            out = np.zeros((*items.shape, values.shape[1]), dtype=np.float32)
            out[mask] = values
            return out[prepared.inverse]

        return CandidatePool(
            queries=tuple(queries),
            item_index=items[prepared.inverse],
            modality_scores=spread(raw),
            z_scores=spread(z),
            rrf_terms=spread(rrf),
            features=spread(base),
            mask=mask[prepared.inverse],
            modality_names=self.modality_names,
            feature_names=self.feature_names,
            method=self.config.fusion,
        )

    def pair_features(self, query_texts: Sequence[str], item_index: np.ndarray) -> np.ndarray:
        """Features of any (query, item) pairs, e.g. logged pages.

        Args:
            query_texts: B query strings.
            item_index: int64, shape (B, L): catalog item indices, ``PAD`` allowed.

        Returns:
            float32, shape (B, L, F) (``feature_names``); zeros at ``PAD``. The last
            feature, ``fused_score``, uses the configured default fusion weights.
        """
        item_index = np.asarray(item_index)
        if item_index.ndim != 2 or len(query_texts) != item_index.shape[0]:
            raise ValueError(
                f"item_index must have shape (B, L) with B = {len(query_texts)} query texts, "
                f"got {item_index.shape}"
            )
        if item_index.size and item_index.max() >= self.n_items:
            raise ValueError(
                f"item_index holds {int(item_index.max())}, outside the catalog's "
                f"{self.n_items} items; map item ids with Catalog.index_of"
            )
        out = np.zeros((*item_index.shape, len(self.feature_names)), dtype=np.float32)
        shown = item_index >= 0
        if not shown.any():
            return out
        prepared = self._prepare(list(query_texts), self.config.k_per_modality)
        rows = np.broadcast_to(prepared.inverse[:, None], item_index.shape)[shown]
        _, z, ranks, base = self._pair_arrays(prepared, rows, item_index[shown].astype(np.int64))
        weights = self.default_weights(1)[0]
        if self.config.fusion == "weighted":
            fused = z @ weights
        else:
            fused = np.where(ranks > 0, 1.0 / (self.config.rrf_k + ranks), 0.0) @ weights
        out[shown] = np.concatenate([base, fused[:, None].astype(np.float32)], axis=1)
        return out

    def query_features(self, queries: Sequence[Query] | Sequence[str]) -> np.ndarray:
        """Observation features of queries, float32 (B, Dq) (``query_feature_names``):
        the reduced text embedding, per-modality top score, top z-score and z gap to
        rank ``stats_k``, the overlap of every two modalities' top-``stats_k``, the
        log word count and the share of words the catalog's texts contain."""
        texts = [q.text if isinstance(q, Query) else q for q in queries]
        if not texts:
            raise ValueError("no queries were given; pass at least one query")
        prepared = self._prepare(texts, self.config.stats_k)
        parts: list[np.ndarray] = []
        if self.pca is not None:
            text = self.dense["text"]
            mean, components = self.pca
            parts.append((prepared.encoded[self._axis(text.name)] - mean) @ components.T)
        parts += [feat.hit_statistics(h, self.config.stats_k) for h in prepared.hits]
        tops = [h.items[:, : self.config.stats_k] for h in prepared.hits]
        parts += [feat.overlap(a, b)[:, None] for a, b in combinations(tops, 2)]
        counts = prepared.lexical.counts
        n_words = np.maximum(prepared.lexical.n_words, 1)
        known = np.diff(counts.indptr) / n_words
        parts.append(np.stack([np.log1p(prepared.lexical.n_words), known], axis=1))
        return np.concatenate(parts, axis=1).astype(np.float32)[prepared.inverse]

    # ---------------------------------------------------------------------- helpers
    def _axis(self, name: str) -> int:
        return self.modality_names.index(name)

    def _prepare(self, texts: list[str], k: int) -> _Prepared:
        empty = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
        if empty:
            raise ValueError(f"query text {empty[0]} is empty; give every query a text")
        distinct = list(dict.fromkeys(texts))
        inverse = np.asarray(
            list(map({t: i for i, t in enumerate(distinct)}.__getitem__, texts)), dtype=np.int64
        )
        encoded: list[Any] = [m.encode(distinct) for m in self.modalities]
        hits = [m.search(e, k) for m, e in zip(self.modalities, encoded, strict=True)]
        lexical: LexicalQueries = (
            encoded[self._axis("lexical")]
            if "lexical" in self.modality_names
            else self.lexical.encode(distinct)
        )
        return _Prepared(distinct, inverse, encoded, hits, lexical)

    def _pair_arrays(
        self, prepared: _Prepared, rows: np.ndarray, items: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Scores, z-scores, ranks (n, M) and pair features but ``fused_score`` (n, F-1)."""
        raw, z, ranks = [], [], []
        for modality, encoded, hits in zip(
            self.modalities, prepared.encoded, prepared.hits, strict=True
        ):
            scores = modality.pair_scores(encoded, rows, items)
            raw.append(scores)
            z.append(feat.standardise(scores, hits, rows))
            ranks.append(feat.ranks_in_hits(hits, rows, items, self.n_items))
        rank = np.stack(ranks, axis=1)
        recip = np.where(rank > 0, 1.0 / np.maximum(rank, 1), 0.0)
        columns = [np.stack([r, s, c], axis=1) for r, s, c in zip(raw, z, recip.T, strict=True)]
        columns.append(
            np.stack(
                [
                    self.lexical.coverage(prepared.lexical, rows, items),
                    self.items.log_price[items],
                    self.items.price_z[items],
                ],
                axis=1,
            )
        )
        base = np.concatenate(columns, axis=1).astype(np.float32)
        return np.stack(raw, axis=1), np.stack(z, axis=1), rank, base
