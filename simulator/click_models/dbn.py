"""The dynamic Bayesian network click model, fitted by EM with a vectorised
forward-backward pass over all pages at once (a loop over ranks only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fusionrank import progress
from fusionrank.simulator.click_models.base import smoothed
from fusionrank.simulator.click_models.model import PairClickModel
from fusionrank.simulator.click_models.pages import ChainPage, Page
from fusionrank.types import LoggedPages

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Posteriors:
    """E-step output for N pages of L ranks (all float64).

    Args:
        attractive: shape (L, N): ``P(A_r = 1 | c)``.
        examined: shape (L, N): ``P(E_r = 1 | c)``.
        satisfied: shape (L, N): ``P(S_r = 1 | c)`` (0 where not clicked).
        log_likelihood: shape (N,): ``ln P(c)`` of each page.
    """

    attractive: np.ndarray
    examined: np.ndarray
    satisfied: np.ndarray
    log_likelihood: np.ndarray


def dbn_posteriors(
    clicks: np.ndarray, a: np.ndarray, s: np.ndarray, gamma: float, final: np.ndarray
) -> Posteriors:
    """Forward-backward over the examination chain of DBN.

    Hidden ``E_r``; given ``E_r = 1``, ``C_r ~ Bernoulli(a_r)``; after a click the user
    goes on with ``T_r = (1 - s_r) gamma``, after a skip with ``T_r = gamma``; ``E_0 = 1``.
    ``alpha_r(e) = P(E_r = e, c_<r)`` and ``beta_r(e) = P(c_>=r | E_r = e)``:
    ``alpha_{r+1}(1) = alpha_r(1) P(c_r | E_r = 1) T_r``, ``beta_r(1) = P(c_r | E_r = 1)
    (T_r beta_{r+1}(1) + (1 - T_r) beta_{r+1}(0))``, ``beta_r(0) = [no click at r..]``.
    Then ``P(A_r = 1 | c) = 1`` if clicked, else ``a_r P(E_r = 0 | c)``; and for a click
    with no later click ``P(S_r = 1 | c) = s_r / (s_r + (1 - s_r)(gamma beta_{r+1}(1) +
    1 - gamma))``, 0 with a later click.

    Arrays are rank-major, shape (L, N), so that each rank's slice is contiguous.

    Args:
        clicks: bool, shape (L, N).
        a, s: float64, shape (L, N): each cell's attractiveness (0 where not shown) and
            satisfaction.
        gamma: The continuation probability.
        final: bool, shape (L, N): the page's last click.
    """
    c, a_t, s_t = clicks, a, s
    n_ranks, n = c.shape
    emit1 = np.where(c, a_t, 1.0 - a_t)
    go_on = np.where(c, (1.0 - s_t) * gamma, gamma)
    alpha1 = np.empty((n_ranks + 1, n))
    alpha0 = np.empty((n_ranks + 1, n))
    alpha1[0], alpha0[0] = 1.0, 0.0
    for r in range(n_ranks):
        moved = alpha1[r] * emit1[r]
        alpha1[r + 1] = moved * go_on[r]
        alpha0[r + 1] = np.where(c[r], 0.0, alpha0[r]) + (moved - alpha1[r + 1])
    beta1 = np.empty((n_ranks + 1, n))
    beta0 = np.empty((n_ranks + 1, n))
    beta1[n_ranks], beta0[n_ranks] = 1.0, 1.0
    for r in range(n_ranks - 1, -1, -1):
        beta0[r] = np.where(c[r], 0.0, beta0[r + 1])
        beta1[r] = emit1[r] * (beta0[r + 1] + go_on[r] * (beta1[r + 1] - beta0[r + 1]))
    evidence = np.maximum(beta1[0], 1e-300)
    examined = alpha1[:-1] * beta1[:-1] / evidence
    attractive = np.where(c, 1.0, a_t * (1.0 - examined))
    quiet = gamma * beta1[1:] + 1.0 - gamma
    satisfied = np.where(final, s_t / np.maximum(s_t + (1.0 - s_t) * quiet, 1e-300), 0.0)
    return Posteriors(attractive, examined, satisfied, np.log(evidence))


class DBN(PairClickModel):
    """Dynamic Bayesian network model (Chapelle and Zhang, 2009).

    The user examines rank 0; at an examined rank ``r`` they click with probability
    ``a_qd``; after a click they are satisfied with ``s_qd`` and stop; unless satisfied
    they examine the next rank with probability ``gamma``. So
    ``P(C_r = 1) = eps_r a_r`` with ``eps_0 = 1`` and
    ``eps_{r+1} = eps_r gamma (1 - a_r s_r)``. Golden case: ``gamma = 0.9``,
    ``a = 0.5``, ``s = 0.2``: ``P(C_1 = 1) = 0.9 * (1 - 0.1) * 0.5 = 0.405``.

    EM (:func:`dbn_posteriors` for the E-step); M-step: ``a_qd`` = smoothed mean of
    ``P(A = 1 | c)`` over its views, ``s_qd`` = smoothed mean of ``P(S = 1 | c)`` over
    its clicks, ``gamma = sum P(E_{r+1} = 1 | c) / sum (P(E_r = 1 | c) - P(C_r S_r = 1 |
    c))`` over ranks whose next rank was shown.
    """

    name: ClassVar[str] = "dbn"
    pair_param_names: ClassVar[tuple[str, ...]] = ("attractiveness", "satisfaction")

    gamma: float

    def _fit(self, pages: LoggedPages, rows: np.ndarray) -> None:
        # Rank-major (L, N) copies: each rank's slice is contiguous in the E-step.
        shown = np.ascontiguousarray(pages.shown.T)
        clicks = np.ascontiguousarray(pages.clicks.T)
        rows = np.ascontiguousarray(rows.T)
        final = clicks & (np.cumsum(clicks[::-1], axis=0)[::-1] == 1)
        n_pairs = len(self.table)
        safe, shown_rows, clicked_rows = np.maximum(rows, 0), rows[shown], rows[clicks]
        n_views = np.bincount(shown_rows, minlength=n_pairs)
        n_clicks = np.bincount(clicked_rows, minlength=n_pairs).astype(np.float64)
        next_shown = np.zeros_like(shown)
        next_shown[:-1] = shown[1:]
        a, s = self.initial("attractiveness"), self.initial("satisfaction")
        self.gamma, last_ll = self.fallback, -np.inf
        with progress.task("dbn: EM", total=self.n_iterations) as advance:
            for iteration in range(self.n_iterations):
                attract = np.where(shown, a[safe], 0.0)
                post = dbn_posteriors(clicks, attract, s[safe], self.gamma, final)
                a_sum = np.bincount(shown_rows, post.attractive[shown], n_pairs)
                a = self.smooth("attractiveness", a_sum, n_views)
                s_sum = np.bincount(clicked_rows, post.satisfied[clicks], n_pairs)
                s = self.smooth("satisfaction", s_sum, n_clicks)
                moved = post.examined[1:][next_shown[:-1]].sum()
                could = (post.examined - post.satisfied)[next_shown].sum()
                self.gamma = float(smoothed(moved, could, self.prior))
                advance(1)
                self.iterations_run = iteration + 1
                if self.tolerance > 0:
                    ll = float(post.log_likelihood.sum() / shown_rows.shape[0])
                    if ll - last_ll < self.tolerance:
                        break
                    last_ll = ll
        logger.debug("dbn: %d EM iterations, gamma %.4f", self.iterations_run, self.gamma)
        self.pair_values = {"attractiveness": a, "satisfaction": s}
        examined = np.bincount(shown_rows, post.examined[shown], n_pairs)
        self.pair_weights = {"attractiveness": examined, "satisfaction": n_clicks}

    def rank_params(self) -> dict[str, np.ndarray]:
        return {"gamma": np.array([self.gamma])}

    def _set_rank_params(self, params: dict[str, np.ndarray]) -> None:
        self.gamma = float(params["gamma"][0])

    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page:
        a = np.where(shown, params["attractiveness"], 0.0)
        gamma = np.full(a.shape, self.gamma)
        return ChainPage(a, params["satisfaction"], gamma, gamma)
