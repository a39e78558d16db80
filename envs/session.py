"""The session env's core: a whole simulated search session per episode."""

from __future__ import annotations

import numpy as np

from fusionrank.envs.browse import PageOutcomes, rank_slots
from fusionrank.envs.components import EnvComponents
from fusionrank.envs.core import Core, StepResult
from fusionrank.envs.layout import RerankLayout
from fusionrank.types import PAD

N_CONTEXT = 2
"""Session context appended to the query features: page / max_pages and
reformulations / (max_reformulations + 1)."""
ALL = slice(None)


class SessionCore(Core):
    """One result page per step (see :class:`fusionrank.envs.single.SessionEnv`).

    The agent scores the query's default-fused top-K; the page shows the best
    ``slate_size`` candidates not shown yet for this query (shown ones are masked out of
    the observation). Then the user stops (buys or is satisfied), opens the next page,
    rewords (a logged reformulation of the query, fresh candidates) or leaves.
    """

    def __init__(self, components: EnvComponents, n: int) -> None:
        super().__init__(components, n)
        cands = components.candidates
        query_dim = int(components.query_features.shape[1]) + N_CONTEXT
        self.layout = RerankLayout(cands.k, len(cands.feature_names), query_dim)
        self.action_dim = cands.k
        self.page = np.zeros(n, dtype=np.int64)
        self.reforms = np.zeros(n, dtype=np.int64)
        self.shown = np.zeros((n, cands.k), dtype=bool)
        self.totals = np.zeros((4, n))
        no_context = np.zeros((len(cands), N_CONTEXT), dtype=np.float32)
        query = np.concatenate([components.query_features, no_context], axis=1)
        self.table = self.layout.join(cands.features, cands.mask, query)

    def _start(self, which: np.ndarray) -> None:
        self.rows[which] = self.components.sample_rows(int(which.sum()), self.rng)
        self.page[which] = 0
        self.reforms[which] = 0
        self.shown[which] = False
        self.totals[:, which] = 0.0

    def available(self, index: np.ndarray | slice = ALL) -> np.ndarray:
        """bool (B, K): real candidates of the current query not shown yet."""
        return self.components.candidates.mask[self.rows[index]] & ~self.shown[index]

    def observe(self, index: np.ndarray | slice = ALL) -> np.ndarray:
        """float32 (B, D), or the rows of ``index`` only."""
        obs = self.table[self.rows[index]]
        kf = self.layout.k * self.layout.n_features
        obs[:, kf : kf + self.layout.k] = self.available(index)
        obs[:, -N_CONTEXT] = self.page[index] / self.config.max_pages
        obs[:, -1] = self.reforms[index] / (self.config.max_reformulations + 1)
        return obs

    def step(self, actions: np.ndarray) -> StepResult:
        outcomes, stopped = self._show_page(self.check_actions(actions))
        ended = self._advance(stopped)
        final_obs = self.observe()
        session = PageOutcomes(*np.where(ended, self.totals, 0.0))
        self._start(ended)
        self.obs = final_obs.copy()
        if ended.any():
            self.obs[ended] = self.observe(np.flatnonzero(ended))
        return StepResult(
            obs=self.obs,
            reward=outcomes.reward(self.config.reward_weights()),
            terminated=ended,
            truncated=np.zeros(self.n, dtype=bool),
            final_obs=final_obs,
            outcomes=outcomes,
            session=session,
        )

    def _show_page(self, actions: np.ndarray) -> tuple[PageOutcomes, np.ndarray]:
        """Show each env's best-scored unseen candidates; the page's outcomes and
        ``stopped`` (bool (B,))."""
        comps, slate_size = self.components, self.config.slate_size
        available = self.available()
        top = rank_slots(actions, available)[:, :slate_size]
        real = np.take_along_axis(available, top, axis=1)
        items = np.where(
            real, np.take_along_axis(comps.candidates.item_index[self.rows], top, 1), PAD
        )
        feedback, stopped = comps.simulator.sample_page_index(
            comps.sim_query[self.rows], items, self.rng
        )
        np.put_along_axis(self.shown, top, real | np.take_along_axis(self.shown, top, 1), axis=1)
        outcomes = PageOutcomes(
            feedback.clicks.sum(axis=1).astype(np.float64),
            feedback.purchases.sum(axis=1).astype(np.float64),
            feedback.revenue.sum(axis=1),
            np.ones(self.n),
        )
        self.totals += np.stack(
            [outcomes.clicks, outcomes.purchases, outcomes.revenue, outcomes.pages]
        )
        return outcomes, stopped

    def _advance(self, stopped: np.ndarray) -> np.ndarray:
        """Next page, rewording or the end, per the fitted session model; bool (B,) ended."""
        comps, config = self.components, self.config
        can_page = (self.page + 1 < config.max_pages) & self.available().any(axis=1)
        can_reform = self.reforms < config.max_reformulations
        go_next, reform = comps.simulator.next_step(can_page, can_reform, self.rng)
        go_next &= ~stopped
        reform &= ~stopped & ~go_next
        self.page = np.where(go_next, self.page + 1, np.where(reform, 0, self.page))
        if reform.any():
            self.rows[reform] = comps.reformulations.draw(self.rows[reform], self.rng)
            self.shown[reform] = False
            self.reforms += reform
        return ~(go_next | reform)
