"""The policies PG-Rank trains, as :class:`~fusionrank.agents.policy.Policy` objects.

* :class:`PGRerankPolicy` (``pg-rerank``): a :class:`CandidateScorer` over the candidates'
  features; exported and served like ``ppo-rerank``.
* :class:`ResidualRerankPolicy` (``residual-rerank``): residual RL on the best supervised
  ranker: the scorer reads the candidates' features plus the saved LambdaMART's score
  (the last column, named :data:`BASE_SCORE`) and starts at LambdaMART's order. Served
  through :meth:`ResidualRerankPolicy.scores` (the booster is not a torch module).

They register their kinds on import; :mod:`fusionrank.agents.ppo` imports this module so
that :func:`~fusionrank.agents.policy.load_policy` finds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from fusionrank.agents.baselines.lambdamart import MODEL_FILE, LambdaMART
from fusionrank.agents.networks import CandidateScorer
from fusionrank.agents.policy import Policy, policy_args
from fusionrank.agents.ppo import WEIGHTS_FILE, PPORerankPolicy
from fusionrank.types import CandidateBatch

BASE_SCORE = "lambdamart_score"
BASE_DIR = "base"


class PGRerankPolicy(PPORerankPolicy):
    """A Plackett-Luce re-ranker trained by :func:`fusionrank.agents.pgrank.train_pgrank`;
    its scores are the PL mode (the scorer's output)."""

    kind = "pg-rerank"


class ResidualRerankPolicy(Policy):
    """LambdaMART's score as a feature and the starting order, plus a learned residual.

    Args:
        base: The LambdaMART policy whose score the network reads.
        network: The scorer over ``feature_names`` + ``[BASE_SCORE]``.
        **kwargs: :class:`Policy` arguments (``feature_names``: the candidates' own).
    """

    kind: ClassVar[str] = "residual-rerank"

    def __init__(self, base: LambdaMART, network: CandidateScorer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if network.n_features != len(self.feature_names) + 1:
            raise ValueError(
                f"the residual network reads {network.n_features} features; the candidates "
                f"give {len(self.feature_names)} plus the base score"
            )
        self.base = base
        self.network = network.eval()
        self.config.update(
            env="rerank",
            hidden=network.hidden,
            attention_heads=0 if network.attention is None else int(network.attention.num_heads),
        )

    def extended(self, candidates: CandidateBatch) -> np.ndarray:
        """float32 (B, K, F + 1): the candidates' features and the base score."""
        base = np.where(candidates.mask, self.base.predict(candidates.features), 0.0)
        return np.concatenate([candidates.features, base[..., None].astype(np.float32)], axis=2)

    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, K): the network's scores; ``-inf`` at masked slots."""
        qf = self.require_query_features(query_features)
        self.check_candidates(candidates, qf)
        with torch.no_grad():
            out = self.network(
                torch.from_numpy(self.extended(candidates)),
                torch.from_numpy(candidates.mask),
                torch.from_numpy(qf),
            )
        return out.double().numpy()

    def _save_state(self, folder: Path) -> None:
        torch.save(self.network.state_dict(), folder / WEIGHTS_FILE)
        (folder / BASE_DIR).mkdir()
        self.base.booster.save_model(folder / BASE_DIR / MODEL_FILE)

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> Policy:
        import lightgbm as lgb

        config = meta["config"]
        net = CandidateScorer(
            len(meta["feature_names"]) + 1,
            meta["query_feature_dim"],
            int(config["hidden"]),
            int(config["attention_heads"]),
        )
        net.load_state_dict(torch.load(folder / WEIGHTS_FILE, weights_only=True))
        booster = lgb.Booster(model_file=str(folder / BASE_DIR / MODEL_FILE))
        base = LambdaMART(
            booster,
            name="lambdamart",
            modality_names=meta["modality_names"],
            feature_names=meta["feature_names"],
            config={"threads": int(config.get("base_threads", 1))},
        )
        return cls(base, net, **policy_args(meta))
