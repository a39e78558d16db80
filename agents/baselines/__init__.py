"""fusionrank.agents.baselines: the policies every learned policy is compared with.

Importing their modules registers their kinds with :func:`fusionrank.agents.policy.
load_policy`: ``default-order``, ``logging``, ``static-fusion``, ``lambdamart`` and
``oracle-shopworld`` (evaluation only).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fusionrank.agents.baselines.config import BaselinesConfig, LambdaMARTConfig
    from fusionrank.agents.baselines.lambdamart import LambdaMART, examination_propensities
    from fusionrank.agents.baselines.oracle import OracleShopWorld
    from fusionrank.agents.baselines.simple import DefaultOrder, LoggingPolicy
    from fusionrank.agents.baselines.static_fusion import StaticFusion, simplex_grid

# The names below are imported on first use, so that loading the run configuration (which
# imports .config) does not pull in pandas and lightgbm.
_PACKAGE = "fusionrank.agents.baselines"
_EXPORTS = {
    "BaselinesConfig": "config",
    "LambdaMARTConfig": "config",
    "LambdaMART": "lambdamart",
    "examination_propensities": "lambdamart",
    "OracleShopWorld": "oracle",
    "DefaultOrder": "simple",
    "LoggingPolicy": "simple",
    "StaticFusion": "static_fusion",
    "simplex_grid": "static_fusion",
}
__all__ = [
    "BaselinesConfig",
    "DefaultOrder",
    "LambdaMART",
    "LambdaMARTConfig",
    "LoggingPolicy",
    "OracleShopWorld",
    "StaticFusion",
    "examination_propensities",
    "simplex_grid",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{_PACKAGE}.{_EXPORTS[name]}"), name)
