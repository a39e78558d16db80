"""Off-policy evaluation: a target policy's value estimated from logs with propensities."""

from fusionrank.evaluation.ope.data import BanditLog, check_propensities, from_obd, from_pages
from fusionrank.evaluation.ope.estimators import (
    ESTIMATORS,
    Estimate,
    direct_method,
    doubly_robust,
    estimate_all,
    examination_from_logs,
    ips,
    pbm_ips,
    self_normalized_dr,
    snips,
)
from fusionrank.evaluation.ope.reward_model import RewardPredictions, fit_reward_model
from fusionrank.evaluation.ope.targets import (
    TargetPolicy,
    ranking_policy_target,
    ranking_target,
    score_table_target,
    uniform_target,
)

__all__ = [
    "ESTIMATORS",
    "BanditLog",
    "Estimate",
    "RewardPredictions",
    "TargetPolicy",
    "check_propensities",
    "direct_method",
    "doubly_robust",
    "estimate_all",
    "examination_from_logs",
    "fit_reward_model",
    "from_obd",
    "from_pages",
    "ips",
    "pbm_ips",
    "ranking_policy_target",
    "ranking_target",
    "score_table_target",
    "self_normalized_dr",
    "snips",
    "uniform_target",
]
