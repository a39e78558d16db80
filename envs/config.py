"""The environments' configuration: the ``envs`` section of a run config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RewardName = Literal["purchases", "revenue", "clicks", "mix"]
RewardMode = Literal["sampled", "expected"]
EnvKind = Literal["fusion", "rerank", "session"]


class RewardMix(BaseModel):
    """Weights of the ``mix`` reward: ``w_p * purchases + w_r * revenue + w_c * clicks``."""

    model_config = ConfigDict(extra="forbid")

    purchases: float = Field(1.0, ge=0, description="Weight of a purchase.")
    revenue: float = Field(0.0, ge=0, description="Weight of one unit of revenue.")
    clicks: float = Field(0.1, ge=0, description="Weight of a click.")

    @model_validator(mode="after")
    def _not_all_zero(self) -> RewardMix:
        if self.purchases + self.revenue + self.clicks <= 0:
            raise ValueError("envs.mix: every weight is 0; give purchases, revenue or clicks one")
        return self


class EnvConfig(BaseModel):
    """How the Gymnasium environments sample queries, rank, and reward."""

    model_config = ConfigDict(extra="forbid")

    reward: RewardName = Field(
        "purchases", description="purchases, revenue, clicks, or mix (weights in envs.mix)."
    )
    mix: RewardMix = RewardMix()
    reward_mode: RewardMode = Field(
        "sampled",
        description="sampled: one simulated user per step; expected: the exact mean over users"
        " (fusion and re-rank envs).",
    )
    k: int = Field(50, ge=1, le=10_000, description="Candidate slots K of the re-rank envs.")
    slate_size: int = Field(10, ge=1, le=1000, description="Results per page L.")
    max_pages: int = Field(3, ge=1, le=100, description="Result pages a user may open per query.")
    max_reformulations: int = Field(
        1, ge=0, le=10, description="Rewordings per session (session env only)."
    )
    k_per_modality: int | None = Field(
        None, ge=1, le=10_000, description="Pool size per modality; default: the retriever's."
    )
    batch_size: int = Field(64, ge=1, le=1_000_000, description="Envs stepped at once.")
    fusion_scale: float = Field(
        3.0, gt=0, le=100, description="Fusion weights = softmax(fusion_scale * action)."
    )
    warm_cache: bool = Field(
        True, description="Compute the simulator's parameters of every pooled pair up front."
    )

    @model_validator(mode="after")
    def _slate_within_k(self) -> EnvConfig:
        if self.slate_size > self.k:
            raise ValueError(
                f"envs.slate_size={self.slate_size} must be at most envs.k={self.k}; "
                "lower slate_size or raise k"
            )
        return self

    def reward_weights(self) -> tuple[float, float, float]:
        """``(purchases, revenue, clicks)`` weights of the configured reward."""
        if self.reward == "mix":
            return (self.mix.purchases, self.mix.revenue, self.mix.clicks)
        return {
            "purchases": (1.0, 0.0, 0.0),
            "revenue": (0.0, 1.0, 0.0),
            "clicks": (0.0, 0.0, 1.0),
        }[self.reward]
