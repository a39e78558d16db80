"""The Open Bandit Pipeline's side of ``ope_obd.py``: run by an interpreter that has obp.

obp 0.5.7 needs Python < 3.11 and old numpy/pandas, so it lives in its own virtual
environment and never in the project's (see benchmarks/README.md). ``ope_obd.py`` calls
this script with the same bootstrap rows it uses itself and reads back the estimates.

    $OBP_PYTHON benchmarks/ope_obd_obp.py --data DIR --campaign all --rows rows.npy --out o.json

``--rows`` holds int64 (n_runs, n) row numbers in the CSV's file order; obp sorts the rows
by timestamp when it loads them, so they are mapped to obp's order through the CSV's
index column. obp's estimators use obp's own features (``OpenBanditDataset.pre_process``)
and its ``RegressionModel`` (one model per slot) with cross-fitting, as in obp's OBD
benchmark.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from obp.dataset import OpenBanditDataset
from obp.ope import (
    DirectMethod,
    DoublyRobust,
    InverseProbabilityWeighting,
    OffPolicyEvaluation,
    RegressionModel,
    SelfNormalizedDoublyRobust,
    SelfNormalizedInverseProbabilityWeighting,
)
from sklearn.linear_model import LogisticRegression

ESTIMATORS = {"ipw": "IPS", "snipw": "SNIPS", "dm": "DM", "dr": "DR", "sndr": "SNDR"}


def subset(feedback: dict, rows: np.ndarray) -> dict:
    out = dict(feedback)
    for key in ("action", "position", "reward", "pscore", "context"):
        out[key] = feedback[key][rows]
    out["n_rounds"] = len(rows)
    return out


def estimate(dataset: OpenBanditDataset, feedback: dict, seed: int) -> dict[str, float]:
    n, n_actions, len_list = feedback["n_rounds"], feedback["n_actions"], dataset.len_list
    action_dist = np.full((n, n_actions, len_list), 1.0 / n_actions)
    model = RegressionModel(
        n_actions=n_actions,
        len_list=len_list,
        action_context=dataset.action_context,
        base_model=LogisticRegression(C=100, max_iter=10000, random_state=seed),
    )
    rewards = model.fit_predict(
        context=feedback["context"],
        action=feedback["action"],
        reward=feedback["reward"],
        position=feedback["position"],
        pscore=feedback["pscore"],
        n_folds=3,
        random_state=seed,
    )
    ope = OffPolicyEvaluation(
        bandit_feedback=feedback,
        ope_estimators=[
            InverseProbabilityWeighting(estimator_name="ipw"),
            SelfNormalizedInverseProbabilityWeighting(estimator_name="snipw"),
            DirectMethod(estimator_name="dm"),
            DoublyRobust(estimator_name="dr"),
            SelfNormalizedDoublyRobust(estimator_name="sndr"),
        ],
    )
    values = ope.estimate_policy_values(
        action_dist=action_dist, estimated_rewards_by_reg_model=rewards
    )
    return {ESTIMATORS[k]: float(v) for k, v in values.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--campaign", required=True)
    parser.add_argument("--rows", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    dataset = OpenBanditDataset(behavior_policy="bts", campaign=args.campaign, data_path=args.data)
    feedback = dataset.obtain_batch_bandit_feedback()
    # dataset.data is sorted by timestamp; its index holds each row's file position.
    file_row = dataset.data.index.to_numpy()
    obp_position = np.empty_like(file_row)
    obp_position[file_row] = np.arange(len(file_row))
    rows = np.load(args.rows)
    full = estimate(dataset, feedback, args.seed)
    runs = [estimate(dataset, subset(feedback, obp_position[r]), args.seed) for r in rows]
    on_policy = OpenBanditDataset.calc_on_policy_policy_value_estimate(
        behavior_policy="random", campaign=args.campaign, data_path=args.data
    )
    result = {
        "full": full,
        "runs": {name: [run[name] for run in runs] for name in ESTIMATORS.values()},
        "on_policy": float(on_policy),
        "seconds": time.perf_counter() - started,
    }
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
