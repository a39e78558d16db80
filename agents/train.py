"""Train a PPO agent in a fitted-simulator env and save it as a policy.

``train_ppo`` = build the SB3 model over the batched env -> fit the networks' input
standardisation on a few pages -> learn (TensorBoard, simulator metrics, held-out
evaluation against the default fused order, checkpoints, progress bar) -> wrap the
actor as a :class:`~fusionrank.agents.policy.Policy` and save it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from fusionrank import progress
from fusionrank.agents.callbacks import EvalCallback, ProgressCallback, SimMetricsCallback
from fusionrank.agents.config import AgentConfig
from fusionrank.agents.policy import Policy
from fusionrank.agents.ppo import (
    FusionActorCritic,
    PPOFusionPolicy,
    PPORerankPolicy,
    RerankActorCritic,
)
from fusionrank.envs.layout import RerankLayout

if TYPE_CHECKING:
    from fusionrank.envs.components import EnvComponents
    from fusionrank.envs.config import EnvConfig

logger = logging.getLogger(__name__)

FUSED_SCORE = "fused_score"


@dataclass(frozen=True, eq=False)
class AgentEnvs:
    """What training needs from the envs package.

    Args:
        kind: ``fusion`` (query-feature observation, M actions) or ``rerank`` / ``session``
            (flat candidate observation, K score actions).
        train: The batched training env.
        evaluation: A held-out env of the same kind (different seed).
        layout: The flat observation's layout (``k = 0`` for fusion).
        modality_names: M names.
        feature_names: F names (``fused_score`` among them for the default order).
        fusion_scale: The fusion env's ``w = softmax(fusion_scale * clip(a, -1, 1))``.
        default_weights: float, shape (M,): the retriever's default fusion weights.
        context_dim: Session context columns at the end of the query features.
    """

    kind: str
    train: VecEnv
    evaluation: VecEnv
    layout: RerankLayout
    modality_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    fusion_scale: float = 1.0
    default_weights: np.ndarray | None = None
    context_dim: int = 0


@dataclass
class TrainResult:
    """A finished training run.

    Args:
        policy: The saved policy.
        folder: Where it was saved.
        seconds: Wall time of ``learn``.
        steps: Env steps taken.
        default_eval: The default order's held-out figures.
        history: Held-out figures per evaluation, the last after training.
    """

    policy: Policy
    folder: Path
    seconds: float
    steps: int
    default_eval: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)


def build_model(
    envs: AgentEnvs, config: AgentConfig, seed: int, tensorboard: Path | None
) -> tuple[PPO, VecEnv]:
    """The PPO model over ``envs.train`` (reward-normalised when configured)."""
    venv: VecEnv = envs.train
    if config.normalize_reward:
        venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=config.gamma)
    net = config.network
    if envs.kind == "fusion":
        policy_class: Any = FusionActorCritic
        kwargs: dict[str, Any] = {"hidden": net.fusion_hidden}
    else:
        policy_class = RerankActorCritic
        layout = envs.layout
        kwargs = {
            "layout": (layout.k, layout.n_features, layout.query_dim),
            "hidden": net.hidden,
            "attention_heads": net.attention_heads,
            "prior_feature": (
                envs.feature_names.index(FUSED_SCORE)
                if net.start_from_default and FUSED_SCORE in envs.feature_names
                else None
            ),
        }
    kwargs["log_std_init"] = net.log_std_init
    model = PPO(
        policy_class,
        venv,
        learning_rate=config.learning_rate,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        policy_kwargs=kwargs,
        tensorboard_log=None if tensorboard is None else str(tensorboard),
        seed=seed,
        device="cpu",
        verbose=0,
    )
    return model, venv


def fit_input_statistics(model: PPO, envs: AgentEnvs, seed: int, n_pages: int = 4096) -> None:
    """Set the networks' standardisation from pages of the held-out env (default order)."""
    obs = _sample_obs(envs.evaluation, default_order(envs), n_pages, seed)
    policy = model.policy
    if isinstance(policy, FusionActorCritic):
        policy.net.query_norm.fit(obs)
        return
    assert isinstance(policy, RerankActorCritic)
    features, mask, qf = policy.layout.split(torch.from_numpy(obs))
    policy.scorer.item_norm.fit(features[mask].numpy())
    if policy.layout.query_dim:
        policy.scorer.query_norm.fit(qf.numpy())


def _sample_obs(
    venv: VecEnv, predict: Callable[[np.ndarray], np.ndarray], n: int, seed: int
) -> np.ndarray:
    venv.seed(seed)
    obs = np.asarray(venv.reset())
    seen = [obs]
    while sum(len(o) for o in seen) < n:
        step = venv.step(predict(obs))
        obs = np.asarray(step[0])
        seen.append(obs)
    return np.concatenate(seen).astype(np.float32)


