"""The main job, ``fusionrank demo``: the whole pipeline on ShopWorld, stage by stage.

Every stage is also its own command, and the run folder is the hand-off between them:

```
world       fusionrank world generate    runs/<name>/world/
clip        fusionrank clip train        runs/<name>/retrieval/clip/
index       fusionrank index build       runs/<name>/retrieval/
simulator   fusionrank sim fit + report  runs/<name>/simulator/
baselines   fusionrank baselines fit     runs/<name>/policies/{default-order,logging,...}/
ppo-fusion  fusionrank train --env fusion  runs/<name>/policies/ppo-fusion/
ppo-rerank  fusionrank train --env rerank  runs/<name>/policies/ppo-rerank/
evaluate    fusionrank evaluate          runs/<name>/evaluation/compare.html
report      (this module)                runs/<name>/report.html
```

A stage that finished records its fingerprint (a hash of the config sections it reads, the
seed and the fingerprint of the stage before it) in ``runs/<name>/stages/<stage>.json``;
a rerun with the same fingerprint reuses it, ``--redo`` runs everything again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from fusionrank.cli import ConfigOption, NameOption, SeedOption, SetOption, console, run_config
from fusionrank.config import RunConfig
from fusionrank.io import read_json, write_json
from fusionrank.runs import RunFolder

logger = logging.getLogger(__name__)

QUICK = [
    "world.n_items=600",
    "world.n_needs=60",
    "world.n_pages=5000",
    "world.image_size=48",
    "retrieval.clip.steps=50",
    "retrieval.clip.warmup_steps=5",
    "agents.total_steps={fusion: 10000, rerank: 20000, session: 20000}",
    "agents.eval_every=10000",
    "agents.eval_pages=2048",
    "evaluation.n_sessions=4000",
]


def fingerprint(section: Any, seed: int) -> str:
    """A short hash of a config section and the seed, to know when a stage must rerun."""
    text = json.dumps({"seed": seed, "section": section.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Invocation:
    """How the demo was called: each stage command gets the same options."""

    config_path: Path | None
    overrides: list[str]
    seed: int | None
    name: str | None
    resolved: RunConfig

    @property
    def run(self) -> RunFolder:
        return RunFolder.for_config(self.resolved)

    def options(self) -> dict[str, Any]:
        return {
            "config": self.config_path,
            "overrides": self.overrides,
            "seed": self.seed,
            "name": self.name,
        }


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    Args:
        name: Short name, also the marker file's name.
        title: What the stage does, for the progress display.
        sections: Config sections the stage reads; a change in any reruns it and the rest.
        run: Does the work; returns a summary for the marker and the final table.
        outputs: Paths that must exist for a finished stage to be reused.
    """

    name: str
    title: str
    sections: tuple[str, ...]
    run: Callable[[Invocation], dict[str, Any]]
    outputs: Callable[[RunFolder, RunConfig], list[Path]]


def own_data(config: RunConfig) -> bool:
    """True when the config points at the user's own catalog and logs (no ShopWorld)."""
    return config.data.catalog is not None and config.data.logs is not None


def _world(call: Invocation) -> dict[str, Any]:
    data = call.resolved.data
    if own_data(call.resolved):
        console.print(f"your own data: catalog {data.catalog}, logs {data.logs}; no ShopWorld")
        return {"catalog": str(data.catalog), "logs": str(data.logs)}
    if data.catalog is not None or data.logs is not None:
        raise ValueError(
            "data: set both data.catalog and data.logs to run on your own files, or neither "
            "to run on ShopWorld"
        )
    from fusionrank.datasets.shopworld.world import generate_world

    config = call.resolved
    key = fingerprint(config.world, config.seed)
    summary = generate_world(config.world, config.seed, call.run.world_dir, fingerprint=key)
    keys = ("n_items", "n_queries", "n_pages", "n_sessions", "purchases_per_session")
    return {k: summary[k] for k in keys if k in summary}


def _clip(call: Invocation) -> dict[str, Any]:
    from fusionrank.retrieval.cli import clip_train, run_catalog

    settings = call.resolved.retrieval
    reason = None
    if not settings.image:
        reason = "retrieval.image is false"
    elif settings.clip.pretrained is not None:
        reason = f"using your checkpoint {settings.clip.pretrained}"
    elif not run_catalog(call.resolved).has_images:
        reason = "the catalog has no image_path column: text and lexical retrieval only"
    if reason is not None:
        console.print(f"skipped: {reason}")
        return {"skipped": reason}
    clip_train(**call.options())
    return {"checkpoint": str(call.run.path / "retrieval" / "clip" / "model.pt")}


def _index(call: Invocation) -> dict[str, Any]:
    from fusionrank.retrieval.cli import index_build, retrieval_eval

    index_build(**call.options())
    if not own_data(call.resolved):  # ShopWorld knows the true relevance: judge retrieval
        trained = (call.run.path / "retrieval" / "clip" / "model.pt").is_file()
        retrieval_eval(**call.options(), grid_step=0.1, random_clip=trained)
    return {"folder": str(call.run.path / "retrieval")}


def _simulator(call: Invocation) -> dict[str, Any]:
    from fusionrank.simulator.cli import fit, report

    fit(**call.options())
    report(**call.options())
    fitted = read_json(call.run.path / "simulator" / "fit.json")
    return {
        "click_model": fitted["click_model"],
        "report": str(call.run.path / "simulator" / "report" / "report.html"),
    }


def _baselines(call: Invocation) -> dict[str, Any]:
    from fusionrank.agents.baselines.cli import fit

    fit(**call.options())
    return {"policies": str(call.run.path / "policies")}


