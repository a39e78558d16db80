"""Fixtures for the simulator tests: logged pages built from arrays, and synthetic logs
drawn from known click models."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fusionrank.simulator.click_models.pages import ChainPage, ExaminationPage
from fusionrank.types import LoggedPages

MakePages = Callable[..., LoggedPages]


def build_pages(
    query: np.ndarray,
    item_index: np.ndarray,
    clicks: np.ndarray,
    purchases: np.ndarray | None = None,
    session: np.ndarray | None = None,
    page: np.ndarray | None = None,
    n_items: int | None = None,
    n_queries: int | None = None,
) -> LoggedPages:
    n = item_index.shape[0]
    n_items = int(item_index.max()) + 1 if n_items is None else n_items
    n_queries = int(query.max()) + 1 if n_queries is None else n_queries
    session = np.arange(n, dtype=np.int64) if session is None else session.astype(np.int64)
    return LoggedPages(
        session=session,
        query=query.astype(np.int64),
        page=np.zeros(n, np.int64) if page is None else page.astype(np.int64),
        item_index=item_index.astype(np.int64),
        clicks=clicks.astype(bool),
        purchases=np.zeros(clicks.shape, bool) if purchases is None else purchases,
        propensities=np.full(clicks.shape, np.nan),
        timestamp=np.arange(n, dtype=np.float64),
        query_ids=np.array([f"q{i}" for i in range(n_queries)], dtype=object),
        query_texts=np.array([f"query {i}" for i in range(n_queries)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(n_items)], dtype=object),
        policy=np.full(n, "test", dtype=object),
        has_purchases=purchases is not None,
    )


@pytest.fixture
def make_pages() -> MakePages:
    """Build LoggedPages from query (N,), item_index (N, L) and clicks (N, L)."""
    return build_pages


def random_rankings(
    n_pages: int, n_queries: int, n_items_per_query: int, n_ranks: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Queries (N,) and rankings (N, L): each query ranks a random order of its own items,
    items ``q * n_items_per_query + j``, so every pair shows at every rank."""
    query = rng.integers(0, n_queries, n_pages)
    order = np.argsort(rng.random((n_pages, n_items_per_query)), axis=1)[:, :n_ranks]
    return query, query[:, None] * n_items_per_query + order


@pytest.fixture
def synthetic() -> Callable[..., tuple[LoggedPages, np.ndarray]]:
    """Logs drawn from a known model: ``synthetic(kind, n_pages, seed, **params)``.

    kind "examination" takes ``gamma`` (L, L + 1); kind "chain" takes ``satisfaction``
    (per pair), ``continue_click`` and ``continue_skip`` (scalars). Returns the pages and
    the true attractiveness per item, float64 (n_items,).
    """

    def draw(kind: str, n_pages: int, seed: int, n_ranks: int = 5, **params):
        rng = np.random.default_rng(seed)
        n_queries, per_query = 4, 8
        attract = rng.uniform(0.1, 0.9, n_queries * per_query)
        query, items = random_rankings(n_pages, n_queries, per_query, n_ranks, rng)
        a = attract[items]
        if kind == "examination":
            page = ExaminationPage(a, params["gamma"])
        else:
            s = params["satisfaction"][items]
            page = ChainPage(
                a,
                s,
                np.full(a.shape, params["continue_click"]),
                np.full(a.shape, params["continue_skip"]),
            )
        clicks = page.sample(np.zeros(a.shape), rng).clicks
        return build_pages(query, items, clicks), attract

    return draw
