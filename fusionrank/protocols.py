"""Roles that parts play for each other. A new click model, user model or featurizer is a
new class that fits one of these, not a new branch in a dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from fusionrank.types import CandidateBatch, ExpectedOutcomes, Feedback, Query


@runtime_checkable
class PairFeaturizer(Protocol):
    """Features of (query, item) pairs, e.g. modality similarities and item attributes."""

    @property
    def feature_names(self) -> tuple[str, ...]: ...

    def pair_features(self, query_texts: Sequence[str], item_index: np.ndarray) -> np.ndarray:
        """Features of each query's items.

        Args:
            query_texts: B query strings.
            item_index: int64, shape (B, L): catalog item indices, ``PAD`` (-1) allowed.

        Returns:
            float32, shape (B, L, F); zeros at ``PAD``.
        """
        ...


@runtime_checkable
class UserModel(Protocol):
    """Users who respond to result pages: a fitted simulator, or ShopWorld's hidden truth.

    Sessions keep a user type (e.g. a segment) from page to page; a model without types
    returns zeros from :meth:`new_users`.
    """

    def new_users(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """int64, shape (n,): a user type for each new session."""
        ...

    def sample_page(
        self,
        query_ids: np.ndarray,
        item_index: np.ndarray,
        users: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[Feedback, np.ndarray]:
        """Sample responses to one result page per user.

        Args:
            query_ids: object, shape (B,): the query each page answers.
            item_index: int64, shape (B, L): items shown, ``PAD`` at empty ranks.
            users: int64, shape (B,): user types from :meth:`new_users`.
            rng: The random stream.

        Returns:
            ``(feedback, stopped)``; ``stopped`` (bool, (B,)) is True where the user ended
            the session on this page (bought, or found what they wanted).
        """
        ...

    def expected_page(self, query_ids: np.ndarray, item_index: np.ndarray) -> ExpectedOutcomes:
        """Expected clicks, purchases and revenue per rank of one result page."""
        ...

    def next_step(
        self, can_page: np.ndarray, can_reformulate: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """After a page without a stop: ``(next_page, reformulate)``, bool (B,) each."""
        ...


@runtime_checkable
class RankingPolicy(Protocol):
    """A search policy: per-query fusion weights for the retriever, then re-rank scores.

    A policy that only re-ranks returns None from :meth:`fusion_weights` (the retriever's
    default weights apply); one that only fuses returns the fused score from
    :meth:`scores` (``candidates.features`` carries it). The ranking sorts by descending
    score; padding never ranks. Deterministic unless the policy says otherwise.
    """

    @property
    def name(self) -> str: ...

    def fusion_weights(self, queries: Sequence[Query]) -> np.ndarray | None:
        """float64, shape (B, M), rows on the simplex; or None for the default weights."""
        ...

    def scores(self, candidates: CandidateBatch) -> np.ndarray:
        """float64, shape (B, K): a score per candidate (ignored where masked)."""
        ...
