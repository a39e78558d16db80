"""ShopWorld's hidden truth in the evaluation's roles: traffic, rewording and relevance.

Evaluation is the only code allowed to read the hidden truth: this is how an A/B judged
by the fitted simulator is checked against what ShopWorld's real users would have done.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fusionrank.datasets.shopworld.lexical import TfidfScorer
from fusionrank.datasets.shopworld.logs import P_FIRST_VARIANT
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.retrieval.metrics import dcg
from fusionrank.simulator.traffic import QuerySampler

logger = logging.getLogger(__name__)

_IDEAL_CHUNK = 4_000_000  # (query, item) grades held at once when computing ideal DCGs


def shopworld_traffic(truth: HiddenTruth) -> QuerySampler:
    """The hidden users' first queries: need by its frequency, then the first wording with
    probability ``P_FIRST_VARIANT`` and otherwise a uniformly random one (as in the logs)."""
    n_variants = int(truth.query_variant.max()) + 1
    variant_share = (1 - P_FIRST_VARIANT) / n_variants + P_FIRST_VARIANT * (
        truth.query_variant == 0
    )
    # A need with fewer wordings than n_variants gives the missing wordings' share to none;
    # the renormalisation below spreads it over the wordings it has.
    weights = truth.needs.frequency[truth.query_need] * variant_share
    return QuerySampler(truth.query_ids, weights / weights.sum())


def shopworld_reformulation(truth: HiddenTruth):
    """The hidden users' rewording: the next wording of the same need."""
    n_variants = int(truth.query_variant.max()) + 1
    query_of = np.full((len(truth.needs), n_variants), -1, dtype=np.int64)
    query_of[truth.query_need, truth.query_variant] = np.arange(truth.n_queries)

    def reformulate(query_ids: np.ndarray) -> np.ndarray:
        query = truth.query_index(query_ids)
        variant = (truth.query_variant[query] + 1) % n_variants
        target = query_of[truth.query_need[query], variant]
        return truth.query_ids[np.where(target >= 0, target, query)]

    return reformulate


class ShopWorldJudge:
    """True graded relevance (0-3) from the hidden truth, for nDCG.

    Args:
        truth: The hidden truth.
    """

    def __init__(self, truth: HiddenTruth) -> None:
        self.truth = truth
        self._ideal: dict[int, np.ndarray] = {}

    def grades(self, query_ids: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        """float64, shape (B, L): true grades; 0 at ``PAD``."""
        return self.truth.relevance(self.truth.query_index(query_ids), item_index).astype(
            np.float64
        )

    def ideal_dcg(self, query_ids: np.ndarray, k: int) -> np.ndarray:
        """float64, shape (B,): DCG@k of each query's best ranking of the whole catalog."""
        if k not in self._ideal:
            self._ideal[k] = self._all_ideal(k)
        return self._ideal[k][self.truth.query_index(query_ids)]

    def _all_ideal(self, k: int) -> np.ndarray:
        n_items = len(self.truth.items)
        all_items = np.arange(n_items, dtype=np.int64)
        step = max(1, _IDEAL_CHUNK // n_items)
        ideal = np.empty(self.truth.n_queries)
        for start in range(0, self.truth.n_queries, step):
            query = np.arange(start, min(start + step, self.truth.n_queries))
            grades = self.truth.relevance(query, np.broadcast_to(all_items, (len(query), n_items)))
            top = -np.sort(-grades.astype(np.float64), axis=1)[:, :k]
            ideal[query] = dcg(top, k)
        return ideal


def shopworld_pools(
    truth: HiddenTruth, catalog: pd.DataFrame, pool_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every query's candidate pool from the shop's text search, and the scores that
    order it: the first stage that the rankers of an A/B re-rank.

    Args:
        truth: The hidden truth (for the query ids and texts).
        catalog: The world's catalog table (``title``, ``description``), in item order.
        pool_size: Candidates per query.
        rng: Seeded stream for the text search's tie-breaking.

    Returns:
        ``(query_ids, items, text_scores)``: object (Q,), int64 (Q, P) and float64 (Q, P),
        best text score first.
    """
    texts = (catalog["title"] + " " + catalog["description"].fillna("")).tolist()
    scorer = TfidfScorer(texts)
    items, scores = scorer.top(list(truth.query_texts), pool_size, rng.random(len(texts)))
    return truth.query_ids, items, scores
