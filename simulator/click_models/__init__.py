"""Click models fitted from logged result pages: PBM, cascade, DCM, DBN, SDBN, UBM, and
the global and per-rank CTR baselines. All share :class:`ClickModel`'s interface."""

from __future__ import annotations

from fusionrank.simulator.click_models.base import ClickModel, Likelihood, PairParam, Perplexity
from fusionrank.simulator.click_models.baselines import GlobalCTR, RankCTR
from fusionrank.simulator.click_models.cascade import DCM, SDBN, Cascade
from fusionrank.simulator.click_models.dbn import DBN
from fusionrank.simulator.click_models.examination import PBM, UBM
from fusionrank.simulator.click_models.model import PairClickModel
from fusionrank.simulator.click_models.pages import ChainPage, ExaminationPage, Page, PageSample

CLICK_MODELS: dict[str, type[PairClickModel]] = {
    cls.name: cls for cls in (PBM, Cascade, DCM, DBN, SDBN, UBM, GlobalCTR, RankCTR)
}
"""Every click model class by name."""


def make_click_model(
    name: str,
    prior: tuple[float, float] = (1.0, 2.0),
    n_iterations: int = 50,
    tolerance: float = 0.0,
) -> PairClickModel:
    """A new, unfitted click model.

    Raises:
        ValueError: For an unknown name; the message lists the known ones.
    """
    if name not in CLICK_MODELS:
        raise ValueError(f"unknown click model {name!r}; use one of {', '.join(CLICK_MODELS)}")
    return CLICK_MODELS[name](prior, n_iterations, tolerance)


__all__ = [
    "CLICK_MODELS",
    "DBN",
    "DCM",
    "PBM",
    "SDBN",
    "UBM",
    "Cascade",
    "ChainPage",
    "ClickModel",
    "ExaminationPage",
    "GlobalCTR",
    "Likelihood",
    "Page",
    "PageSample",
    "PairClickModel",
    "PairParam",
    "Perplexity",
    "RankCTR",
    "make_click_model",
]
