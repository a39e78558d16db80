"""Training a PG-Rank policy over a run's prepared env components and saving it.

``train_pg_policy`` = the components' candidates as a :class:`RankingProblem` (plus the
LambdaMART score for the residual start) -> the simulator (or ensemble) as a
:class:`SimulatorValue` -> :func:`train_pgrank` -> a :class:`PGRerankPolicy` or
:class:`ResidualRerankPolicy`, saved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.agents.config import AgentConfig
from fusionrank.agents.pgrank import PGRankResult, RankingProblem, train_pgrank
from fusionrank.agents.policy import Policy
from fusionrank.agents.rl_policies import (
    BASE_SCORE,
    AugmentedRerankPolicy,
    PGRerankPolicy,
    augment,
)
from fusionrank.envs.value import SimulatorValue
from fusionrank.retrieval.pool import FUSED_SCORE
from fusionrank.simulator.beliefs import BELIEF_NAMES, BeliefTable

if TYPE_CHECKING:
    from fusionrank.agents.baselines.lambdamart import LambdaMART
    from fusionrank.envs.components import EnvComponents
    from fusionrank.envs.config import EnvConfig
    from fusionrank.simulator.user_simulator import UserSimulator

logger = logging.getLogger(__name__)


@dataclass
class PGTrained:
    """A trained and saved PG-Rank policy.

    Args:
        policy: The policy (saved when ``folder`` is set).
        result: The training run.
        folder: Where it was saved, or None.
    """

    policy: Policy
    result: PGRankResult
    folder: Path | None


def ranking_problem(components: EnvComponents) -> RankingProblem:
    """The env components' default-fused candidates of every logged query, by traffic."""
    cands = components.candidates
    return RankingProblem(
        features=cands.features,
        mask=cands.mask,
        query_features=components.query_features.astype(np.float32),
        items=cands.item_index,
        traffic=components.traffic.astype(np.float64),
        feature_names=tuple(cands.feature_names),
    )


def simulator_value(
    components: EnvComponents, env_config: EnvConfig, members: Sequence[UserSimulator] | None
) -> SimulatorValue:
    """The value of rankings under ``members`` (default: the components' simulator)."""
    ids = components.query_ids
    texts = np.array([q.text for q in components.pool.queries], dtype=object)
    return SimulatorValue.build(members or [components.simulator], ids, texts, env_config)


def augmented_problem(
    problem: RankingProblem,
    components: EnvComponents,
    inputs: Sequence[str],
    lambdamart: LambdaMART | None,
    beliefs: BeliefTable | None,
) -> RankingProblem:
    """The problem with the extra columns of :func:`~fusionrank.agents.rl_policies.augment`.

    Raises:
        ValueError: If an input is asked for without its source.
    """
    if "lambdamart" in inputs and lambdamart is None:
        raise ValueError(
            "agents.pgrank.inputs has lambdamart but the run has no LambdaMART policy; run "
            "`fusionrank baselines fit` first or drop it from the inputs"
        )
    if "beliefs" in inputs and beliefs is None:
        raise ValueError("agents.pgrank.inputs has beliefs but no simulator was given")
    base = lambdamart if "lambdamart" in inputs else None
    table = beliefs if "beliefs" in inputs else None
    features = augment(components.candidates, base, table)
    names = (*problem.feature_names, *AugmentedRerankPolicy.extra_names(bool(base), bool(table)))
    return replace(problem, features=features, feature_names=names)


