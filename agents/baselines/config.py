"""The baselines' configuration: the ``baselines`` section of a run config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

RewardName = Literal["purchases", "revenue", "clicks"]
REWARD_NAMES: tuple[str, ...] = ("purchases", "revenue", "clicks")


def _purchases() -> dict[RewardName, float]:
    return {"purchases": 1.0}


class LambdaMARTConfig(BaseModel):
    """The LambdaMART re-ranker (lightgbm ``LGBMRanker(objective="lambdarank")``)."""

    model_config = ConfigDict(extra="forbid")

    n_estimators: int = Field(200, ge=1, le=100_000, description="Boosting rounds.")
    learning_rate: float = Field(0.05, gt=0, le=1.0, description="Shrinkage per round.")
    num_leaves: int = Field(31, ge=2, le=4096, description="Leaves per tree.")
    min_child_samples: int = Field(20, ge=1, description="Smallest number of rows in a leaf.")
    purchase_grade: int = Field(
        2, ge=1, le=30, description="Label of a purchased item (a click without one is 1)."
    )
    ipw: bool = Field(
        True, description="Weight clicked items by 1 / examination (position-bias correction)."
    )
    debias: Literal["ipw", "position"] = Field(
        "ipw",
        description="ipw: the weights above; position: LightGBM's own position-debiased "
        "lambdarank (Dataset(position=...)), unweighted.",
    )
    position_bias_regularization: float = Field(
        0.0, ge=0, description="lambdarank_position_bias_regularization of debias=position."
    )
    min_examination: float = Field(
        0.05, gt=0, le=1, description="Floor of the examination propensity (caps the weights)."
    )
    threads: int = Field(
        1,
        ge=1,
        le=256,
        description="lightgbm threads; 1 by default: the data are small, and OpenMP threads "
        "on a busy 2-core machine wait on each other (measured 45x slower with 2).",
    )


class BaselinesConfig(BaseModel):
    """How ``fusionrank baselines fit`` fits the baseline policies.

    The reward of a result page is ``sum_name weight[name] * E[name]`` summed over its
    ranks, with ``E`` the fitted simulator's expected purchases, revenue or clicks.
    """

    model_config = ConfigDict(extra="forbid")

    reward: dict[RewardName, float] = Field(
        default_factory=_purchases,
        description="Weights of purchases, revenue and clicks in the page reward.",
    )
    slate_size: int = Field(
        10, ge=1, le=100, description="Ranks of the page that static fusion optimises."
    )
    grid_step: float = Field(
        0.05, gt=0, le=0.5, description="Spacing of the simplex grid static fusion searches."
    )
    refine: bool = Field(
        True, description="Search a finer grid (step / 4) around the best grid point."
    )
    lambdamart: LambdaMARTConfig = LambdaMARTConfig()
    lambdamart_position: LambdaMARTConfig | None = Field(
        default_factory=lambda: LambdaMARTConfig(debias="position"),
        description="The second supervised ranker, LightGBM's position-debiased "
        "lambdarank, saved as policies/lambdamart-position; null: not fitted.",
    )

    @field_validator("reward")
    @classmethod
    def _reward_weights(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not v >= 0}
        if bad:
            raise ValueError(f"reward weights must be >= 0, got {bad}")
        if sum(value.values()) <= 0:
            raise ValueError(
                f"reward weights {value} are all 0; give one of {', '.join(REWARD_NAMES)} a"
                " positive weight, e.g. {purchases: 1}"
            )
        return value

    @field_validator("grid_step")
    @classmethod
    def _step_divides_one(cls, value: float) -> float:
        n = round(1 / value)
        if abs(n * value - 1) > 1e-9:
            raise ValueError(f"grid_step={value} must divide 1 evenly, e.g. 0.05, 0.1 or 0.25")
        return value
