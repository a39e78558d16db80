"""fusionrank.simulator: users fitted from logs.

Click models (PBM, cascade, DCM, DBN, SDBN, UBM), a feature model for pairs the logs
never showed, a purchase model and a session model, composed into a
:class:`UserSimulator` that plays :class:`fusionrank.protocols.UserModel`; and the
fidelity report that says how far to trust it. Nothing here imports gymnasium.

The names below are imported on first use, so that loading the run configuration (which
imports :mod:`fusionrank.simulator.config`) does not pull in scikit-learn and scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fusionrank.simulator.click_models import CLICK_MODELS, ClickModel, make_click_model
    from fusionrank.simulator.config import SimulatorConfig
    from fusionrank.simulator.featurizer import CatalogFeaturizer
    from fusionrank.simulator.fitting import fit_simulator
    from fusionrank.simulator.user_simulator import UserSimulator

_EXPORTS = {
    "CLICK_MODELS": "fusionrank.simulator.click_models",
    "ClickModel": "fusionrank.simulator.click_models",
    "make_click_model": "fusionrank.simulator.click_models",
    "SimulatorConfig": "fusionrank.simulator.config",
    "CatalogFeaturizer": "fusionrank.simulator.featurizer",
    "fit_simulator": "fusionrank.simulator.fitting",
    "UserSimulator": "fusionrank.simulator.user_simulator",
}

__all__ = [
    "CLICK_MODELS",
    "CatalogFeaturizer",
    "ClickModel",
    "SimulatorConfig",
    "UserSimulator",
    "fit_simulator",
    "make_click_model",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fusionrank.simulator' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
