"""The simulator's configuration: the ``simulator`` section of a run config."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

ClickModelName = Literal["pbm", "cascade", "dcm", "dbn", "sdbn", "ubm"]
ReportModelName = Literal["pbm", "cascade", "dcm", "dbn", "sdbn", "ubm", "global_ctr", "rank_ctr"]


class SimulatorConfig(BaseModel):
    """How ``fusionrank sim fit`` builds the user simulator and ``sim report`` judges it."""

    model_config = ConfigDict(extra="forbid")

    click_model: ClickModelName = Field(
        "ubm", description="Click model of the simulator (best held-out fit on ShopWorld)."
    )
    em_iterations: int = Field(50, ge=1, le=10_000, description="EM iterations per fit.")
    em_tolerance: float = Field(
        0.0, ge=0, description="Stop EM when the mean log-likelihood gains less; 0: never."
    )
    prior_clicks: float = Field(1.0, gt=0, description="Pseudo-clicks smoothing estimates.")
    prior_views: float = Field(2.0, gt=0, description="Pseudo-views smoothing estimates.")
    blend_strength: float = Field(
        5.0,
        ge=0,
        description="m in (n * own + m * feature model) / (n + m) for pair parameters.",
    )
    purchase_blend_strength: float = Field(
        20.0, ge=0, description="m of the same blend for purchase given click."
    )
    feature_rounds: int = Field(
        2, ge=0, le=10, description="Refits of the click model under the feature-model prior."
    )
    feature_regularization: float = Field(
        1.0, gt=0, description="C of the feature models' logistic regressions."
    )
    feature_model: Literal["logistic", "lightgbm"] = Field(
        "logistic",
        description="Model of pair parameters from pair features (pairs the logs never "
        "showed): logistic regression, or LightGBM trees (cross-entropy).",
    )
    feature_trees: int = Field(
        100, ge=1, le=10_000, description="Boosting rounds of the lightgbm feature model."
    )
    ensemble_members: int = Field(
        5,
        ge=0,
        le=100,
        description="Simulators fitted on bootstrap resamples of the logs; their spread is "
        "the interval of the simulator's predicted lifts (0 or 1: no ensemble).",
    )
    validation: bool = Field(
        True,
        description="Also fit a simulator on the held-out sessions alone, which judges "
        "policies on logs they were not fitted on.",
    )
    held_out_fraction: float = Field(
        0.25, ge=0, lt=1, description="Latest share of sessions kept out of fitting."
    )
    max_pages: int | None = Field(
        None, ge=1, le=100, description="Result pages per query; default: most in the logs."
    )
    report_models: list[ReportModelName] = Field(
        default_factory=lambda: list(get_args(ReportModelName)),
        description="Click models compared in the fidelity report.",
    )
    report_repeats: int = Field(
        3, ge=1, le=100, description="Simulated replays of the held-out sessions."
    )

    @model_validator(mode="after")
    def _prior_is_a_probability(self) -> SimulatorConfig:
        if self.prior_clicks >= self.prior_views:
            raise ValueError(
                f"prior_clicks={self.prior_clicks} must be below prior_views="
                f"{self.prior_views}; e.g. 1 and 2 (a prior mean of 0.5)"
            )
        return self

    @property
    def prior(self) -> tuple[float, float]:
        return (self.prior_clicks, self.prior_views)
