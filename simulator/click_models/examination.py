"""Click models where a click is examination times attractiveness: PBM and UBM.

Both are fitted by EM over all shown cells at once (``np.bincount`` sums the posteriors of
every cell into its parameter); the only Python loop is over EM iterations.
"""

from __future__ import annotations

import logging
from typing import ClassVar

import numpy as np

from fusionrank import progress
from fusionrank.simulator.click_models.base import previous_click, smoothed
from fusionrank.simulator.click_models.model import PairClickModel
from fusionrank.simulator.click_models.pages import ExaminationPage, Page
from fusionrank.types import LoggedPages

logger = logging.getLogger(__name__)


def examination_em(
    pair: np.ndarray,
    exam: np.ndarray,
    clicks: np.ndarray,
    n_pairs: int,
    n_exam: int,
    model: PairClickModel,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EM for ``P(C = 1) = gamma[x] * a[p]`` with independent latent E ~ gamma, A ~ a.

    E-step, for a cell without a click (a click means E = A = 1):
    ``P(A = 1 | C = 0) = (1 - gamma) a / (1 - gamma a)``,
    ``P(E = 1 | C = 0) = gamma (1 - a) / (1 - gamma a)``.
    M-step: each parameter is the smoothed mean of its cells' posteriors,
    ``a_p = (prior_clicks + sum P(A = 1 | c)) / (prior_views + n_p)``, likewise ``gamma``.

    Args:
        pair: int64, shape (n,): each shown cell's pair row.
        exam: int64, shape (n,): each cell's examination parameter.
        clicks: bool, shape (n,).
        n_pairs, n_exam: Numbers of parameters.
        model: Supplies prior, n_iterations and tolerance; its iterations_run is set.

    Returns:
        ``(a, gamma, examinations)``: float64 (n_pairs,), (n_exam,), and each pair's
        expected number of examinations ``sum P(E = 1 | c)``, float64 (n_pairs,).
    """
    a = model.initial("attractiveness")
    gamma = np.full(n_exam, model.fallback)
    n_per_pair = np.bincount(pair, minlength=n_pairs)
    n_per_exam = np.bincount(exam, minlength=n_exam)
    # A clicked cell's posteriors are 1: count them once, iterate over the others.
    clicked_pair = np.bincount(pair[clicks], minlength=n_pairs).astype(np.float64)
    clicked_exam = np.bincount(exam[clicks], minlength=n_exam).astype(np.float64)
    pair0, exam0 = pair[~clicks], exam[~clicks]
    last_ll = -np.inf
    post_e = np.zeros(pair0.shape[0])
    with progress.task(f"{model.name}: EM", total=model.n_iterations) as advance:
        for iteration in range(model.n_iterations):
            g, attract = gamma[exam0], a[pair0]
            no_click = np.maximum(1.0 - g * attract, 1e-300)
            post_a = (1.0 - g) * attract / no_click
            post_e = g * (1.0 - attract) / no_click
            if model.tolerance > 0:
                ll = _log_likelihood(gamma, a, pair, exam, clicks, no_click)
            a = model.smooth(
                "attractiveness", clicked_pair + np.bincount(pair0, post_a, n_pairs), n_per_pair
            )
            gamma = smoothed(
                clicked_exam + np.bincount(exam0, post_e, n_exam), n_per_exam, model.prior
            )
            advance(1)
            model.iterations_run = iteration + 1
            if model.tolerance > 0:
                if ll - last_ll < model.tolerance:
                    break
                last_ll = ll
    logger.debug("%s: %d EM iterations", model.name, model.iterations_run)
    return a, gamma, clicked_pair + np.bincount(pair0, post_e, n_pairs)


def _log_likelihood(
    gamma: np.ndarray,
    a: np.ndarray,
    pair: np.ndarray,
    exam: np.ndarray,
    clicks: np.ndarray,
    no_click: np.ndarray,
) -> float:
    """Mean log-likelihood per cell: clicked cells ``log(gamma a)``, the others
    ``log(1 - gamma a)`` (``no_click``)."""
    clicked = np.log(np.maximum(gamma[exam[clicks]] * a[pair[clicks]], 1e-300)).sum()
    return float((clicked + np.log(no_click).sum()) / pair.shape[0])


class PBM(PairClickModel):
    """Position-based model: ``P(C_r = 1) = e_r * a_qd``.

    Examination ``e_r`` depends only on the rank, attractiveness ``a_qd`` only on the
    (query, item) pair, and clicks on a page are independent. Golden case: with
    ``e = [1, 1/2, 1/3]`` and ``a = 0.6`` everywhere, ``P(C_2 = 1) = 0.5 * 0.6 = 0.3``.
    Fitted by EM (:func:`examination_em`). ``e`` and ``a`` are identified only up to a
    common scale (``k e``, ``a / k``); compare ``e_r / e_0`` across fits.
    """

    name: ClassVar[str] = "pbm"

    examination: np.ndarray = np.empty(0)

    def _fit(self, pages: LoggedPages, rows: np.ndarray) -> None:
        shown = pages.shown
        ranks = np.broadcast_to(np.arange(pages.slate_size), shown.shape)
        a, e, examined = examination_em(
            rows[shown], ranks[shown], pages.clicks[shown], len(self.table), pages.slate_size, self
        )
        self.examination = e
        self.pair_values = {"attractiveness": a}
        self.pair_weights = {"attractiveness": examined}

    def rank_params(self) -> dict[str, np.ndarray]:
        return {"examination": self.examination}

    def _set_rank_params(self, params: dict[str, np.ndarray]) -> None:
        self.examination = params["examination"]

    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page:
        n_ranks = shown.shape[1]
        gamma = np.repeat(self.examination[:n_ranks, None], n_ranks + 1, axis=1)
        return ExaminationPage(np.where(shown, params["attractiveness"], 0.0), gamma)


class UBM(PairClickModel):
    """User browsing model: ``P(C_r = 1 | c_<r) = gamma[r, j] * a_qd``.

    ``j`` is 1 + the rank of the last click above ``r`` (0 when there is none), so
    examination depends on the rank and on the distance to the previous click (Dupret and
    Piwowarski, 2008). Golden case: ``gamma[2, 1] = 0.4`` (rank 2 after a click at rank
    0) and ``a = 0.5`` give ``P(C_2 = 1 | c_0 = 1, c_1 = 0) = 0.2``. Fitted by EM
    (:func:`examination_em`) with one examination parameter per ``(r, j)``.
    """

    name: ClassVar[str] = "ubm"

    examination: np.ndarray = np.empty((0, 0))

    def _fit(self, pages: LoggedPages, rows: np.ndarray) -> None:
        shown = pages.shown
        n_ranks = pages.slate_size
        ranks = np.broadcast_to(np.arange(n_ranks), shown.shape)
        exam = ranks * (n_ranks + 1) + previous_click(pages.clicks)
        a, gamma, examined = examination_em(
            rows[shown],
            exam[shown],
            pages.clicks[shown],
            len(self.table),
            n_ranks * (n_ranks + 1),
            self,
        )
        self.examination = gamma.reshape(n_ranks, n_ranks + 1)
        self.pair_values = {"attractiveness": a}
        self.pair_weights = {"attractiveness": examined}

    def rank_params(self) -> dict[str, np.ndarray]:
        return {"examination": self.examination}

    def _set_rank_params(self, params: dict[str, np.ndarray]) -> None:
        self.examination = params["examination"]

    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page:
        n_ranks = shown.shape[1]
        gamma = self.examination[:n_ranks, : n_ranks + 1]
        return ExaminationPage(np.where(shown, params["attractiveness"], 0.0), gamma)
