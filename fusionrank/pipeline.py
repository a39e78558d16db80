"""The main job, ``fusionrank demo``: the whole pipeline, stage by stage.

Each stage calls one library function (the same one its own command calls) and the run
folder is the hand-off between them:

```
world       datasets.stages.prepare_world              fusionrank world generate
clip        retrieval.stages.train_run_clip            fusionrank clip train
index       retrieval.stages.build_run_index           fusionrank index build
            (+ evaluation.retrieval.judge_run_retrieval on ShopWorld)
simulator   simulator.stages.fit_run_simulator         fusionrank sim fit, sim report
            (+ report_run_simulator)
ensemble    simulator.stages.fit_run_companions        fusionrank sim companions
baselines   agents.baselines.stages.fit_run_baselines  fusionrank baselines fit
ppo-fusion  agents.stages.train_run_policy             fusionrank train --env fusion
ppo-rerank  agents.stages.train_run_policy             fusionrank train --env rerank
pg-joint    agents.stages.train_run_joint              fusionrank train --agent pg-joint
evaluate    evaluation.compare.compare_policies        fusionrank evaluate
report      summary.write_summary                      (part of demo)
```

Reuse is content-addressed (see :mod:`fusionrank.stages`): editing an input file in place,
or editing or deleting an output, re-runs exactly the stages it affects; ``--redo`` runs
everything again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionrank.config import RunConfig
from fusionrank.runs import RunFolder, RunInputs
from fusionrank.stages import Paths, Stage, StageContext, StageResult


# ------------------------------------------------------------------------ the stages
def _catalog_files(ctx: StageContext) -> list[Path]:
    """The catalog file and its image files (what the retrieval stages read)."""
    from fusionrank.datasets import load_catalog

    catalog = load_catalog(ctx.inputs.catalog, check_images=False)
    return [ctx.inputs.catalog, *(catalog.image_paths() if catalog.has_images else [])]


def _logs(ctx: StageContext) -> list[Path]:
    return [ctx.inputs.logs]


def _world(ctx: StageContext) -> StageResult:
    from fusionrank.datasets.stages import prepare_world

    data = ctx.config.data
    return prepare_world(ctx.run, ctx.config.world, ctx.config.seed, data.catalog, data.logs)


def _world_outputs(ctx: StageContext) -> list[Path]:
    from fusionrank.datasets.stages import world_outputs

    return world_outputs(ctx.run, ctx.inputs)


def _clip(ctx: StageContext) -> StageResult:
    from fusionrank.retrieval.stages import train_run_clip

    return train_run_clip(ctx.run, ctx.config.retrieval, ctx.config.seed)


def _clip_outputs(ctx: StageContext) -> list[Path]:
    from fusionrank.retrieval.stages import clip_outputs, load_run_catalog

    catalog = load_run_catalog(ctx.run, check_images=False)
    return clip_outputs(ctx.run, ctx.config.retrieval, catalog)


@dataclass(frozen=True)
class _IndexStage:
    """The index stage's result: the retriever, and on ShopWorld its judgement."""

    index: StageResult
    judged: StageResult | None

    def summary(self) -> dict[str, Any]:
        judged = {} if self.judged is None else dict(self.judged.summary())
        return {**self.index.summary(), **judged}


def _index(ctx: StageContext) -> StageResult:
    from fusionrank.retrieval.stages import build_run_index

    index = build_run_index(ctx.run, ctx.config.retrieval)
    if not ctx.run.world.has_truth:
        return _IndexStage(index, None)
    from fusionrank.evaluation.retrieval import judge_run_retrieval

    trained = ctx.run.retrieval.clip_model.is_file()
    judged = judge_run_retrieval(
        ctx.run, ctx.config.retrieval, ctx.config.seed, grid_step=0.1, random_clip=trained
    )
    return _IndexStage(index, judged)


def _index_outputs(ctx: StageContext) -> list[Path]:
    retrieval = ctx.run.retrieval
    return [retrieval.index, *([retrieval.metrics] if ctx.run.world.has_truth else [])]


