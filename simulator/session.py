"""The session model: after a page on which the user did not stop, page on, reformulate
or abandon.

It follows :meth:`fusionrank.protocols.UserModel.next_step` (and ShopWorld's hidden
truth): one uniform draw ``u`` per user; ``next_page = can_page & (u < p_next)``;
``reformulate = can_reformulate & ~next_page & (u < p_next + p_reformulate)``; neither
means abandoning. So, per page, with ``t1 = p_next`` and ``t2 = p_next + p_reformulate``:

=======================  ==========  ==============  ==========
can page, can reformulate  next page   reformulate    abandon
=======================  ==========  ==============  ==========
yes, yes                 ``t1``      ``t2 - t1``     ``1 - t2``
yes, no                  ``t1``      0               ``1 - t1``
no, yes                  0           ``t2``          ``1 - t2``
=======================  ==========  ==============  ==========

Fitting from logs: each logged page's outcome is read from the next page of its session
(same query and page + 1: next page; otherwise a reformulation; none: the session ended).
A session can also end because the user stopped (bought, or was satisfied), which the
logs do not say, so ``t1, t2`` are fitted by EM with each page's stop probability
``sigma_i`` (1 after a purchase, else the click model's posterior): an ended page is a
stop with responsibility ``sigma_i / (sigma_i + (1 - sigma_i) P(abandon_i))``, and the
rest of the pages' outcomes, weighted by ``1 - responsibility``, give the maximum
likelihood ``t1, t2`` (scipy L-BFGS on two logits).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from fusionrank.types import LoggedPages

NEXT, REFORMULATE, END = 0, 1, 2


@dataclass(frozen=True, eq=False)
class SessionOutcomes:
    """What followed each logged page.

    Args:
        outcome: int64, shape (N,): ``NEXT``, ``REFORMULATE`` or ``END``.
        can_page: bool, shape (N,): page + 1 < max_pages.
        can_reformulate: bool, shape (N,): fewer than max_reformulations so far.
        max_pages: Most pages of one query seen in the logs.
        max_reformulations: Most reformulations in one session.
    """

    outcome: np.ndarray
    can_page: np.ndarray
    can_reformulate: np.ndarray
    max_pages: int
    max_reformulations: int


def session_outcomes(pages: LoggedPages, max_pages: int | None = None) -> SessionOutcomes:
    """Read each page's outcome from the next page of its session (by timestamp).

    Args:
        pages: The logged pages.
        max_pages: Pages a query can have; default: the most seen in the logs.
    """
    n = len(pages)
    order = np.lexsort((np.arange(n), pages.timestamp, pages.session))
    session, query, page = pages.session[order], pages.query[order], pages.page[order]
    same_session = np.r_[session[1:] == session[:-1], False]
    paged = same_session & np.r_[(query[1:] == query[:-1]) & (page[1:] == page[:-1] + 1), False]
    outcome = np.where(paged, NEXT, np.where(same_session, REFORMULATE, END))
    reformulated = (outcome == REFORMULATE).astype(np.int64)
    before = pd.Series(reformulated).groupby(session).cumsum().to_numpy() - reformulated
    max_reformulations = int(pd.Series(reformulated).groupby(session).sum().max())
    limit = int(pages.page.max()) + 1 if max_pages is None else int(max_pages)
    unsorted = np.empty(n, dtype=np.int64)
    unsorted[order] = np.arange(n)
    return SessionOutcomes(
        outcome=outcome[unsorted],
        can_page=(pages.page + 1 < limit),
        can_reformulate=before[unsorted] < max_reformulations,
        max_pages=limit,
        max_reformulations=max_reformulations,
    )


def _outcome_probs(t1: float, t2: float, can_page: np.ndarray, can_ref: np.ndarray):
    """P(next), P(reformulate), P(abandon) per page, float64 (N,) each (table above)."""
    p_next = np.where(can_page, t1, 0.0)
    p_ref = np.where(can_ref, np.where(can_page, t2 - t1, t2), 0.0)
    return p_next, p_ref, 1.0 - p_next - p_ref


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


@dataclass(frozen=True)
class SessionModel:
    """Fitted rates of the session model (module docstring).

    Args:
        p_next: Probability to open the next page.
        p_reformulate: Probability to reformulate (added to ``p_next`` as a threshold).
        max_pages: Most pages of one query seen in the fitting logs.
        max_reformulations: Most reformulations in one fitting session.
    """

    p_next: float
    p_reformulate: float
    max_pages: int
    max_reformulations: int

    @classmethod
    def fit(
        cls, outcomes: SessionOutcomes, stop: np.ndarray, n_iterations: int = 30
    ) -> SessionModel:
        """Fit ``p_next`` and ``p_reformulate`` by EM (module docstring).

        Args:
            outcomes: What followed each page.
            stop: float64, shape (N,): each page's stop probability ``sigma_i``.
        """
        counts = [outcomes.outcome == k for k in (NEXT, REFORMULATE, END)]
        t1, t2 = 0.3, 0.5
        for _ in range(n_iterations):
            _, _, p_end = _outcome_probs(t1, t2, outcomes.can_page, outcomes.can_reformulate)
            responsibility = stop / np.maximum(stop + (1 - stop) * p_end, 1e-300)
            weight = np.where(counts[END], 1.0 - responsibility, 1.0)

            def loss(x: np.ndarray, weight: np.ndarray = weight) -> float:
                a = _sigmoid(x[0])
                b = a + (1 - a) * _sigmoid(x[1])
                probs = _outcome_probs(a, b, outcomes.can_page, outcomes.can_reformulate)
                ll = sum(
                    (weight * c * np.log(np.maximum(p, 1e-12))).sum()
                    for c, p in zip(counts, probs, strict=True)
                )
                return -float(ll)

            start = np.array([np.log(t1 / (1 - t1)), np.log((t2 - t1) / (1 - t2))])
            x = minimize(loss, start, method="L-BFGS-B").x
            t1 = float(np.clip(_sigmoid(x[0]), 1e-6, 1 - 1e-6))
            t2 = float(np.clip(t1 + (1 - t1) * _sigmoid(x[1]), t1 + 1e-9, 1 - 1e-9))
        return cls(
            p_next=t1,
            p_reformulate=t2 - t1,
            max_pages=outcomes.max_pages,
            max_reformulations=outcomes.max_reformulations,
        )

    def next_step(
        self, can_page: np.ndarray, can_reformulate: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """After a page without a stop: ``(next_page, reformulate)``, bool (B,) each.

        Args:
            can_page: bool, shape (B,): another result page exists.
            can_reformulate: bool, shape (B,): the user may still reformulate.
            rng: The random stream (one uniform per user).
        """
        u = rng.random(can_page.shape[0])
        next_page = can_page & (u < self.p_next)
        reformulate = can_reformulate & ~next_page & (u < self.p_next + self.p_reformulate)
        return next_page, reformulate

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)