def train_pg_policy(
    components: EnvComponents,
    env_config: EnvConfig,
    config: AgentConfig,
    seed: int,
    out: Path | None = None,
    lambdamart: LambdaMART | None = None,
    members: Sequence[UserSimulator] | None = None,
    name: str | None = None,
) -> PGTrained:
    """Train PG-Rank (``config.pgrank``) and save the policy to ``out``.

    Args:
        components: The run's prepared env parts (candidates, traffic, simulator); its
            simulator gives the beliefs.
        env_config: Pages, slate size and reward of the value.
        config: The agents config (``pgrank`` and ``network`` sections).
        seed: The agent's integer seed.
        out: The policy folder, or None to keep it in memory.
        lambdamart: The saved LambdaMART (for the ``lambdamart`` input).
        members: A simulator ensemble whose users value the rankings (pessimistic with
            ``pgrank.pessimism``); None: the components' simulator.
        name: The policy's name (default ``pg-rerank`` or ``augmented-rerank``).
    """
    settings = config.pgrank
    problem = ranking_problem(components)
    own_names = problem.feature_names
    beliefs = (
        BeliefTable.from_simulator(components.simulator) if "beliefs" in settings.inputs else None
    )
    problem = augmented_problem(problem, components, settings.inputs, lambdamart, beliefs)
    start_name = {"default": FUSED_SCORE, "lambdamart": BASE_SCORE, "beliefs": BELIEF_NAMES[0]}
    start = problem.feature_names.index(start_name[settings.start])
    value = simulator_value(components, env_config, members)
    result = train_pgrank(problem, value, settings, config.network, seed, start)
    common: dict[str, Any] = {
        "modality_names": tuple(components.candidates.modality_names),
        "feature_names": own_names,
        "query_feature_dim": problem.query_features.shape[1],
        "config": {"agent": "pg-rank", "pgrank": settings.model_dump(mode="json"), "seed": seed},
        "metrics": {
            "train_seconds": round(result.seconds, 2),
            "simulator_value": result.kept_value,
            "start_simulator_value": result.start_value,
            "ensemble_members": value.n_members,
            "history": result.history,
        },
    }
    policy = _pg_policy(result, settings.inputs, lambdamart, beliefs, name, common)
    if out is not None:
        policy.save(out)
    logger.info(
        "%s: simulator value %.4f -> %.4f in %.1f s",
        policy.name,
        result.start_value,
        result.kept_value,
        result.seconds,
    )
    return PGTrained(policy, result, out)


def _pg_policy(
    result: PGRankResult,
    inputs: Sequence[str],
    lambdamart: LambdaMART | None,
    beliefs: BeliefTable | None,
    name: str | None,
    common: dict[str, Any],
) -> Policy:
    """The trained scorer as a policy: augmented when it reads extra columns."""
    if inputs:
        return AugmentedRerankPolicy(
            result.network,
            lambdamart if "lambdamart" in inputs else None,
            beliefs,
            name=name or "augmented-rerank",
            **common,
        )
    return PGRerankPolicy(result.network, name=name or "pg-rerank", **common)


def policy_value(policy: Policy, components: EnvComponents, value: SimulatorValue) -> float:
    """The traffic-weighted simulator value of a re-ranking policy on the components'
    candidates (its scores sort each query's default-fused top-K)."""
    from fusionrank.agents.policy import ranking_from_scores

    cands = components.candidates
    depth = value.config.slate_size * value.config.max_pages
    ranked = ranking_from_scores(policy.scores(cands, components.query_features), cands)
    rows = np.arange(len(cands), dtype=np.int64)
    share = components.traffic / components.traffic.sum()
    return float(share @ value(rows, ranked[:, :depth]))


def best_by_value(
    policies: Sequence[Policy], components: EnvComponents, value: SimulatorValue
) -> tuple[Policy, dict[str, float]]:
    """The policy with the highest :func:`policy_value` (e.g. in a simulator fitted on
    held-out logs), and every policy's value by name."""
    values = {p.name: policy_value(p, components, value) for p in policies}
    best = max(policies, key=lambda p: values[p.name])
    return best, values


def train_joint_policy(
    components: EnvComponents,
    env_config: EnvConfig,
    config: AgentConfig,
    seed: int,
    out: Path | None = None,
    members: Sequence[UserSimulator] | None = None,
    name: str = "pg-joint",
) -> PGTrained:
    """Train per-query fusion and re-ranking jointly (:mod:`fusionrank.agents.pgjoint`)
    over the components' pools, ``env_config.k`` candidates fused per query."""
    from fusionrank.agents.pgjoint import JointRerankPolicy, JointTrainer

    value = simulator_value(components, env_config, members)
    trainer = JointTrainer(
        components.pool,
        components.query_features.astype(np.float32),
        components.traffic.astype(np.float64),
        value,
        np.asarray(components.default_weights, dtype=np.float64),
        config.pgrank,
        config.network,
        env_config.k,
        seed,
    )
    result = trainer.train(seed)
    policy = JointRerankPolicy(
        trainer.fusion,
        trainer.scorer,
        name=name,
        modality_names=tuple(components.pool.modality_names),
        feature_names=tuple(components.candidates.feature_names),
        query_feature_dim=components.query_features.shape[1],
        config={"agent": "pg-joint", "pgrank": config.pgrank.model_dump(mode="json"), "seed": seed},
        metrics={
            "train_seconds": round(result.seconds, 2),
            "simulator_value": result.kept_value,
            "start_simulator_value": result.start_value,
            "history": result.history,
        },
    )
    if out is not None:
        policy.save(out)
    logger.info("%s: simulator value %.4f -> %.4f", name, result.start_value, result.kept_value)
    return PGTrained(policy, result, out)
