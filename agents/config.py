"""Config of PPO training (``agents`` section of the run config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EnvName = Literal["fusion", "rerank", "session"]


class NetworkConfig(BaseModel):
    """Sizes of the policy networks.

    ``hidden`` is the width of the per-candidate encoder, the query encoder and the
    pooled context; ``attention_heads`` = 0 uses masked mean/max pooling only, > 0 adds
    one masked self-attention layer over the candidates.
    """

    model_config = ConfigDict(extra="forbid")

    hidden: int = Field(32, ge=4)
    attention_heads: int = Field(0, ge=0)
    fusion_hidden: tuple[int, ...] = (64, 64)
    log_std_init: float = -1.0
    start_from_default: bool = Field(
        True, description="initialise the re-rank scores to the fused order (residual)"
    )

    @model_validator(mode="after")
    def _heads_divide(self) -> NetworkConfig:
        if self.attention_heads and self.hidden % self.attention_heads:
            raise ValueError(
                f"agents.network.hidden ({self.hidden}) must be divisible by "
                f"attention_heads ({self.attention_heads}); change one of them"
            )
        return self


class PGRankConfig(BaseModel):
    """Plackett-Luce policy gradient in the fitted simulator (``fusionrank.agents.pgrank``).

    Each step draws ``queries_per_step`` queries by their logged traffic, ``samples``
    rankings of each from the Plackett-Luce policy, values every ranking exactly in the
    simulator (ensemble: ``mean - pessimism * std``), and follows REINFORCE with the other
    samples of the query as the baseline.
    """

    model_config = ConfigDict(extra="forbid")

    iterations: int = Field(300, ge=1, le=1_000_000, description="Gradient steps.")
    queries_per_step: int = Field(64, ge=1, le=100_000)
    samples: int = Field(8, ge=2, le=1024, description="Rankings drawn per query and step.")
    learning_rate: float = Field(3e-3, gt=0)
    max_grad_norm: float = Field(1.0, gt=0)
    init_scale: float = Field(
        2.0, gt=0, description="Initial score = init_scale * the standardised start feature."
    )
    inputs: list[Literal["lambdamart", "beliefs"]] = Field(
        default_factory=list,
        description="Extra candidate columns: the saved LambdaMART's score, the fitted "
        "simulator's beliefs (sim_value, sim_evidence) about each pair.",
    )
    start: Literal["default", "lambdamart", "beliefs"] = Field(
        "default",
        description="The initial order: the fused score, LambdaMART's score (residual RL) "
        "or the simulator's sim_value; the last two must be among the inputs.",
    )
    pessimism: float = Field(
        0.0, ge=0, description="k of the ensemble's mean - k * std reward (0: the mean)."
    )
    depth: int | None = Field(
        None, ge=1, le=10_000, description="Ranked positions valued; default slate * pages."
    )
    eval_every: int = Field(50, ge=1, description="Steps between simulator evaluations.")
    select: Literal["best", "last"] = Field(
        "best", description="Keep the evaluation with the best simulator value, or the last."
    )

    @model_validator(mode="after")
    def _start_is_an_input(self) -> PGRankConfig:
        if self.start != "default" and self.start not in self.inputs:
            raise ValueError(
                f"agents.pgrank.start={self.start} needs {self.start!r} in agents.pgrank."
                f"inputs (got {self.inputs}); add it or start from the default order"
            )
        return self


class AgentConfig(BaseModel):
    """PPO settings shared by every env; ``total_steps`` counts env steps (result pages)."""

    model_config = ConfigDict(extra="forbid")

    env: EnvName = "rerank"
    total_steps: dict[str, int] = Field(
        default_factory=lambda: {
            "fusion": 60_000,
            "rerank": 600_000,
            "session": 150_000,
        }
    )
    n_envs: int = Field(256, ge=1)
    n_steps: int = Field(16, ge=1)
    batch_size: int = Field(1024, ge=2)
    n_epochs: int = Field(4, ge=1)
    learning_rate: float = Field(3e-4, gt=0)
    gamma: float = Field(0.9, ge=0, le=1)
    gae_lambda: float = Field(0.95, ge=0, le=1)
    clip_range: float = Field(0.2, gt=0)
    ent_coef: float = Field(0.0, ge=0)
    vf_coef: float = Field(0.5, ge=0)
    max_grad_norm: float = Field(0.5, gt=0)
    normalize_reward: bool = True
    network: NetworkConfig = NetworkConfig()
    pgrank: PGRankConfig = PGRankConfig()
    eval_every: int = Field(20_000, ge=1, description="env steps between evaluations")
    eval_pages: int = Field(4096, ge=1, description="held-out result pages per evaluation")
    checkpoint_every: int = Field(50_000, ge=1)
    torch_threads: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _check_sizes(self) -> AgentConfig:
        unknown = sorted(set(self.total_steps) - {"fusion", "rerank", "session"})
        if unknown:
            raise ValueError(
                f"agents.total_steps has unknown env(s) {unknown}; use fusion, rerank or session"
            )
        rollout = self.n_envs * self.n_steps
        if rollout < 2 or self.batch_size > rollout:
            raise ValueError(
                f"agents.batch_size ({self.batch_size}) must be <= n_envs * n_steps "
                f"({rollout}); lower batch_size or raise n_steps"
            )
        return self

    def steps_for(self, env: str) -> int:
        """Total env steps for ``env`` (the ``rerank`` figure when it has none)."""
        return int(self.total_steps.get(env, self.total_steps.get("rerank", 150_000)))
