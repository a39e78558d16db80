"""ShopWorld's hidden truth: the real users, read only by evaluation code.

The user model, per result page (ranks ``r = 0 .. L-1`` on the page, segment ``s``):

* examination: a user who is still looking examines rank ``r`` with probability
  ``e_r = (r + 1) ** -eta``;
* attractiveness: ``a = sigmoid(a0 + a_rel * grade + appeal * w_appeal[s] - w_price[s] * z)``,
  where ``grade`` is the graded relevance (0-3) and ``z`` the item's log price
  standardised within its category;
* purchase after a click: ``b = sigmoid(b0 + b_rel * grade - b_irrelevant * [grade == 0]
  - w_price[s] * z + b_appeal * appeal)``;
* after a click without a purchase, the user is satisfied with probability
  ``c = sigmoid(c0 + c_rel * grade)``; a purchase or a satisfied click ends the session.

So ``P(reach r) = prod_{j<r} (1 - e_j a_j (b_j + (1 - b_j) c_j))`` and
``P(click r) = P(reach r) e_r a_r``. A user who reaches the end of a page without stopping
goes to the next page with probability ``p_next_page`` (while pages remain), else
reformulates (once, to another wording of the same need) with ``p_reformulate``, else
abandons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.datasets.shopworld.catalog import ATTRIBUTE_COLUMNS, Items
from fusionrank.datasets.shopworld.needs import INTENTS, Needs, relevance
from fusionrank.datasets.shopworld.vocab import SEGMENTS
from fusionrank.io import atomic_path, read_json, write_json
from fusionrank.types import PAD, ExpectedOutcomes, Feedback


@dataclass(frozen=True)
class UserModel:
    """The parameters of ShopWorld's real users (see the module docstring)."""

    eta: float = 0.9
    a0: float = -2.5
    a_rel: float = 1.1
    b0: float = -4.5
    b_rel: float = 0.9
    b_irrelevant: float = 1.5
    b_appeal: float = 0.2
    c0: float = -2.0
    c_rel: float = 0.6
    segment_share: tuple[float, ...] = (0.4, 0.35, 0.25)
    w_price: tuple[float, ...] = (1.0, 0.2, -0.5)
    w_appeal: tuple[float, ...] = (0.3, 1.2, 0.6)
    p_next_page: float = 0.3
    p_reformulate: float = 0.25

    def examination(self, n_ranks: int) -> np.ndarray:
        """float64, shape (n_ranks,): ``e_r`` for page ranks 0 .. n_ranks-1."""
        return (np.arange(n_ranks) + 1.0) ** -self.eta


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True, eq=False)
class PageProbabilities:
    """Per-rank probabilities of one page for each user segment.

    Args:
        examination: float64, shape (L,).
        attractiveness, purchase, satisfaction: float64, shape (B, L, S); 0 at empty ranks.
    """

    examination: np.ndarray
    attractiveness: np.ndarray
    purchase: np.ndarray
    satisfaction: np.ndarray

    @property
    def stop(self) -> np.ndarray:
        """Probability that a click at this rank ends the session, shape (B, L, S)."""
        return self.purchase + (1 - self.purchase) * self.satisfaction