@dataclass(frozen=True)
class _SimulatorStage:
    fit: StageResult
    report: StageResult

    def summary(self) -> dict[str, Any]:
        return {**self.fit.summary(), **self.report.summary()}


def _simulator(ctx: StageContext) -> StageResult:
    from fusionrank.simulator.stages import fit_run_simulator, report_run_simulator

    fit = fit_run_simulator(ctx.run, ctx.config.simulator)
    report = report_run_simulator(ctx.run, ctx.config.simulator, ctx.config.seed)
    return _SimulatorStage(fit, report)


def _simulator_outputs(ctx: StageContext) -> list[Path]:
    simulator = ctx.run.simulator
    return [simulator.model, simulator.fit, simulator.report]


def _companions(ctx: StageContext) -> StageResult:
    from fusionrank.simulator.stages import fit_run_companions

    return fit_run_companions(ctx.run, ctx.config.simulator, ctx.config.seed)


def _companion_outputs(ctx: StageContext) -> list[Path]:
    simulator, config = ctx.run.simulator, ctx.config.simulator
    return [
        *([simulator.validation] if config.validation else []),
        *([simulator.ensemble] if config.ensemble_members > 1 else []),
    ]


def _baselines(ctx: StageContext) -> StageResult:
    from fusionrank.agents.baselines.stages import fit_run_baselines

    config = ctx.config
    return fit_run_baselines(ctx.run, config.baselines, config.retrieval, config.seed)


def _baseline_outputs(ctx: StageContext) -> list[Path]:
    from fusionrank.agents.baselines.stages import baseline_outputs

    return baseline_outputs(ctx.run)


@dataclass(frozen=True)
class _Trained:
    result: Any

    def summary(self) -> dict[str, Any]:
        final = self.result.history[-1] if self.result.history else {}
        return {
            "policy": str(self.result.folder),
            "version": self.result.policy.version,
            "steps": self.result.steps,
            "held_out_mean_reward": final.get("mean_reward"),
            "default_order_mean_reward": self.result.default_eval.get("mean_reward"),
        }


def _ppo(kind: str) -> tuple[Callable[[StageContext], StageResult], Paths]:
    def train(ctx: StageContext) -> StageResult:
        from fusionrank.agents.stages import train_run_policy

        config = ctx.config
        return _Trained(train_run_policy(ctx.run, config.agents, config.envs, config.seed, kind))

    def outputs(ctx: StageContext) -> list[Path]:
        from fusionrank.agents.stages import policy_outputs

        return policy_outputs(ctx.run, kind)

    return train, outputs


@dataclass(frozen=True)
class _PGTrained:
    result: Any

    def summary(self) -> dict[str, Any]:
        trained = self.result
        return {
            "policy": str(trained.folder),
            "version": trained.policy.version,
            "simulator value": round(trained.result.kept_value, 4),
            "default order's value": round(trained.result.start_value, 4),
            "seconds": round(trained.result.seconds, 1),
        }


def _pg_joint(ctx: StageContext) -> StageResult:
    from fusionrank.agents.stages import train_run_joint

    config = ctx.config
    return _PGTrained(train_run_joint(ctx.run, config.agents, config.envs, config.seed))


def _pg_joint_outputs(ctx: StageContext) -> list[Path]:
    from fusionrank.agents.stages import JOINT_POLICY

    return [ctx.run.policies.of(JOINT_POLICY)]


@dataclass(frozen=True)
class _Compared:
    report: Path

    def summary(self) -> dict[str, Any]:
        return {"report": str(self.report)}


def _evaluate(ctx: StageContext) -> StageResult:
    from fusionrank.evaluation.compare import compare_policies

    config = ctx.config
    result = compare_policies(ctx.run, None, None, config.seed, config=config.evaluation)
    assert result.report is not None
    return _Compared(result.report)


