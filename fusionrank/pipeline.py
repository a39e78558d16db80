"""The main job, ``fusionrank demo``: the whole pipeline on ShopWorld, stage by stage.

Each stage writes into the run folder and is skipped on a rerun when its output exists
for the same configuration (``--redo`` runs it again).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Annotated, Any

import typer

from fusionrank.cli import ConfigOption, NameOption, SeedOption, SetOption, run_config
from fusionrank.config import RunConfig
from fusionrank.io import read_json
from fusionrank.runs import RunFolder

logger = logging.getLogger(__name__)

QUICK = [
    "world.n_items=600",
    "world.n_needs=60",
    "world.n_pages=5000",
    "world.image_size=48",
]


def fingerprint(section: Any, seed: int) -> str:
    """A short hash of a config section and the seed, to know when a stage must rerun."""
    text = json.dumps({"seed": seed, "section": section.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def world_stage(config: RunConfig, run: RunFolder, redo: bool) -> dict[str, Any]:
    """Generate the world unless the run folder already has it for this config."""
    from fusionrank.datasets.shopworld.world import generate_world

    key = fingerprint(config.world, config.seed)
    summary_path = run.world_dir / "summary.json"
    if not redo and summary_path.is_file():
        summary = read_json(summary_path)
        if summary.get("fingerprint") == key:
            logger.info("world: reusing %s (same config and seed)", run.world_dir)
            return summary
    summary = generate_world(config.world, config.seed, run.world_dir, fingerprint=key)
    return summary


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
    """Run the main job on the embedded default world (ShopWorld)."""
    from fusionrank.datasets.cli import print_summary

    extra = [*(QUICK if quick else []), *(overrides or [])]
    if quick and name is None:
        name = "shopworld-quick"
    resolved = run_config(config, extra, seed, name)
    run = RunFolder.for_config(resolved)
    run.save_config(resolved)
    summary = world_stage(resolved, run, redo)
    print_summary(f"ShopWorld in {run.world_dir}", summary)