class HiddenTruth:
    """ShopWorld's real users and the true relevance of every product to every query.

    It plays the :class:`fusionrank.protocols.UserModel` role with user segments as user
    types; the ``*_index`` methods take query indices for callers that already have them.

    Args:
        items: Latent item attributes, in catalog order.
        needs: The needs.
        query_ids: Query id of each query, shape (n_queries,).
        query_texts: Their texts.
        query_need: int64, shape (n_queries,): the need each query words.
        query_variant: int64, shape (n_queries,): which wording.
        brands: Brand names.
        model: The user model.
    """

    def __init__(
        self,
        items: Items,
        needs: Needs,
        query_ids: np.ndarray,
        query_texts: np.ndarray,
        query_need: np.ndarray,
        query_variant: np.ndarray,
        brands: tuple[str, ...],
        model: UserModel,
    ) -> None:
        self.items = items
        self.needs = needs
        self.query_ids = np.asarray(query_ids, dtype=object)
        self.query_texts = np.asarray(query_texts, dtype=object)
        self.query_need = np.asarray(query_need, dtype=np.int64)
        self.query_variant = np.asarray(query_variant, dtype=np.int64)
        self.brands = brands
        self.model = model
        self._codes = items.codes()
        self._query_position = pd.Index(self.query_ids)
        log_price = np.log(items.price)
        z = np.zeros_like(log_price)
        for category in np.unique(items.category):
            in_category = items.category == category
            values = log_price[in_category]
            z[in_category] = (values - values.mean()) / max(values.std(), 1e-6)
        self._z_price = z

    @property
    def n_queries(self) -> int:
        return int(self.query_ids.shape[0])

    def query_index(self, query_ids: np.ndarray | list[str]) -> np.ndarray:
        """Map query ids to query indices, int64.

        Raises:
            ValueError: For a query id ShopWorld does not know.
        """
        ids = np.asarray(query_ids, dtype=object)
        index = self._query_position.get_indexer(ids)
        if np.any(index < 0):
            raise ValueError(f"unknown ShopWorld query id(s): {list(ids[index < 0][:5])}")
        return index.astype(np.int64)

    def relevance(self, query: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        """True graded relevance (0-3), int8 shape (B, L); 0 at ``PAD``.

        Args:
            query: int64, shape (B,): query indices.
            item_index: int64, shape (B, L): catalog item indices, ``PAD`` allowed.
        """
        codes = np.where(item_index[..., None] >= 0, self._codes[np.maximum(item_index, 0)], PAD)
        constraints = self.needs.constraints[self.query_need[query]]
        return relevance(constraints[:, None, :], codes)

    def page_probabilities(self, query: np.ndarray, item_index: np.ndarray) -> PageProbabilities:
        """The user model's per-rank probabilities for result pages (see module docstring)."""
        m = self.model
        grade = self.relevance(query, item_index).astype(np.float64)[..., None]
        safe = np.maximum(item_index, 0)
        appeal = self.items.appeal[safe][..., None]
        z = self._z_price[safe][..., None]
        w_price = np.asarray(m.w_price)
        w_appeal = np.asarray(m.w_appeal)
        shown = (item_index >= 0)[..., None]
        attract = _sigmoid(m.a0 + m.a_rel * grade + appeal * w_appeal - w_price * z)
        purchase = _sigmoid(
            m.b0
            + m.b_rel * grade
            - m.b_irrelevant * (grade == 0)
            - w_price * z
            + m.b_appeal * appeal
        )
        satisfaction = np.broadcast_to(_sigmoid(m.c0 + m.c_rel * grade), attract.shape)
        return PageProbabilities(
            examination=m.examination(item_index.shape[1]),
            attractiveness=np.where(shown, attract, 0.0),
            purchase=np.where(shown, purchase, 0.0),
            satisfaction=np.where(shown, satisfaction, 0.0),
        )

    def expected_page(self, query_ids: np.ndarray, item_index: np.ndarray) -> ExpectedOutcomes:
        """:meth:`expected_page_index` for query ids (object, shape (B,))."""
        return self.expected_page_index(self.query_index(query_ids), item_index)

    def expected_page_index(self, query: np.ndarray, item_index: np.ndarray) -> ExpectedOutcomes:
        """Exact expected clicks, purchases and revenue per rank of the first result page a
        user sees, averaged over segments.

        Args:
            query: int64, shape (B,).
            item_index: int64, shape (B, L).
        """
        p = self.page_probabilities(query, item_index)
        click_if_reached = p.examination[None, :, None] * p.attractiveness
        survive = 1 - click_if_reached * p.stop
        reach = np.cumprod(
            np.concatenate([np.ones_like(survive[:, :1]), survive[:, :-1]], axis=1), axis=1
        )
        share = np.asarray(self.model.segment_share)
        clicks = reach * click_if_reached
        purchases = clicks * p.purchase
        price = self.items.price[np.maximum(item_index, 0)]
        return ExpectedOutcomes(
            clicks=clicks @ share,
            purchases=purchases @ share,
            revenue=(purchases @ share) * np.where(item_index >= 0, price, 0.0),
        )

    def new_users(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """int64, shape (n,): a user segment per session."""
        return rng.choice(len(SEGMENTS), size=n, p=np.asarray(self.model.segment_share))

    def sample_page(
        self,
        query_ids: np.ndarray,
        item_index: np.ndarray,
        users: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[Feedback, np.ndarray]:
        """:meth:`sample_page_index` for query ids (object, shape (B,))."""
        return self.sample_page_index(self.query_index(query_ids), item_index, users, rng)

    def sample_page_index(
        self,
        query: np.ndarray,
        item_index: np.ndarray,
        segment: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[Feedback, np.ndarray]:
        """Sample users' responses to one result page each.

        Args:
            query: int64, shape (B,).
            item_index: int64, shape (B, L).
            segment: int64, shape (B,): each user's segment.
            rng: The random stream.

        Returns:
            The feedback (``abandoned`` is False: leaving is decided by
            :meth:`next_step`), and ``stopped``, bool (B,): the user bought or was
            satisfied, which ends the session.
        """
        p = self.page_probabilities(query, item_index)
        rows = np.arange(len(query))
        attract = p.attractiveness[rows, :, segment]
        purchase_p = p.purchase[rows, :, segment]
        satisfied_p = p.satisfaction[rows, :, segment]
        u = rng.random((4, *item_index.shape))
        looking = np.ones(len(query), dtype=bool)
        clicks = np.zeros(item_index.shape, dtype=bool)
        purchases = np.zeros(item_index.shape, dtype=bool)
        for r in range(item_index.shape[1]):
            click = looking & (u[0, :, r] < p.examination[r]) & (u[1, :, r] < attract[:, r])
            buy = click & (u[2, :, r] < purchase_p[:, r])
            clicks[:, r], purchases[:, r] = click, buy
            looking &= ~(buy | (click & (u[3, :, r] < satisfied_p[:, r])))
        price = self.items.price[np.maximum(item_index, 0)]
        feedback = Feedback(
            item_index=item_index,
            clicks=clicks,
            purchases=purchases,
            revenue=np.where(purchases, price, 0.0),
            abandoned=np.zeros(len(query), dtype=bool),
        )
        return feedback, ~looking

    def next_step(
        self,
        can_page: np.ndarray,
        can_reformulate: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """After a page without a stop: does the user page on or reformulate?

        Args:
            can_page: bool, shape (B,): another result page exists.
            can_reformulate: bool, shape (B,): the user has not reformulated yet.

        Returns:
            ``(next_page, reformulate)``, bool (B,) each; neither means abandoning.
        """
        u = rng.random(can_page.shape[0])
        next_page = can_page & (u < self.model.p_next_page)
        reformulate = (
            can_reformulate & ~next_page & (u < self.model.p_next_page + self.model.p_reformulate)
        )
        return next_page, reformulate

    def save(self, folder: Path) -> None:
        """Write the truth to ``folder`` (items, needs, queries parquet and model JSON)."""
        folder.mkdir(parents=True, exist_ok=True)
        needs = pd.DataFrame(self.needs.constraints, columns=list(ATTRIBUTE_COLUMNS))
        needs["intent"] = np.asarray(INTENTS)[self.needs.intent]
        needs["image_only"] = self.needs.image_only
        needs["n_relevant"] = self.needs.n_relevant
        needs["frequency"] = self.needs.frequency
        queries = pd.DataFrame(
            {
                "query_id": self.query_ids.astype(str),
                "query_text": self.query_texts.astype(str),
                "need": self.query_need,
                "variant": self.query_variant,
            }
        )
        for name, frame in (
            ("items", self.items.to_frame()),
            ("needs", needs),
            ("queries", queries),
        ):
            with atomic_path(folder / f"{name}.parquet") as tmp:
                frame.to_parquet(tmp, index=False)
        write_json(
            folder / "user_model.json", {"model": asdict(self.model), "brands": list(self.brands)}
        )

    @classmethod
    def load(cls, folder: str | Path) -> HiddenTruth:
        """Read a truth written by :meth:`save`."""
        folder = Path(folder)
        if not (folder / "user_model.json").is_file():
            raise ValueError(f"{folder} holds no ShopWorld truth (user_model.json is missing)")
        meta = read_json(folder / "user_model.json")
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["model"].items()}
        model = UserModel(**fields)  # type: ignore[arg-type]
        needs = pd.read_parquet(folder / "needs.parquet")
        queries = pd.read_parquet(folder / "queries.parquet")
        return cls(
            items=Items.from_frame(pd.read_parquet(folder / "items.parquet")),
            needs=Needs(
                constraints=needs[list(ATTRIBUTE_COLUMNS)].to_numpy(np.int64),
                intent=pd.Index(INTENTS).get_indexer(pd.Index(needs["intent"])).astype(np.int64),
                image_only=needs["image_only"].to_numpy(bool),
                n_relevant=needs["n_relevant"].to_numpy(np.int64),
                frequency=needs["frequency"].to_numpy(np.float64),
            ),
            query_ids=queries["query_id"].to_numpy(object),
            query_texts=queries["query_text"].to_numpy(object),
            query_need=queries["need"].to_numpy(np.int64),
            query_variant=queries["variant"].to_numpy(np.int64),
            brands=tuple(meta["brands"]),
            model=model,
        )
