"""LambdaMART trained on logged clicks, with position-bias correction.

Training data: every logged page with at least one click (a page without a click gives
lambdarank no pair to order) is one group; each shown item is a row with

* features: ``Retriever.pair_features(query_texts, item_index)`` without ``fused_score``.
  Every other pair feature is the query's over the whole catalog, so a logged page and a
  fused candidate list give a pair the same values; ``fused_score`` depends on the
  fusion weights of the list, so it is left out (the model sees the modality z-scores it
  is made of);
* label: 0 unclicked, 1 clicked, ``purchase_grade`` purchased;
* weight (``ipw``): ``1 / max(e_r / e_0, min_examination)`` for a clicked item at page
  rank ``r``, 1 for the others, the inverse propensity of the click (Joachims et al.,
  2017). ``e_r`` is the fitted simulator's click model's marginal probability of
  examining rank ``r``: the click probabilities of a page whose every pair has the
  model's mean pair parameters, divided by its attractiveness (exact for PBM; UBM's and
  the cascade family's examination is averaged over the clicks above). LightGBM
  multiplies each row's lambda gradient by its weight.

The model is lightgbm's ``LGBMRanker(objective="lambdarank")``, deterministic
(``deterministic=True``, fixed seed, ``num_threads`` fixed), saved with
``booster.save_model``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fusionrank.agents.baselines.common import masked
from fusionrank.agents.baselines.config import LambdaMARTConfig
from fusionrank.agents.policy import Policy, policy_args
from fusionrank.retrieval.pool import FUSED_SCORE
from fusionrank.types import CandidateBatch, LoggedPages

if TYPE_CHECKING:
    import lightgbm

    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.simulator.user_simulator import UserSimulator

logger = logging.getLogger(__name__)

MODEL_FILE = "model.txt"


def examination_propensities(simulator: UserSimulator, n_ranks: int) -> np.ndarray:
    """Relative examination probability of each page rank, float64 (n_ranks,), ``e_0 = 1``.

    ``e_r = P(C_r = 1) / P(C_0 = 1)`` on a page whose pairs all have the click model's
    mean pair parameters (see the module docstring).
    """
    model = simulator.click_model
    shown = np.ones((1, n_ranks), dtype=bool)
    params = {
        name: np.full((1, n_ranks), float(np.mean(model.pair_values[name])))
        for name in model.pair_param_names
    }
    clicks = model.page_from(params, shown).click_probs()[0]
    if not clicks[0] > 0:
        raise ValueError(f"the {model.name} click model gives rank 1 no clicks; refit it")
    return clicks / clicks[0]


@dataclass(frozen=True, eq=False)
class RankingData:
    """Logged pages as lightgbm ranking rows.

    Args:
        features: float32, shape (n, F'): one row per shown item, pages in order.
        labels: int64, shape (n,): 0, 1 (click) or the purchase grade.
        weights: float64, shape (n,): sample weights.
        groups: int64, shape (N,): rows per page.
        rank: int64, shape (n,): page rank of each row (0-based).
    """

    features: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    groups: np.ndarray
    rank: np.ndarray


def model_feature_columns(feature_names: Sequence[str]) -> list[int]:
    """Columns of the candidate features the model reads: all but ``fused_score``."""
    return [i for i, name in enumerate(feature_names) if name != FUSED_SCORE]


def ranking_data(
    retriever: Retriever,
    pages: LoggedPages,
    propensities: np.ndarray | None,
    config: LambdaMARTConfig,
    clicked_only: bool = True,
) -> RankingData:
    """Rows, labels, IPW weights and groups of logged pages (see the module docstring).

    Args:
        retriever: Gives the pair features; the pages' item indices must be its own.
        pages: The logged pages.
        propensities: float64, shape (>= L,): examination per rank; None: weights 1.
        config: Grades and the propensity floor.
        clicked_only: Keep only pages with a click.
    """
    if clicked_only:
        pages = pages.subset(np.asarray(pages.clicks.any(axis=1)))
    if len(pages) == 0:
        raise ValueError("the logs have no clicked page; LambdaMART needs logged clicks")
    texts = [str(t) for t in pages.query_texts[pages.query]]
    features = retriever.pair_features(texts, pages.item_index)
    shown = pages.shown
    columns = model_feature_columns(retriever.feature_names)
    labels = pages.clicks.astype(np.int64) + (config.purchase_grade - 1) * pages.purchases
    rank = np.broadcast_to(np.arange(pages.slate_size), shown.shape)
    weights = np.ones(shown.shape)
    if propensities is not None:
        e = np.maximum(propensities[: pages.slate_size], config.min_examination)
        weights = np.where(pages.clicks, 1.0 / e[None, :], 1.0)
    return RankingData(
        features=features[shown][:, columns],
        labels=labels[shown],
        weights=weights[shown],
        groups=shown.sum(axis=1).astype(np.int64),
        rank=rank[shown],
    )


def train_ranker(data: RankingData, config: LambdaMARTConfig, seed: int) -> lightgbm.Booster:
    """Fit ``LGBMRanker(objective="lambdarank")`` deterministically; return its booster."""
    import lightgbm as lgb

    ranker = lgb.LGBMRanker(
        objective="lambdarank",
        n_estimators=config.n_estimators,
        learning_rate=config.learning_rate,
        num_leaves=config.num_leaves,
        min_child_samples=config.min_child_samples,
        random_state=seed,
        n_jobs=config.threads,
        deterministic=True,
        force_row_wise=True,
        label_gain=[float(2**g - 1) for g in range(config.purchase_grade + 1)],
        verbose=-1,
    )
    ranker.fit(data.features, data.labels, sample_weight=data.weights, group=data.groups)
    return ranker.booster_


def train_position_ranker(
    data: RankingData, config: LambdaMARTConfig, seed: int
) -> lightgbm.Booster:
    """Fit LightGBM's position-debiased lambdarank (LightGBM >= 4.1): each row's page rank
    goes into ``Dataset(position=...)`` and LightGBM learns a position bias factor per
    rank jointly with the ranker (Unbiased LambdaMART, Hu et al. 2019), shrunk by
    ``lambdarank_position_bias_regularization``; rows are unweighted (no IPW)."""
    import lightgbm as lgb

    params = {
        "objective": "lambdarank",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_child_samples": config.min_child_samples,
        "seed": seed,
        "num_threads": config.threads,
        "deterministic": True,
        "force_row_wise": True,
        "label_gain": [float(2**g - 1) for g in range(config.purchase_grade + 1)],
        "lambdarank_position_bias_regularization": config.position_bias_regularization,
        "verbose": -1,
    }
    dataset = lgb.Dataset(
        data.features, data.labels, group=data.groups, position=data.rank.astype(np.int32)
    )
    return lgb.train(params, dataset, num_boost_round=config.n_estimators)


class LambdaMART(Policy):
    """A lightgbm lambdarank re-ranker over the candidates' pair features.

    Args:
        booster: The trained lightgbm booster (reads the features but ``fused_score``).
        **kwargs: :class:`Policy` arguments; ``config["threads"]`` sets predict threads.
    """

    kind: ClassVar[str] = "lambdamart"

    def __init__(self, booster: lightgbm.Booster, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.booster = booster
        self.columns = model_feature_columns(self.feature_names)
        if booster.num_feature() != len(self.columns):
            raise ValueError(
                f"the LambdaMART model reads {booster.num_feature()} features but "
                f"feature_names give {len(self.columns)}; save the policy again"
            )

    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, K): the model's score, ``-inf`` where ``candidates.mask`` is False."""
        self.check_candidates(candidates)
        return masked(self.predict(candidates.features), candidates.mask)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Model scores of candidate features float32 (..., F) as float64 (...)."""
        rows = features[..., self.columns].reshape(-1, len(self.columns))
        if rows.shape[0] == 0:
            return np.zeros(features.shape[:-1])
        scores = self.booster.predict(rows, num_threads=int(self.config.get("threads", 2)))
        return np.asarray(scores, dtype=np.float64).reshape(features.shape[:-1])

    @classmethod
    def fit(
        cls,
        retriever: Retriever,
        simulator: UserSimulator | None,
        pages: LoggedPages,
        config: LambdaMARTConfig,
        seed: int,
    ) -> LambdaMART:
        """Train on logged pages (IPW from ``simulator``'s click model when ``config.ipw``).

        Raises:
            ValueError: If IPW is on and no simulator is given, or no page has a click.
        """
        if config.debias == "position":
            return cls.fit_position_debiased(retriever, pages, config, seed)
        propensities = None
        if config.ipw:
            if simulator is None:
                raise ValueError(
                    "baselines.lambdamart.ipw=true needs the fitted simulator's examination "
                    "probabilities; run `fusionrank sim fit` first or set ipw=false"
                )
            propensities = examination_propensities(simulator, pages.slate_size)
        data = ranking_data(retriever, pages, propensities, config)
        logger.info("LambdaMART: %d rows in %d pages", len(data.labels), len(data.groups))
        booster = train_ranker(data, config, seed)
        return cls(
            booster,
            name="lambdamart",
            modality_names=retriever.modality_names,
            feature_names=retriever.feature_names,
            config={**config.model_dump(mode="json"), "seed": seed},
            metrics={
                "train_pages": len(data.groups),
                "train_rows": len(data.labels),
                "examination": None if propensities is None else propensities.tolist(),
            },
        )

    @classmethod
    def fit_position_debiased(
        cls, retriever: Retriever, pages: LoggedPages, config: LambdaMARTConfig, seed: int
    ) -> LambdaMART:
        """Train LightGBM's position-debiased lambdarank (:func:`train_position_ranker`)."""
        data = ranking_data(retriever, pages, None, config)
        logger.info(
            "LambdaMART (position): %d rows in %d pages", len(data.labels), len(data.groups)
        )
        booster = train_position_ranker(data, config, seed)
        return cls(
            booster,
            name="lambdamart-position",
            modality_names=retriever.modality_names,
            feature_names=retriever.feature_names,
            config={**config.model_dump(mode="json"), "seed": seed},
            metrics={"train_pages": len(data.groups), "train_rows": len(data.labels)},
        )

    def _save_state(self, folder: Path) -> None:
        self.booster.save_model(folder / MODEL_FILE)

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> LambdaMART:
        import lightgbm as lgb

        path = folder / MODEL_FILE
        if not path.is_file():
            raise OSError(f"{path} is missing")
        return cls(
            lgb.Booster(model_file=str(path)),
            **policy_args(meta),
        )


def logged_ndcg(scores: np.ndarray, labels: np.ndarray, shown: np.ndarray, k: int) -> np.ndarray:
    """nDCG@k of re-ranking each logged page's items by ``scores``, graded by ``labels``.

    ``DCG = sum_{r<k} (2^g_r - 1) / log2(r + 2)`` of the re-ranked labels, divided by the
    DCG of the labels sorted best first; pages without a positive label are dropped.

    Args:
        scores: float, shape (N, L).
        labels: int, shape (N, L).
        shown: bool, shape (N, L).
        k: The cut-off.

    Returns:
        float64, shape (N',): one value per page with a positive label.
    """
    from fusionrank.retrieval.metrics import dcg

    key = np.where(shown, -np.asarray(scores, dtype=np.float64), np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    grades = np.where(shown, labels, 0).astype(np.float64)
    gains = dcg(np.take_along_axis(grades, order, axis=1), k)
    ideal = dcg(-np.sort(-grades, axis=1), k)
    keep = ideal > 0
    return gains[keep] / ideal[keep]
