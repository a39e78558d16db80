"""``fusionrank demo``: the whole pipeline (:mod:`fusionrank.pipeline`), stage by stage."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from fusionrank.cli.console import console, print_table
from fusionrank.cli.options import ConfigOption, NameOption, SeedOption, SetOption, resolve_run
from fusionrank.pipeline import STAGES, resolve_inputs
from fusionrank.stages import Stage, StageContext, run_stages

# Small budgets for every stage; the world overrides apply only to ShopWorld.
QUICK_BUDGETS = [
    "retrieval.clip.steps=50",
    "retrieval.clip.warmup_steps=5",
    "agents.total_steps={fusion: 10000, rerank: 20000, session: 20000}",
    "agents.eval_every=10000",
    "agents.eval_pages=2048",
    "evaluation.n_sessions=4000",
]
QUICK_WORLD = [
    "world.n_items=600",
    "world.n_needs=60",
    "world.n_pages=5000",
    "world.image_size=48",
]
QUICK = [*QUICK_WORLD, *QUICK_BUDGETS]


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
    quick: Annotated[
        bool,
        typer.Option(
            help="Small training budgets for every stage (about a minute); on ShopWorld also "
            "a small world (600 items, 5,000 logged pages). Your own data is used as it is."
        ),
    ] = False,
    redo: Annotated[bool, typer.Option(help="Rerun every stage, even unchanged ones.")] = False,
) -> None:
    """Run the main job, stage by stage: on ShopWorld (the embedded default world), or on
    your own catalog and logs when the config sets data.catalog and data.logs."""
    extra = [*(QUICK if quick else []), *(overrides or [])]
    if quick and name is None and config is None:
        name = "shopworld-quick"
    resolved, run = resolve_run(config, extra, seed, name)
    inputs = resolve_inputs(run, resolved)
    run.save_config(resolved)
    started = time.perf_counter()

    def announce(number: int, stage: Stage) -> None:
        console.rule(f"[bold]{number}/{len(STAGES)} {stage.name}[/]: {stage.title}")

    runs = run_stages(StageContext(run, resolved, inputs), STAGES, redo=redo, announce=announce)
    rows = [[r.name, r.status, f"{r.record.seconds:.1f}"] for r in runs]
    print_table(f"fusionrank demo: {run.path}", ("stage", "status", "seconds"), rows, left=2)
    console.print(f"total {time.perf_counter() - started:.1f} s")
    console.print(f"report:       {run.report_html}")
    console.print(f"policies:     {run.policies.path}")
    console.print(f"TensorBoard:  tensorboard --logdir {run.tensorboard}")
    console.print(f"serve:        fusionrank serve --run {run.path}")