def _evaluate_outputs(ctx: StageContext) -> list[Path]:
    return [ctx.run.evaluation.compare_json, ctx.run.evaluation.compare_html]


def _report(ctx: StageContext) -> StageResult:
    from fusionrank.summary import write_summary

    return _Compared(write_summary(ctx.run, [s.name for s in STAGES]))


_ppo_fusion, _ppo_fusion_outputs = _ppo("fusion")
_ppo_rerank, _ppo_rerank_outputs = _ppo("rerank")
_POLICY_STAGES = ("baselines", "ppo-fusion", "ppo-rerank", "pg-joint")

STAGES: tuple[Stage, ...] = (
    Stage(
        "world",
        "generate ShopWorld, or record your own catalog and logs",
        ("world", "data"),
        _world,
        lambda ctx: [ctx.inputs.catalog, ctx.inputs.logs] if ctx.inputs.own_data else [],
        (),
        _world_outputs,
    ),
    Stage(
        "clip",
        "train the open_clip image model (skipped without images)",
        ("retrieval",),
        _clip,
        _catalog_files,
        ("world",),
        _clip_outputs,
    ),
    Stage(
        "index",
        "encode the catalog, build the FAISS indexes (ShopWorld: judge retrieval)",
        ("retrieval",),
        _index,
        _catalog_files,
        ("world", "clip"),
        _index_outputs,
    ),
    Stage(
        "simulator",
        "fit the user simulator, write its fidelity report",
        ("simulator",),
        _simulator,
        _logs,
        ("world", "index"),
        _simulator_outputs,
    ),
    Stage(
        "ensemble",
        "fit the simulator's companions: one on the held-out logs, a bootstrap ensemble",
        ("simulator",),
        _companions,
        _logs,
        ("world", "index", "simulator"),
        _companion_outputs,
    ),
    Stage(
        "baselines",
        "fit the baselines: default order, logging, static fusion, two LambdaMARTs",
        ("baselines",),
        _baselines,
        _logs,
        ("index", "simulator"),
        _baseline_outputs,
    ),
    Stage(
        "ppo-fusion",
        "train PPO for per-query fusion weights in the fitted simulator",
        ("envs", "agents"),
        _ppo_fusion,
        _logs,
        ("index", "simulator"),
        _ppo_fusion_outputs,
    ),
    Stage(
        "ppo-rerank",
        "train PPO to re-rank the candidates in the fitted simulator",
        ("envs", "agents"),
        _ppo_rerank,
        _logs,
        ("index", "simulator"),
        _ppo_rerank_outputs,
    ),
    Stage(
        "pg-joint",
        "learn per-query fusion and re-ranking jointly (Plackett-Luce, exact rewards)",
        ("envs", "agents"),
        _pg_joint,
        _logs,
        ("index", "simulator"),
        _pg_joint_outputs,
    ),
    Stage(
        "evaluate",
        "simulated A/B of every policy (fitted simulator; ShopWorld: hidden users too)",
        ("evaluation",),
        _evaluate,
        _logs,
        ("world", "index", "simulator", "ensemble", *_POLICY_STAGES),
        _evaluate_outputs,
    ),
    Stage(
        "report",
        "write the run's report",
        (),
        _report,
        lambda ctx: [],
        ("world", "index", "simulator", "ensemble", *_POLICY_STAGES, "evaluate"),
        lambda ctx: [ctx.run.report_html],
    ),
)


def resolve_inputs(run: RunFolder, config: RunConfig) -> RunInputs:
    """The run's inputs before any stage runs: the user's own files, checked against each
    other (``data.catalog``, ``data.logs``), or the ShopWorld files the world stage
    will write.

    Raises:
        ValueError: If only one of the two is set, a file is missing or invalid; the
            message names the config field.
    """
    from fusionrank.datasets.stages import check_inputs, own_data_inputs

    own = own_data_inputs(config.data.catalog, config.data.logs)
    if own is None:
        return RunInputs(run.world.catalog, run.world.logs, own_data=False)
    check_inputs(own)
    return own
