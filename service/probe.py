"""The child process of an isolated reload: load a policy, build its scoring engine and
score a probe batch, so that a crash in native code (a LightGBM model file that makes
the library abort, a corrupt ONNX export) kills this process, not the server.

Run as ``python -m fusionrank.service.probe FOLDER CONFIG_JSON``; on success the last
line of stdout is ``PROBE_OK {"version": ..., "kind": ..., "engine": ...}``; on a
refused policy it is ``PROBE_ERROR {"error": ...}`` with exit status 2. The parent
(:func:`fusionrank.service.reload.probe_policy`) reads nothing else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

OK = "PROBE_OK"
ERROR = "PROBE_ERROR"
PROBE_SHAPE = (2, 8)  # (B, K) of the probe batch


def probe(folder: Path, config_json: str) -> dict[str, Any]:
    """Load the policy in ``folder`` and score a probe batch with its serving engine.

    Raises:
        ValueError: If the policy does not load, cannot serve, or scores non-finite.
    """
    from fusionrank.agents.policy import load_policy
    from fusionrank.service.config import ServiceConfig
    from fusionrank.service.engine import ScoringEngine
    from fusionrank.service.loading import check_servable, policy_engine
    from fusionrank.types import CandidateBatch, Query

    config = ServiceConfig.model_validate_json(config_json)
    policy = load_policy(folder)
    check_servable(policy, folder)
    exports = None if config.exports_dir is None else Path(config.exports_dir)
    scorer, engine, _ = policy_engine(policy, exports, config)
    rng = np.random.default_rng(0)
    b, k = PROBE_SHAPE
    m, f = len(policy.modality_names), len(policy.feature_names)
    queries = tuple(Query(f"probe-{i}", "probe query") for i in range(b))
    qf = rng.normal(size=(b, policy.query_feature_dim)).astype(np.float32)
    batch = CandidateBatch(
        queries=queries,
        item_index=np.arange(b * k, dtype=np.int64).reshape(b, k),
        modality_scores=rng.normal(size=(b, k, m)).astype(np.float32),
        features=rng.normal(size=(b, k, f)).astype(np.float32),
        mask=np.ones((b, k), dtype=bool),
        modality_names=policy.modality_names,
        feature_names=policy.feature_names,
    )
    query_features = qf if policy.query_feature_dim else None
    scores = ScoringEngine(policy, scorer, 0).score(batch, query_features)
    if scores.shape != (b, k) or not np.all(np.isfinite(scores)):
        raise ValueError(
            f"policy {policy.name!r} gives scores of shape {scores.shape} with non-finite "
            "values on a probe batch of standard-normal features; it cannot serve"
        )
    weights = policy.weights_for(list(queries), query_features)
    if weights is not None and not np.all(np.isfinite(weights)):
        raise ValueError(f"policy {policy.name!r} gives non-finite fusion weights")
    return {"version": policy.version, "kind": policy.kind, "engine": engine}


def main(argv: list[str]) -> int:
    folder, config_json = Path(argv[0]), argv[1]
    try:
        result = probe(folder, config_json)
    except ValueError as error:
        print(f"{ERROR} {json.dumps({'error': str(error)})}", flush=True)
        return 2
    print(f"{OK} {json.dumps(result)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
