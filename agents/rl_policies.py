"""The policies PG-Rank trains, as :class:`~fusionrank.agents.policy.Policy` objects.

* :class:`PGRerankPolicy` (``pg-rerank``): a :class:`CandidateScorer` over the candidates'
  features; exported and served like ``ppo-rerank``.
* :class:`AugmentedRerankPolicy` (``augmented-rerank``): the scorer also reads columns
  computed at serving time: the saved LambdaMART's score (residual RL on the supervised
  ranker) and/or the simulator's beliefs about each pair; served through
  :meth:`AugmentedRerankPolicy.scores` (the booster and the table are not torch).

They register their kinds on import; :mod:`fusionrank.agents.ppo` imports this module so
that :func:`~fusionrank.agents.policy.load_policy` finds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from fusionrank.agents.baselines.lambdamart import MODEL_FILE, LambdaMART
from fusionrank.agents.networks import CandidateScorer, saved_scorer
from fusionrank.agents.policy import Policy, policy_args
from fusionrank.agents.ppo import WEIGHTS_FILE, PPORerankPolicy
from fusionrank.simulator.beliefs import BELIEF_NAMES, BeliefTable
from fusionrank.types import CandidateBatch

BASE_SCORE = "lambdamart_score"
BASE_DIR = "base"
BELIEFS_FILE = "beliefs.npz"


class PGRerankPolicy(PPORerankPolicy):
    """A Plackett-Luce re-ranker trained by :func:`fusionrank.agents.pgrank.train_pgrank`;
    its scores are the PL mode (the scorer's output)."""

    kind = "pg-rerank"


class AugmentedRerankPolicy(Policy):
    """A scorer over the candidates' features plus extra columns computed at serving time:
    the saved LambdaMART's score (:data:`BASE_SCORE`, residual RL on the supervised
    ranker) and/or the simulator's beliefs about each pair
    (:data:`~fusionrank.simulator.beliefs.BELIEF_NAMES`, from a
    :class:`~fusionrank.simulator.beliefs.BeliefTable` saved with the policy).

    Args:
        network: The scorer over ``feature_names`` + :meth:`extra_names`.
        base: The LambdaMART policy whose score is a column, or None.
        beliefs: The simulator's belief table, or None.
        **kwargs: :class:`Policy` arguments (``feature_names``: the candidates' own).
    """

    kind: ClassVar[str] = "augmented-rerank"

    def __init__(
        self,
        network: CandidateScorer,
        base: LambdaMART | None = None,
        beliefs: BeliefTable | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.base, self.beliefs = base, beliefs
        extra = self.extra_names(base is not None, beliefs is not None)
        if network.n_features != len(self.feature_names) + len(extra):
            raise ValueError(
                f"the network reads {network.n_features} features; the candidates give "
                f"{len(self.feature_names)} plus {list(extra)}"
            )
        self.network = network.eval()
        self.config.update(
            env="rerank",
            hidden=network.hidden,
            attention_heads=0 if network.attention is None else int(network.attention.num_heads),
            extra=list(extra),
        )

    @staticmethod
    def extra_names(base: bool, beliefs: bool) -> tuple[str, ...]:
        """The extra columns, in order."""
        return (*((BASE_SCORE,) if base else ()), *(BELIEF_NAMES if beliefs else ()))

    def extended(self, candidates: CandidateBatch) -> np.ndarray:
        """float32 (B, K, F + extra): the candidates' features and the extra columns."""
        return augment(candidates, self.base, self.beliefs)

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
        if self.base is not None:
            (folder / BASE_DIR).mkdir()
            self.base.booster.save_model(folder / BASE_DIR / MODEL_FILE)
        if self.beliefs is not None:
            self.beliefs.save(folder / BELIEFS_FILE)

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> Policy:
        config = meta["config"]
        extra = list(config["extra"])
        net = saved_scorer(folder / WEIGHTS_FILE, meta, len(extra))
        base = None
        if BASE_SCORE in extra:
            import lightgbm as lgb

            booster = lgb.Booster(model_file=str(folder / BASE_DIR / MODEL_FILE))
            base = LambdaMART(
                booster,
                name="lambdamart",
                modality_names=meta["modality_names"],
                feature_names=meta["feature_names"],
                config={"threads": 1},
            )
        beliefs = BeliefTable.load(folder / BELIEFS_FILE) if BELIEF_NAMES[0] in extra else None
        return cls(net, base, beliefs, **policy_args(meta))


def augment(
    candidates: CandidateBatch, base: LambdaMART | None, beliefs: BeliefTable | None
) -> np.ndarray:
    """float32 (B, K, F + extra): the candidates' features, then LambdaMART's score (with
    ``base``), then the simulator's beliefs (with ``beliefs``); zeros at masked slots."""
    columns = [candidates.features]
    if base is not None:
        score = np.where(candidates.mask, base.predict(candidates.features), 0.0)
        columns.append(score[..., None].astype(np.float32))
    if beliefs is not None:
        texts = [q.text for q in candidates.queries]
        items = np.where(candidates.mask, candidates.item_index, -1)
        columns.append(beliefs.features(texts, items, candidates.features))
    return np.concatenate(columns, axis=2).astype(np.float32)
