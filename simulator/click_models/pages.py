"""Result pages with every parameter filled in: the two shapes all click models take.

A click model turns (query, item) pairs into one of these, and the page computes click
probabilities, conditional click probabilities (for likelihoods), expected outcomes and
samples, always vectorised over the batch and looping only over the L ranks.

* :class:`ExaminationPage` (PBM, UBM, the CTR baselines): rank ``r`` is examined with
  probability ``gamma[r, j]``, where ``j`` is 1 + the rank of the last click above ``r``
  (0 when there is none); ``P(C_r = 1 | c_<r) = gamma[r, j] * a_r``. PBM has
  ``gamma[r, j] = e_r`` for every ``j``.
* :class:`ChainPage` (cascade, DCM, DBN, SDBN): the user examines rank 0, then goes down
  the page: a click at ``r`` (probability ``a_r``) ends the search with probability
  ``s_r`` (satisfied), else the user goes on with probability ``g_click_r``; without a
  click the user goes on with probability ``g_skip_r``.

Purchases: ``b`` (float64 (B, L)) is the probability of a purchase given a click. A
purchase ends the search, so on a chain page the stop probability after a click is
``max(s, b)`` (the fitted ``s`` already includes the logs' purchases), and
``P(stop | click, no purchase) = max(s - b, 0) / (1 - b)``. On an examination page a
purchase marks the session stopped but does not change the other clicks; ``expected``
gives the exact probability that a page ends in a purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, eq=False)
class PageSample:
    """Sampled responses to a batch of pages.

    Args:
        clicks: bool, shape (B, L).
        purchases: bool, shape (B, L); only where clicked.
        stopped: bool, shape (B,): the user bought or was satisfied on this page.
    """

    clicks: np.ndarray
    purchases: np.ndarray
    stopped: np.ndarray


class Page(Protocol):
    """A batch of B result pages with their click model's parameters filled in."""

    def click_probs(self) -> np.ndarray:
        """float64, shape (B, L): ``P(C_r = 1)``."""
        ...

    def conditional_click_probs(self, clicks: np.ndarray) -> np.ndarray:
        """float64, shape (B, L): ``P(C_r = 1 | c_<r)`` for observed clicks (bool (B, L))."""
        ...

    def expected(self, purchase: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Expected clicks and purchases (float64 (B, L)) and P(stopped) (float64 (B,))."""
        ...

    def sample(self, purchase: np.ndarray, rng: np.random.Generator) -> PageSample: ...

    def stop_posterior(self, clicks: np.ndarray, purchase: np.ndarray) -> np.ndarray:
        """float64, shape (B,): P(the user was satisfied on the page | its clicks, and no
        purchase), with ``purchase`` (float64 (B, L)) the purchase probabilities."""
        ...


@dataclass(frozen=True, eq=False)
class ExaminationPage:
    """Pages whose examination depends on the rank and the last click above it.

    Args:
        attractiveness: float64, shape (B, L); 0 at empty ranks.
        examination: float64, shape (L, L + 1): ``gamma[r, j]`` (see the module docstring).
    """

    attractiveness: np.ndarray
    examination: np.ndarray

    @property
    def _position_only(self) -> bool:
        gamma = self.examination
        return bool(np.all(gamma == gamma[:, :1]))

    def click_probs(self) -> np.ndarray:
        a = self.attractiveness
        if self._position_only:
            return a * self.examination[None, :, 0]
        n, n_ranks = a.shape
        # state[:, j]: P(the last click above the current rank is at rank j - 1).
        state = np.zeros((n, n_ranks + 1))
        state[:, 0] = 1.0
        probs = np.zeros_like(a)
        for r in range(n_ranks):
            p_click = self.examination[r, : r + 1] * a[:, r : r + 1]
            probs[:, r] = (state[:, : r + 1] * p_click).sum(axis=1)
            state[:, : r + 1] *= 1.0 - p_click
            state[:, r + 1] = probs[:, r]
        return probs

    def conditional_click_probs(self, clicks: np.ndarray) -> np.ndarray:
        marks = np.where(clicks, np.arange(1, clicks.shape[1] + 1), 0)
        previous = np.concatenate(
            [np.zeros((clicks.shape[0], 1), np.int64), np.maximum.accumulate(marks, 1)[:, :-1]],
            axis=1,
        )
        ranks = np.arange(clicks.shape[1])
        return self.examination[ranks[None, :], previous] * self.attractiveness

    def expected(self, purchase: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        clicks = self.click_probs()
        return clicks, clicks * purchase, 1.0 - self._no_purchase(purchase)

    def _no_purchase(self, purchase: np.ndarray) -> np.ndarray:
        """float64 (B,): P(no click on the page ends in a purchase), exactly.

        PBM's clicks are independent: ``prod_r (1 - e_r a_r b_r)``. Otherwise the same
        recursion as :meth:`click_probs` over the last click above each rank, keeping
        only the mass of users who have not bought: a click at ``r`` moves
        ``state[j] gamma[r, j] a_r (1 - b_r)`` to ``state[r + 1]`` and drops the rest.
        """
        a = self.attractiveness
        if self._position_only:
            return np.prod(1.0 - a * self.examination[None, :, 0] * purchase, axis=1)
        n, n_ranks = a.shape
        state = np.zeros((n, n_ranks + 1))
        state[:, 0] = 1.0
        for r in range(n_ranks):
            p_click = self.examination[r, : r + 1] * a[:, r : r + 1]
            moved = (state[:, : r + 1] * p_click).sum(axis=1)
            state[:, : r + 1] *= 1.0 - p_click
            state[:, r + 1] = moved * (1.0 - purchase[:, r])
        return state.sum(axis=1)

    def sample(self, purchase: np.ndarray, rng: np.random.Generator) -> PageSample:
        a = self.attractiveness
        n, n_ranks = a.shape
        u = rng.random((2, n, n_ranks))
        previous = np.zeros(n, dtype=np.int64)
        clicks = np.zeros((n, n_ranks), dtype=bool)
        for r in range(n_ranks):
            clicks[:, r] = u[0, :, r] < self.examination[r, previous] * a[:, r]
            previous = np.where(clicks[:, r], r + 1, previous)
        purchases = clicks & (u[1] < purchase)
        return PageSample(clicks=clicks, purchases=purchases, stopped=purchases.any(axis=1))

    def stop_posterior(self, clicks: np.ndarray, purchase: np.ndarray) -> np.ndarray:
        return np.zeros(clicks.shape[0])


@dataclass(frozen=True, eq=False)
class ChainPage:
    """Pages read from the top until the user stops (see the module docstring).

    Args:
        attractiveness: float64, shape (B, L); 0 at empty ranks.
        satisfaction: float64, shape (B, L): ``s``, P(stop | click).
        continue_click: float64, shape (B, L): ``g_click``, P(go on | click, not stopped).
        continue_skip: float64, shape (B, L): ``g_skip``, P(go on | no click).
    """

    attractiveness: np.ndarray
    satisfaction: np.ndarray
    continue_click: np.ndarray
    continue_skip: np.ndarray

    def _stop(self, purchase: np.ndarray) -> np.ndarray:
        return np.maximum(self.satisfaction, purchase)

    def click_probs(self) -> np.ndarray:
        return self.expected(np.zeros_like(self.attractiveness))[0]

    def expected(self, purchase: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``eps_0 = 1``; ``P(C_r) = eps_r a_r``;
        ``eps_{r+1} = eps_r (a_r (1 - max(s_r, b_r)) g_click_r + (1 - a_r) g_skip_r)``."""
        a, stop = self.attractiveness, self._stop(purchase)
        examined = np.ones(a.shape[0])
        clicks = np.zeros_like(a)
        for r in range(a.shape[1]):
            clicks[:, r] = examined * a[:, r]
            examined = examined * (
                a[:, r] * (1 - stop[:, r]) * self.continue_click[:, r]
                + (1 - a[:, r]) * self.continue_skip[:, r]
            )
        return clicks, clicks * purchase, (clicks * stop).sum(axis=1)

    def conditional_click_probs(self, clicks: np.ndarray) -> np.ndarray:
        """``P(C_r = 1 | c_<r) = eps_r a_r``, where after a click
        ``eps_{r+1} = (1 - s_r) g_click_r`` and after a skip
        ``eps_{r+1} = g_skip_r eps_r (1 - a_r) / (1 - eps_r a_r)``."""
        a, s = self.attractiveness, self.satisfaction
        examined = np.ones(a.shape[0])
        probs = np.zeros_like(a)
        for r in range(a.shape[1]):
            probs[:, r] = examined * a[:, r]
            after_skip = examined * (1 - a[:, r]) / np.maximum(1 - probs[:, r], 1e-300)
            examined = np.where(
                clicks[:, r],
                (1 - s[:, r]) * self.continue_click[:, r],
                self.continue_skip[:, r] * after_skip,
            )
        return probs

    def sample(self, purchase: np.ndarray, rng: np.random.Generator) -> PageSample:
        a = self.attractiveness
        n, n_ranks = a.shape
        stop_given_no_buy = np.maximum(self.satisfaction - purchase, 0) / np.maximum(
            1 - purchase, 1e-12
        )
        u = rng.random((4, n, n_ranks))
        looking = np.ones(n, dtype=bool)
        stopped = np.zeros(n, dtype=bool)
        clicks = np.zeros((n, n_ranks), dtype=bool)
        purchases = np.zeros((n, n_ranks), dtype=bool)
        for r in range(n_ranks):
            click = looking & (u[0, :, r] < a[:, r])
            buy = click & (u[1, :, r] < purchase[:, r])
            stop = buy | (click & (u[2, :, r] < stop_given_no_buy[:, r]))
            go_on = u[3, :, r] < np.where(
                click, self.continue_click[:, r], self.continue_skip[:, r]
            )
            clicks[:, r], purchases[:, r] = click, buy
            stopped |= stop
            looking &= ~stop & go_on
        return PageSample(clicks=clicks, purchases=purchases, stopped=stopped)

    def stop_posterior(self, clicks: np.ndarray, purchase: np.ndarray) -> np.ndarray:
        """P(satisfied at the last click l | clicks, no purchase) =
        ``s_l / (s_l + (1 - s_l) q_l)`` with ``s = max(s - b, 0) / (1 - b)``, and
        ``q_l = g_click_l N_{l+1} + 1 - g_click_l`` the chance of no later click after going
        on, and ``N_r = (1 - a_r) (g_skip_r N_{r+1} + 1 - g_skip_r)``, ``N_L = 1``."""
        a = self.attractiveness
        s = np.maximum(self.satisfaction - purchase, 0) / np.maximum(1 - purchase, 1e-12)
        n, n_ranks = a.shape
        none_after = np.ones((n, n_ranks + 1))
        for r in range(n_ranks - 1, -1, -1):
            g = self.continue_skip[:, r]
            none_after[:, r] = (1 - a[:, r]) * (g * none_after[:, r + 1] + 1 - g)
        any_click = clicks.any(axis=1)
        last = n_ranks - 1 - np.argmax(clicks[:, ::-1], axis=1)
        rows = np.arange(n)
        s_last = s[rows, last]
        g_last = self.continue_click[rows, last]
        quiet = g_last * none_after[rows, last + 1] + 1 - g_last
        posterior = s_last / np.maximum(s_last + (1 - s_last) * quiet, 1e-300)
        return np.where(any_click, posterior, 0.0)


@dataclass(frozen=True, eq=False)
class TruncatedPage:
    """A page longer than the logs ever showed: the click model's page of its first
    ``width`` ranks, and below them ranks that the simulated user never examines (no
    click, no purchase), because the logs say nothing of how users treat them.

    Args:
        inner: The click model's page of the first ``width`` ranks.
        width: The deepest rank the click model was fitted on.
        n_ranks: The page's length L (> ``width``).
    """

    inner: Page
    width: int
    n_ranks: int

    def _pad(self, values: np.ndarray) -> np.ndarray:
        return np.pad(values, ((0, 0), (0, self.n_ranks - self.width)))

    def click_probs(self) -> np.ndarray:
        return self._pad(self.inner.click_probs())

    def conditional_click_probs(self, clicks: np.ndarray) -> np.ndarray:
        return self._pad(self.inner.conditional_click_probs(clicks[:, : self.width]))

    def expected(self, purchase: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        clicks, purchases, stopped = self.inner.expected(purchase[:, : self.width])
        return self._pad(clicks), self._pad(purchases), stopped

    def sample(self, purchase: np.ndarray, rng: np.random.Generator) -> PageSample:
        sample = self.inner.sample(purchase[:, : self.width], rng)
        return PageSample(self._pad(sample.clicks), self._pad(sample.purchases), sample.stopped)

    def stop_posterior(self, clicks: np.ndarray, purchase: np.ndarray) -> np.ndarray:
        return self.inner.stop_posterior(clicks[:, : self.width], purchase[:, : self.width])
