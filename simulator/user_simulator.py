"""The user simulator: click model + purchase model + session model, fitted from logs.

It plays :class:`fusionrank.protocols.UserModel`, so an env can use it in place of
ShopWorld's hidden truth. Per (query, item) pair it keeps the blended click parameters
and purchase probability in a :class:`~fusionrank.simulator.cache.PairCache`: a pair seen
in the logs has the click model's estimate shrunk towards the feature model (see
:mod:`fusionrank.simulator.fitting`); an unseen pair gets the feature model's prediction,
computed on first use and cached.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.protocols import PairFeaturizer
from fusionrank.simulator.cache import PairCache
from fusionrank.simulator.click_models import PairClickModel
from fusionrank.simulator.click_models.base import (
    Likelihood,
    Perplexity,
    cell_log_likelihood,
    check_pages,
    summarize_likelihood,
)
from fusionrank.simulator.click_models.pages import Page, TruncatedPage
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.feature_model import AnyFeatureModel
from fusionrank.simulator.purchase import PurchaseModel
from fusionrank.simulator.session import SessionModel
from fusionrank.types import ExpectedOutcomes, Feedback, LoggedPages

logger = logging.getLogger(__name__)

PURCHASE = "purchase"


class UserSimulator:
    """Simulated users fitted from logs (build with :func:`fusionrank.simulator.fit`).

    Args:
        click_model: The fitted click model (its pair values already blended).
        feature_models: A feature model per pair parameter of the click model.
        purchase: The purchase model.
        session: The session model.
        featurizer: Features of (query, item) pairs; None for a simulator without
            features (unseen pairs then get the feature models' constant).
        feature_names: The names the feature models were fitted with.
        query_texts: object, shape (n_queries,): the text of each of the click model's
            queries.
        prices: float64, shape (n_items,): revenue of a purchase (1 without prices).
        purchase_counts: float64, shape (2, P): clicks and purchases of each of the
            click model's pairs in the logs.
        config: The configuration it was fitted with.
    """

    def __init__(
        self,
        click_model: PairClickModel,
        feature_models: dict[str, AnyFeatureModel],
        purchase: PurchaseModel,
        session: SessionModel,
        featurizer: PairFeaturizer | None,
        feature_names: tuple[str, ...],
        query_texts: np.ndarray,
        prices: np.ndarray,
        purchase_counts: np.ndarray,
        config: SimulatorConfig,
    ) -> None:
        self.click_model = click_model
        self.feature_models = feature_models
        self.purchase = purchase
        self.session = session
        self.featurizer = featurizer
        self.feature_names = feature_names
        self.prices = np.asarray(prices, dtype=np.float64)
        self.purchase_counts = purchase_counts
        self.config = config
        vocabulary = click_model.vocabulary
        self.query_ids = vocabulary.query_ids.copy()
        self.query_texts = np.asarray(query_texts, dtype=object).copy()
        if self.query_texts.shape != self.query_ids.shape:
            raise ValueError(
                f"{self.query_texts.shape[0]} query texts for {self.query_ids.shape[0]} queries"
            )
        self._queries = pd.Index(self.query_ids.astype(str))
        names = (*click_model.pair_param_names, PURCHASE)
        self.cache = PairCache(len(vocabulary.item_ids), names)
        self._warned_width = False
        self._prefill()

    @property
    def n_items(self) -> int:
        return self.cache.n_items

    def _prefill(self) -> None:
        """Put every pair of the fitting logs into the cache."""
        model, table = self.click_model, self.click_model.table
        if len(table) == 0:
            return
        query, item = table.keys // table.n_items, table.keys % table.n_items
        values = {name: model.pair_values[name] for name in model.pair_param_names}
        features = self.features(query, item)
        clicks, purchases = self.purchase_counts
        values[PURCHASE] = self.purchase.probs(features, clicks, purchases)
        self.cache.insert(table.keys, values)

    # -- queries ----------------------------------------------------------------------
    def add_queries(
        self, query_ids: Sequence[str] | np.ndarray, texts: Sequence[str] | np.ndarray
    ) -> None:
        """Make queries the logs never had known to the simulator (ids with their texts).

        Known ids keep their text. Raises ValueError if the lengths differ.
        """
        ids = np.asarray(query_ids, dtype=object)
        texts_array = np.asarray(texts, dtype=object)
        if ids.shape != texts_array.shape:
            raise ValueError(f"{ids.shape[0]} query ids but {texts_array.shape[0]} texts")
        new = self._queries.get_indexer(pd.Index(ids.astype(str))) < 0
        ids, texts_array = ids[new], texts_array[new]
        ids, first = np.unique(ids.astype(str), return_index=True)
        self.query_ids = np.r_[self.query_ids, ids.astype(object)]
        self.query_texts = np.r_[self.query_texts, texts_array[first]]
        self._queries = pd.Index(self.query_ids.astype(str))

    def query_index(self, query_ids: np.ndarray) -> np.ndarray:
        """int64 indices of query ids (object (B,)).

        Raises:
            ValueError: For an id the simulator does not know; register it with
                :meth:`add_queries`.
        """
        at = self._queries.get_indexer(pd.Index(np.asarray(query_ids).astype(str)))
        if np.any(at < 0):
            unknown = np.asarray(query_ids)[at < 0][:5]
            raise ValueError(
                f"unknown query id(s) {list(unknown)}: the logs never had them; call"
                " add_queries(ids, texts) first"
            )
        return at.astype(np.int64)

    # -- pair parameters --------------------------------------------------------------
    def features(self, query: np.ndarray, item: np.ndarray) -> np.ndarray:
        """float64, shape (n, F): features of n pairs (query, item int64 (n,) each)."""
        if self.featurizer is None or not self.feature_names:
            return np.zeros((query.shape[0], 0))
        texts = [str(t) for t in self.query_texts[query]]
        return self.featurizer.pair_features(texts, item[:, None])[:, 0, :].astype(np.float64)

    def _compute(self, query: np.ndarray, item: np.ndarray) -> dict[str, np.ndarray]:
        """Values of pairs the logs never showed: the feature models' predictions."""
        features = self.features(query, item)
        values = {name: model.predict(features) for name, model in self.feature_models.items()}
        zeros = np.zeros(query.shape[0])
        values[PURCHASE] = self.purchase.probs(features, zeros, zeros)
        return values

    def params(self, query: np.ndarray, item_index: np.ndarray) -> dict[str, np.ndarray]:
        """Each pair parameter, float64 (B, L), for query indices (B,) and items (B, L)."""
        rows = self.cache.rows(query, item_index, self._compute)
        safe = np.maximum(rows, 0)
        return {name: np.where(rows >= 0, v[safe], 0.0) for name, v in self.cache.values.items()}

    def page(self, query: np.ndarray, item_index: np.ndarray) -> tuple[Page, np.ndarray]:
        """The click model's page and purchase probabilities (float64 (B, L)).

        A page longer than the logs' pages (``click_model.slate_size``) is a
        :class:`TruncatedPage`: the simulated user never examines the ranks below.
        """
        width = self.click_model.slate_size
        n_ranks = item_index.shape[1]
        params = self.params(query, item_index[:, :width])
        purchase = params.pop(PURCHASE)
        page = self.click_model.page_from(params, item_index[:, :width] >= 0)
        if n_ranks <= width:
            return page, purchase
        if not self._warned_width:
            self._warned_width = True
            logger.warning(
                "pages of %d ranks, but the logs showed at most %d: the simulated users never "
                "examine ranks below %d (set the slate_size fields to %d to match your shop)",
                n_ranks, width, width, width,
            )  # fmt: skip
        padded = np.pad(purchase, ((0, 0), (0, n_ranks - width)))
        return TruncatedPage(page, width, n_ranks), padded

    # -- the UserModel role -----------------------------------------------------------
    def new_users(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """int64 zeros, shape (n,): the fitted simulator has no user types."""
        return np.zeros(n, dtype=np.int64)

    def sample_page(
        self,
        query_ids: np.ndarray,
        item_index: np.ndarray,
        users: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[Feedback, np.ndarray]:
        """:meth:`sample_page_index` for query ids (object, shape (B,))."""
        return self.sample_page_index(self.query_index(query_ids), item_index, rng)

    def sample_page_index(
        self, query: np.ndarray, item_index: np.ndarray, rng: np.random.Generator
    ) -> tuple[Feedback, np.ndarray]:
        """Sample users' responses to one result page each.

        Args:
            query: int64, shape (B,): query indices (:meth:`query_index`).
            item_index: int64, shape (B, L): catalog item indices, ``PAD`` at empty ranks.
            rng: The random stream.

        Returns:
            The feedback (``abandoned`` is False: leaving is decided by
            :meth:`next_step`, as in ShopWorld's truth), and ``stopped``, bool (B,): the
            user bought or was satisfied, which ends the session.
        """
        page, purchase = self.page(query, item_index)
        sample = page.sample(purchase, rng)
        price = self.prices[np.maximum(item_index, 0)]
        feedback = Feedback(
            item_index=item_index,
            clicks=sample.clicks,
            purchases=sample.purchases,
            revenue=np.where(sample.purchases, price, 0.0),
            abandoned=np.zeros(item_index.shape[0], dtype=bool),
        )
        return feedback, sample.stopped

    def expected_page(self, query_ids: np.ndarray, item_index: np.ndarray) -> ExpectedOutcomes:
        """Expected clicks, purchases and revenue per rank (float64 (B, L) each)."""
        return self.expected_page_index(self.query_index(query_ids), item_index)[0]

    def expected_page_index(
        self, query: np.ndarray, item_index: np.ndarray
    ) -> tuple[ExpectedOutcomes, np.ndarray]:
        """Expected outcomes of one result page each, and the probability it ends the
        session.

        Args:
            query: int64, shape (B,): query indices (:meth:`query_index`).
            item_index: int64, shape (B, L): catalog item indices, ``PAD`` at empty ranks.

        Returns:
            Expected clicks, purchases and revenue per rank (float64 (B, L) each), and
            ``stopped``, float64 (B,): P(the user buys or is satisfied on the page), the
            mean of :meth:`sample_page_index`'s ``stopped``.
        """
        page, purchase = self.page(query, item_index)
        clicks, purchases, stopped = page.expected(purchase)
        price = np.where(item_index >= 0, self.prices[np.maximum(item_index, 0)], 0.0)
        outcomes = ExpectedOutcomes(clicks=clicks, purchases=purchases, revenue=purchases * price)
        return outcomes, stopped

    def next_step(
        self, can_page: np.ndarray, can_reformulate: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """After a page without a stop: ``(next_page, reformulate)``, bool (B,) each."""
        return self.session.next_step(can_page, can_reformulate, rng)

    # -- evaluation -------------------------------------------------------------------
    def logged_page(self, pages: LoggedPages) -> tuple[Page, np.ndarray]:
        """The simulator's page and purchase probabilities for logged pages (any
        vocabulary: their queries are added, their items mapped by id)."""
        check_pages(pages, "simulator evaluation")
        self.add_queries(pages.query_ids, pages.query_texts)
        query = self.query_index(pages.query_ids)[pages.query]
        _, items = self.click_model.vocabulary.map_pages(pages)
        if np.any(items >= self.n_items):
            raise ValueError("the pages show items the simulator's catalog does not have")
        return self.page(query, items)

    def evaluate(self, pages: LoggedPages) -> tuple[Likelihood, Perplexity]:
        """Log-likelihood and perplexity of logged pages' clicks under the simulator."""
        page, _ = self.logged_page(pages)
        probs = page.conditional_click_probs(pages.clicks)
        return summarize_likelihood(cell_log_likelihood(probs, pages.clicks), pages.shown)

    def save(self, folder: str | Path) -> None:
        """Write the simulator to ``folder`` (see :mod:`fusionrank.simulator.storage`)."""
        from fusionrank.simulator.storage import save_simulator

        save_simulator(self, Path(folder))

    @classmethod
    def load(cls, folder: str | Path, featurizer: PairFeaturizer | None) -> UserSimulator:
        """Read a simulator written by :meth:`save`, with the featurizer to use."""
        from fusionrank.simulator.storage import load_simulator

        return load_simulator(Path(folder), featurizer)
