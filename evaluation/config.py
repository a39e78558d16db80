"""The evaluation's configuration: the ``evaluation`` section of a run config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RewardModelName = Literal["logistic", "lightgbm", "beta_binomial", "blend"]


class EvaluationConfig(BaseModel):
    """How simulated A/B tests, interleaving and off-policy estimates are run and judged."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(0.05, gt=0, lt=0.5, description="Two-sided significance level.")
    power: float = Field(0.8, gt=0.5, lt=1, description="Power for the minimum detectable effect.")
    n_bootstrap: int = Field(
        1000, ge=100, le=100_000, description="Bootstrap resamples for every interval."
    )
    n_sessions: int = Field(
        10_000, ge=10, le=100_000_000, description="Simulated sessions per A/B arm."
    )
    batch_size: int = Field(
        20_000, ge=1, le=10_000_000, description="Sessions simulated at once (bounds memory)."
    )
    slate_size: int = Field(10, ge=1, le=100, description="Results per page.")
    max_pages: int = Field(3, ge=1, le=20, description="Result pages a user may open per query.")
    max_reformulations: int = Field(
        1, ge=0, le=5, description="Query rewordings a user may try per session."
    )
    ndcg_k: int = Field(10, ge=1, le=100, description="Cut-off of nDCG on the first page.")
    sequential_tau: float = Field(
        0.1,
        gt=0,
        description="mSPRT mixture scale, in standard deviations of the per-session difference.",
    )
    reward_model: RewardModelName = Field(
        "logistic",
        description="Reward model behind the direct method and doubly robust: logistic, "
        "lightgbm, beta_binomial (each item's CTR per slot shrunk to an empirical-Bayes "
        "prior; ignores context) or blend (the mean of beta_binomial and a per-slot "
        "logistic regression on context and item features).",
    )
    n_folds: int = Field(3, ge=2, le=20, description="Cross-fitting folds of the reward model.")
