"""The simplest click models, the yardsticks a fitted model must beat in the report."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from fusionrank.simulator.click_models.base import smoothed
from fusionrank.simulator.click_models.model import PairClickModel
from fusionrank.simulator.click_models.pages import ExaminationPage, Page
from fusionrank.types import LoggedPages


class GlobalCTR(PairClickModel):
    """Every shown item is clicked with the logs' overall click-through rate:
    ``P(C_r = 1) = (prior_clicks + clicks) / (prior_views + views)``."""

    name: ClassVar[str] = "global_ctr"
    pair_param_names: ClassVar[tuple[str, ...]] = ()

    ctr: float

    def _fit(self, pages: LoggedPages, rows: np.ndarray) -> None:
        self.ctr = float(smoothed(pages.clicks.sum(), pages.shown.sum(), self.prior))
        self.iterations_run = 1

    def rank_params(self) -> dict[str, np.ndarray]:
        return {"ctr": np.array([self.ctr])}

    def _set_rank_params(self, params: dict[str, np.ndarray]) -> None:
        self.ctr = float(params["ctr"][0])

    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page:
        n_ranks = shown.shape[1]
        return ExaminationPage(np.where(shown, self.ctr, 0.0), np.ones((n_ranks, n_ranks + 1)))


class RankCTR(PairClickModel):
    """Each rank's click-through rate, whatever the item:
    ``P(C_r = 1) = (prior_clicks + clicks_r) / (prior_views + views_r)``."""

    name: ClassVar[str] = "rank_ctr"
    pair_param_names: ClassVar[tuple[str, ...]] = ()

    ctr: np.ndarray

    def _fit(self, pages: LoggedPages, rows: np.ndarray) -> None:
        self.ctr = smoothed(pages.clicks.sum(axis=0), pages.shown.sum(axis=0), self.prior)
        self.iterations_run = 1

    def rank_params(self) -> dict[str, np.ndarray]:
        return {"ctr": self.ctr}

    def _set_rank_params(self, params: dict[str, np.ndarray]) -> None:
        self.ctr = params["ctr"]

    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page:
        n_ranks = shown.shape[1]
        gamma = np.repeat(self.ctr[:n_ranks, None], n_ranks + 1, axis=1)
        return ExaminationPage(shown.astype(np.float64), gamma)
