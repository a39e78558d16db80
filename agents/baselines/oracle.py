"""The ShopWorld oracle: ranks by the hidden truth's expected reward (the ceiling).

It reads ShopWorld's hidden truth, so it exists only for evaluation: it is built from a
truth folder (:meth:`OracleShopWorld.from_truth`) and refuses to exist without one, and
``fusionrank baselines fit`` never writes it into ``policies/``. When saved, its folder
holds only a reference to the truth folder, never the truth.

Each candidate's score is its expected reward if a user examines it:
``score = sum_s share_s * a_s * (w_clicks + b_s * (w_purchases + w_revenue * price))``,
with ``a_s`` the true attractiveness and ``b_s`` the true purchase probability for user
segment ``s`` (see :mod:`fusionrank.datasets.shopworld.truth`). Sorting by it is the
ideal order under position-based examination; the truth's stop-after-purchase makes the
order a (near-)ceiling rather than a proven optimum.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fusionrank.agents.baselines.common import masked
from fusionrank.agents.policy import Policy, policy_args
from fusionrank.types import CandidateBatch

if TYPE_CHECKING:
    from fusionrank.datasets.shopworld.truth import HiddenTruth

logger = logging.getLogger(__name__)


def load_truth(truth_dir: str | Path | None) -> HiddenTruth:
    """ShopWorld's hidden truth from its folder.

    Raises:
        ValueError: If no folder is given or it holds no truth.
    """
    from fusionrank.datasets.shopworld.truth import HiddenTruth

    if truth_dir is None or not (Path(truth_dir) / "user_model.json").is_file():
        raise ValueError(
            f"the ShopWorld oracle needs the hidden truth, and {truth_dir} holds none "
            "(user_model.json is missing); it exists only for ShopWorld runs: pass "
            "runs/<name>/world/truth of a generated world"
        )
    return HiddenTruth.load(truth_dir)


class OracleShopWorld(Policy):
    """Ranks candidates by their true expected reward (evaluation only).

    Args:
        truth: ShopWorld's hidden truth.
        truth_dir: The folder it was read from (what a saved oracle refers to).
        reward: Weights of purchases, revenue and clicks.
        **kwargs: :class:`Policy` arguments.
    """

    kind: ClassVar[str] = "oracle-shopworld"

    def __init__(
        self,
        truth: HiddenTruth,
        truth_dir: str | Path,
        reward: Mapping[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.truth = truth
        self.reward = dict(reward or {"purchases": 1.0})
        self.config.update({"truth_dir": str(Path(truth_dir).resolve()), "reward": self.reward})

    @classmethod
    def from_truth(
        cls,
        truth_dir: str | Path | None,
        modality_names: Sequence[str],
        feature_names: Sequence[str],
        reward: Mapping[str, float] | None = None,
    ) -> OracleShopWorld:
        """The oracle of the world whose hidden truth is in ``truth_dir``.

        Raises:
            ValueError: If ``truth_dir`` is None or holds no ShopWorld truth.
        """
        truth = load_truth(truth_dir)
        assert truth_dir is not None
        return cls(
            truth,
            truth_dir,
            reward,
            name="oracle",
            modality_names=modality_names,
            feature_names=feature_names,
        )

    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, K): true expected reward per examination, ``-inf`` at padding.

        Raises:
            ValueError: If a query id is not one of ShopWorld's.
        """
        self.check_candidates(candidates)
        query = self.truth.query_index(np.array([q.query_id for q in candidates.queries], object))
        item_index = np.where(candidates.mask, candidates.item_index, -1)
        return masked(self.expected_reward(query, item_index), candidates.mask)

    def expected_reward(self, query: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        """float64 (B, K): the score of the module docstring for query indices int64 (B,)
        and items int64 (B, K) (``PAD`` gets 0)."""
        p = self.truth.page_probabilities(query, item_index)
        price = self.truth.items.price[np.maximum(item_index, 0)][..., None]
        per_purchase = self.reward.get("purchases", 0.0) + self.reward.get("revenue", 0.0) * price
        value = self.reward.get("clicks", 0.0) + p.purchase * per_purchase
        share = np.asarray(self.truth.model.segment_share)
        return (p.attractiveness * value) @ share

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> OracleShopWorld:
        truth_dir = meta["config"].get("truth_dir")
        return cls(
            load_truth(truth_dir),
            truth_dir,
            meta["config"].get("reward"),
            **policy_args(meta),
        )
