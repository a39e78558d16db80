"""Examination per slot from a click model, for the propensity-free estimators of
:mod:`fusionrank.evaluation.ope.position`: the run's fitted simulator's click model when
the run has one, else a position-based model fitted to the logs at hand."""

from __future__ import annotations

import json
import logging

import numpy as np

from fusionrank.runs import RunFolder
from fusionrank.simulator.click_models import CLICK_MODELS, PBM
from fusionrank.simulator.click_models.model import PairClickModel
from fusionrank.types import LoggedPages

logger = logging.getLogger(__name__)


def click_model_examination(model: PairClickModel, pages: LoggedPages) -> np.ndarray:
    """A fitted click model's examination of each slot, float64 (K,), ``theta[0] = 1``.

    ``P(C_r = 1) / a_r`` on each logged page is the model's probability that rank ``r``
    is examined there (for PBM its ``e_r``; for cascade-type models and UBM it depends on
    the items above); its mean over the logged pages is the slot's examination.
    """
    query, items = model.vocabulary.map_pages(pages)
    width = min(model.slate_size, pages.slate_size)
    items = items[:, :width]
    page = model.page(query, items)
    attractiveness = np.asarray(getattr(page, "attractiveness", None))
    if attractiveness.shape != items.shape:
        raise ValueError(f"the {model.name} model's pages carry no attractiveness")
    shown = items >= 0
    examined = np.divide(
        page.click_probs(), attractiveness, out=np.zeros(items.shape), where=attractiveness > 0
    )
    counts = np.maximum((shown & (attractiveness > 0)).sum(axis=0), 1)
    theta = examined.sum(axis=0) / counts
    # Slots deeper than the model knows take its deepest slot's examination.
    theta = np.r_[theta, np.full(pages.slate_size - width, theta[width - 1])]
    return np.maximum(theta / theta[0], 1e-6)


def run_click_model(run: RunFolder) -> PairClickModel | None:
    """The click model of the run's fitted simulator, or None when the run has none."""
    folder = run.simulator.model
    meta = folder / "simulator.json"
    if not meta.is_file():
        return None
    name = json.loads(meta.read_text())["click_model"]
    return CLICK_MODELS[name].load(folder / "click_model")


def examination_for(run: RunFolder, pages: LoggedPages) -> tuple[np.ndarray, str]:
    """``theta`` (float64 (K,)) and where it came from: the run's fitted click model, else
    a PBM fitted here to ``pages`` (50 EM iterations)."""
    model = run_click_model(run)
    if model is not None:
        label = f"{model.name}, fitted in {run.simulator.model}"
        return click_model_examination(model, pages), label
    logger.info("no fitted simulator in %s: fitting a PBM to the logs", run.path)
    return click_model_examination(PBM().fit(pages), pages), "a PBM fitted to these logs"