def _ppo(env: Literal["fusion", "rerank"]) -> Callable[[Invocation], dict[str, Any]]:
    def train_stage(call: Invocation) -> dict[str, Any]:
        from fusionrank.agents.cli import train

        train(**call.options(), env=env)
        return {"policy": str(call.run.path / "policies" / f"ppo-{env}")}

    return train_stage


def _evaluate(call: Invocation) -> dict[str, Any]:
    from fusionrank.evaluation.cli import evaluate

    evaluate(**call.options())
    return {"report": str(call.run.path / "evaluation" / "compare.html")}


def _report(call: Invocation) -> dict[str, Any]:
    from fusionrank.summary import write_summary

    path = write_summary(call.run, [s.name for s in STAGES])
    return {"report": str(path)}


def _world_outputs(run: RunFolder, config: RunConfig) -> list[Path]:
    return [] if own_data(config) else [run.data_dir, run.truth_dir]


STAGES: tuple[Stage, ...] = (
    Stage(
        "world",
        "generate ShopWorld (skipped for your own data)",
        ("world", "data"),
        _world,
        _world_outputs,
    ),
    Stage(
        "clip",
        "train the open_clip image model",
        ("data", "retrieval"),
        _clip,
        lambda r, c: [],
    ),
    Stage(
        "index",
        "encode the catalog, build the FAISS indexes, judge retrieval",
        ("data", "retrieval"),
        _index,
        lambda r, c: [r.path / "retrieval"],
    ),
    Stage(
        "simulator",
        "fit the user simulator, write its fidelity report",
        ("data", "simulator"),
        _simulator,
        lambda r, c: [r.path / "simulator" / "model", r.path / "simulator" / "report"],
    ),
    Stage(
        "baselines",
        "fit the baselines: default order, logging, static fusion, LambdaMART",
        ("baselines",),
        _baselines,
        lambda r, c: [r.path / "policies" / "lambdamart", r.path / "policies" / "static-fusion"],
    ),
    Stage(
        "ppo-fusion",
        "train PPO for per-query fusion weights in the fitted simulator",
        ("envs", "agents"),
        _ppo("fusion"),
        lambda r, c: [r.path / "policies" / "ppo-fusion"],
    ),
    Stage(
        "ppo-rerank",
        "train PPO to re-rank the candidates in the fitted simulator",
        ("envs", "agents"),
        _ppo("rerank"),
        lambda r, c: [r.path / "policies" / "ppo-rerank"],
    ),
    Stage(
        "evaluate",
        "simulated A/B of every policy, on the fitted simulator and the hidden users",
        ("evaluation",),
        _evaluate,
        lambda r, c: [r.path / "evaluation" / "compare.json"],
    ),
    Stage("report", "write the run's report", (), _report, lambda r, c: [r.path / "report.html"]),
)


def stage_key(stage: Stage, config: RunConfig, previous: str) -> str:
    """The stage's fingerprint: its config sections, the seed and the stage before it."""
    sections = {name: getattr(config, name).model_dump(mode="json") for name in stage.sections}
    text = json.dumps(
        {"seed": config.seed, "previous": previous, "sections": sections}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_stages(
    call: Invocation, stages: tuple[Stage, ...] = STAGES, redo: bool = False
) -> list[dict[str, Any]]:
    """Run (or reuse) each stage in order; returns one record per stage."""
    run = call.run
    records: list[dict[str, Any]] = []
    previous = ""
    for number, stage in enumerate(stages, start=1):
        key = stage_key(stage, call.resolved, previous)
        marker = run.path / "stages" / f"{stage.name}.json"
        done = read_json(marker) if marker.is_file() else None
        reusable = (
            not redo
            and done is not None
            and done.get("fingerprint") == key
            and all(p.exists() for p in stage.outputs(run, call.resolved))
        )
        console.rule(f"[bold]{number}/{len(stages)} {stage.name}[/]: {stage.title}")
        if reusable and done is not None:
            console.print(f"reused (finished before in {done['seconds']:.1f} s; --redo reruns)")
            record = {**done, "status": "reused"}
        else:
            marker.unlink(missing_ok=True)
            started = time.perf_counter()
            summary = stage.run(call)
            seconds = time.perf_counter() - started
            record = {"stage": stage.name, "fingerprint": key, "seconds": seconds}
            record["summary"] = summary
            write_json(marker, record)
            record = {**record, "status": "ran"}
        records.append(record)
        previous = key
    return records


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
    quick: Annotated[bool, typer.Option(help="A small world that runs in about a minute.")] = False,
    redo: Annotated[bool, typer.Option(help="Rerun stages whose output exists.")] = False,
) -> None:
    """Run the main job on the embedded default world (ShopWorld), stage by stage."""
    from rich.table import Table

    extra = [*(QUICK if quick else []), *(overrides or [])]
    if quick and name is None and config is None:
        name = "shopworld-quick"
    resolved = run_config(config, extra, seed, name)
    call = Invocation(config, extra, seed, name, resolved)
    call.run.save_config(resolved)
    started = time.perf_counter()
    records = run_stages(call, redo=redo)
    table = Table(title=f"fusionrank demo: {call.run.path}")
    for column in ("stage", "status", "seconds"):
        table.add_column(column)
    for record in records:
        table.add_row(record["stage"], record["status"], f"{record['seconds']:.1f}")
    console.print(table)
    console.print(f"total {time.perf_counter() - started:.1f} s")
    path = call.run.path
    console.print(f"report:       {path / 'report.html'}")
    console.print(f"policies:     {path / 'policies'}")
    console.print(f"TensorBoard:  tensorboard --logdir {path / 'tensorboard'}")
    console.print(f"serve:        fusionrank serve --run {path}")