def default_order(envs: AgentEnvs) -> Callable[[np.ndarray], np.ndarray]:
    """The default policy as env actions: the retriever's default weights (fusion,
    ``a = 1 + (log w - log max w) / fusion_scale``, clipped to [-1, 1]), or scores that
    keep the fused order (re-rank): ``a_i = 1 - 2 rank_i / (K - 1)`` by fused score."""
    if envs.kind == "fusion":
        assert envs.default_weights is not None, "the fusion env must give default weights"
        w = np.maximum(np.asarray(envs.default_weights, dtype=np.float64), 1e-12)
        action = np.clip(1 + (np.log(w) - np.log(w.max())) / envs.fusion_scale, -1, 1)
        return lambda obs: np.broadcast_to(action, (len(obs), w.size)).astype(np.float32)
    layout = envs.layout
    column = envs.feature_names.index(FUSED_SCORE)

    def predict(obs: np.ndarray) -> np.ndarray:
        features, mask, _ = layout.split(torch.from_numpy(np.asarray(obs, dtype=np.float32)))
        fused = np.where(mask.numpy(), features[..., column].numpy(), -np.inf)
        ranks = np.argsort(np.argsort(-fused, axis=1, kind="stable"), axis=1)
        return (1.0 - 2.0 * ranks / max(layout.k - 1, 1)).astype(np.float32)

    return predict


def to_policy(model: PPO, envs: AgentEnvs, config: dict[str, Any], metrics: dict) -> Policy:
    """Wrap the trained actor as a deterministic policy."""
    common: dict[str, Any] = {
        "name": f"ppo-{envs.kind}",
        "modality_names": envs.modality_names,
        "feature_names": envs.feature_names,
        "query_feature_dim": envs.layout.query_dim,
        "config": config,
        "metrics": metrics,
        "default_fusion_weights": envs.default_weights,
    }
    policy = model.policy
    if isinstance(policy, FusionActorCritic):
        return PPOFusionPolicy(policy.net, envs.fusion_scale, **common)
    assert isinstance(policy, RerankActorCritic)
    common["config"] = {**config, "context_dim": envs.context_dim}
    return PPORerankPolicy(policy.scorer, **common)


def train_ppo(
    envs: AgentEnvs,
    config: AgentConfig,
    seed: int,
    out: Path,
    total_steps: int | None = None,
    tensorboard: Path | None = None,
    checkpoints: Path | None = None,
) -> TrainResult:
    """Train PPO in ``envs`` and save the policy to ``out``.

    Args:
        envs: The envs (see :class:`AgentEnvs`).
        config: PPO settings.
        seed: The agent's integer seed.
        out: The policy folder, e.g. ``runs/<name>/policies/ppo-rerank``.
        total_steps: Env steps (default ``config.steps_for(envs.kind)``).
        tensorboard: TensorBoard log folder, or None.
        checkpoints: Folder for periodic SB3 checkpoints, or None.
    """
    torch.set_num_threads(config.torch_threads)
    steps = total_steps or config.steps_for(envs.kind)
    model, venv = build_model(envs, config, seed, tensorboard)
    fit_input_statistics(model, envs, seed + 1)
    evaluator = EvalCallback(
        envs.evaluation, default_order(envs), config.eval_every, config.eval_pages, seed + 2
    )
    callbacks: list[Any] = [SimMetricsCallback(), evaluator]
    if checkpoints is not None:
        every = max(config.checkpoint_every // venv.num_envs, 1)
        callbacks.append(CheckpointCallback(every, str(checkpoints), f"ppo-{envs.kind}"))
    start = time.perf_counter()
    with progress.task(f"train ppo-{envs.kind}", steps) as advance:
        model.learn(
            steps,
            callback=CallbackList([*callbacks, ProgressCallback(advance)]),
            tb_log_name=f"ppo-{envs.kind}",
        )
    seconds = time.perf_counter() - start
    final = evaluator.evaluate()
    metrics = {
        "train_seconds": round(seconds, 2),
        "timesteps": int(model.num_timesteps),
        "eval_mean_reward": final["mean_reward"],
        "default_order_mean_reward": evaluator.baseline["mean_reward"],
    }
    policy = to_policy(model, envs, {"env": envs.kind, "agent": config.model_dump()}, metrics)
    policy.save(out)
    logger.info(
        "ppo-%s: %d steps in %.1f s; held-out reward %.4f vs default order %.4f",
        envs.kind,
        model.num_timesteps,
        seconds,
        final["mean_reward"],
        evaluator.baseline["mean_reward"],
    )
    return TrainResult(
        policy, out, seconds, int(model.num_timesteps), evaluator.baseline, evaluator.history
    )


def agent_envs(
    components: EnvComponents, env_config: EnvConfig, kind: str, n_envs: int, seed: int
) -> AgentEnvs:
    """Training and held-out envs of ``kind`` over prepared components.

    Args:
        components: From :meth:`fusionrank.envs.components.EnvComponents.build`.
        env_config: The ``envs`` config (reward, K, pages, ...).
        kind: ``fusion``, ``rerank`` or ``session``.
        n_envs: Envs stepped together in training.
        seed: The env stream's integer seed (the held-out env uses ``seed + 1``).
    """
    from fusionrank.envs.factory import make_env
    from fusionrank.envs.session import N_CONTEXT

    if kind not in ("fusion", "rerank", "session"):
        raise ValueError(f"unknown env {kind!r}; use fusion, rerank or session")
    train = make_env(components, env_config, kind, n_envs, seed)  # type: ignore[arg-type]
    held_out = make_env(components, env_config, kind, n_envs, seed + 1)  # type: ignore[arg-type]
    candidates = components.candidates
    return AgentEnvs(
        kind=kind,
        train=train,
        evaluation=held_out,
        layout=train.core.layout,
        modality_names=tuple(candidates.modality_names),
        feature_names=tuple(candidates.feature_names),
        fusion_scale=env_config.fusion_scale,
        default_weights=components.default_weights,
        context_dim=N_CONTEXT if kind == "session" else 0,
    )
