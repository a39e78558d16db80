"""Cascade-family click models with a closed-form MLE: cascade, DCM and simplified DBN.

The user reads the page from the top; a click may end the search. Each model counts
which cells were examined (every rank up to the click that ended the search, or the whole
page when nothing was clicked) and estimates its parameters as smoothed ratios of counts,
``(prior_clicks + k) / (prior_views + n)``, with one ``np.bincount`` per parameter.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from fusionrank.simulator.click_models.base import smoothed
from fusionrank.simulator.click_models.model import PairClickModel
from fusionrank.simulator.click_models.pages import ChainPage, Page
from fusionrank.types import LoggedPages


def click_bounds(pages: LoggedPages) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and last clicked rank of each page (int64 (N,)), and whether it has a click.

    A page without a click gets its last shown rank as both bounds.
    """
    clicks, n_ranks = pages.clicks, pages.slate_size
    any_click = np.asarray(clicks.any(axis=1), dtype=bool)
    last_shown = n_ranks - 1 - np.argmax(pages.shown[:, ::-1], axis=1)
    first = np.where(any_click, np.argmax(clicks, axis=1), last_shown)
    last = np.where(any_click, n_ranks - 1 - np.argmax(clicks[:, ::-1], axis=1), last_shown)
    return first, last, any_click


def examined_counts(
    pages: LoggedPages, rows: np.ndarray, bound: np.ndarray, model: PairClickModel
) -> tuple[np.ndarray, np.ndarray]:
    """Attractiveness from the cells at or above ``bound`` (int64 (N,)).

    Returns:
        ``(a, n_examined)``: smoothed clicks / examinations per pair and the
        examinations, float64 (n_pairs,) each.
    """
    n_pairs = len(model.table)
    ranks = np.arange(pages.slate_size)
    examined = pages.shown & (ranks[None, :] <= bound[:, None])
    n_examined = np.bincount(rows[examined], minlength=n_pairs).astype(np.float64)
    n_clicks = np.bincount(rows[examined & pages.clicks], minlength=n_pairs)
    return model.smooth("attractiveness", n_clicks, n_examined), n_examined


class Cascade(PairClickModel):
    """Cascade model (Craswell et al., 2008): the user reads down until the first click,
    which ends the search.

    ``P(C_r = 1) = a_r * prod_{j<r} (1 - a_j)``, so a page has at most one click and its
    click probabilities sum to ``1 - prod_r (1 - a_r)``. MLE: ``a_qd`` = clicks / views,
    counting views at or above the first click. Clicks below the first one have
    probability 0 under the model (clipped in likelihoods).
    """

    name: ClassVar[str] = "cascade"

    def _fit(self, pages: LoggedPages, rows: np.ndarray) -> None:
        first, _, _ = click_bounds(pages)
        a, n_examined = examined_counts(pages, rows, first, self)
        self.pair_values = {"attractiveness": a}
        self.pair_weights = {"attractiveness": n_examined}
        self.iterations_run = 1

    def rank_params(self) -> dict[str, np.ndarray]:
        return {}

    def _set_rank_params(self, params: dict[str, np.ndarray]) -> None:
        return None

    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page:
        a = np.where(shown, params["attractiveness"], 0.0)
        ones = np.ones_like(a)
        return ChainPage(a, ones, np.zeros_like(a), ones)


class DCM(PairClickModel):
    """Dependent click model (Guo et al., 2009): after a click at rank ``r`` the user goes
    on with probability ``lambda_r`` (a rank parameter), after a skip always.

    ``P(C_r = 1) = eps_r a_qd`` with ``eps_0 = 1`` and
    ``eps_{r+1} = eps_r (a_r lambda_r + 1 - a_r)``. Closed-form estimate as in Guo et
    al. (which, like SDBN's, takes the last click as the end of reading): ``a_qd`` =
    clicks / views at or above the last click, and
    ``1 - lambda_r`` = (pages whose last click is at ``r``) / (clicks at ``r``).
    """

    name: ClassVar[str] = "dcm"

    stop: np.ndarray

    def _fit(self, pages: LoggedPages, rows: np.ndarray) -> None:
        _, last, any_click = click_bounds(pages)
        a, n_examined = examined_counts(pages, rows, last, self)
        n_ranks = pages.slate_size
        clicks_per_rank = pages.clicks.sum(axis=0)
        last_per_rank = np.bincount(last[any_click], minlength=n_ranks)
        self.stop = smoothed(last_per_rank, clicks_per_rank, self.prior)
        self.pair_values = {"attractiveness": a}
        self.pair_weights = {"attractiveness": n_examined}
        self.iterations_run = 1

    def rank_params(self) -> dict[str, np.ndarray]:
        return {"stop": self.stop}

    def _set_rank_params(self, params: dict[str, np.ndarray]) -> None:
        self.stop = params["stop"]

    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page:
        a = np.where(shown, params["attractiveness"], 0.0)
        stop = np.broadcast_to(self.stop[: shown.shape[1]], a.shape)
        ones = np.ones_like(a)
        return ChainPage(a, stop, ones, ones)


class SDBN(PairClickModel):
    """Simplified DBN (Chapelle and Zhang, 2009) with ``gamma = 1``: after a click the user
    is satisfied with probability ``s_qd`` and stops, otherwise reads on.

    ``P(C_r = 1) = eps_r a_qd``, ``eps_{r+1} = eps_r (a_r (1 - s_r) + 1 - a_r)``.
    Closed-form estimate (Chapelle and Zhang's): ``a_qd`` = clicks / views at or above the
    last click, ``s_qd`` = (times it was the last click) / clicks. It treats the last
    click as the end of reading, so where users are rarely satisfied it overestimates
    ``a`` a little (they read on below the last click without clicking).
    """

    name: ClassVar[str] = "sdbn"
    pair_param_names: ClassVar[tuple[str, ...]] = ("attractiveness", "satisfaction")

    def _fit(self, pages: LoggedPages, rows: np.ndarray) -> None:
        _, last, any_click = click_bounds(pages)
        n_pairs = len(self.table)
        a, n_examined = examined_counts(pages, rows, last, self)
        n_clicks = np.bincount(rows[pages.clicks], minlength=n_pairs).astype(np.float64)
        clicked_rows = np.flatnonzero(any_click)
        n_last = np.bincount(rows[clicked_rows, last[clicked_rows]], minlength=n_pairs)
        self.pair_values = {
            "attractiveness": a,
            "satisfaction": self.smooth("satisfaction", n_last, n_clicks),
        }
        self.pair_weights = {"attractiveness": n_examined, "satisfaction": n_clicks}
        self.iterations_run = 1

    def rank_params(self) -> dict[str, np.ndarray]:
        return {}

    def _set_rank_params(self, params: dict[str, np.ndarray]) -> None:
        return None

    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page:
        a = np.where(shown, params["attractiveness"], 0.0)
        ones = np.ones_like(a)
        return ChainPage(a, params["satisfaction"], ones, ones)
