"""The first stage of a run: its inputs, either the user's own catalog and logs or a
generated ShopWorld, recorded in the run manifest for every later stage."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.runs import RunFolder, RunInputs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorldResult:
    """What the world stage produced.

    Args:
        inputs: The catalog and logs the run is built on.
        figures: ShopWorld's summary (items, queries by intent, pages, sessions, CTR by
            rank, purchases per session, ...); empty for the user's own data.
    """

    inputs: RunInputs
    figures: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {**self.inputs.to_dict(), **self.figures}


def own_data_inputs(catalog: Path | None, logs: Path | None) -> RunInputs | None:
    """The user's files as run inputs, or None for ShopWorld (neither given).

    Raises:
        ValueError: If only one of the two is set, or a file does not exist; the message
            names the config field to set.
    """
    if catalog is None and logs is None:
        return None
    if catalog is None or logs is None:
        missing = "data.catalog" if catalog is None else "data.logs"
        raise ValueError(
            f"data: {missing} is not set; set both data.catalog and data.logs to run on "
            "your own files, or neither to run on ShopWorld"
        )
    for name, path in (("data.catalog", catalog), ("data.logs", logs)):
        if not Path(path).is_file():
            raise ValueError(f"{name}: {path} does not exist; set {name} to an existing file")
    return RunInputs(Path(catalog), Path(logs), own_data=True)


def check_inputs(inputs: RunInputs) -> None:
    """Validate the catalog and the logs against each other before any stage runs.

    Raises:
        ValueError: The loaders' message (file, row, column, problem, fix), prefixed with
            the config field that names the file.
    """
    from fusionrank.datasets import load_catalog, load_logs

    try:
        catalog = load_catalog(inputs.catalog, check_images=False)
    except ValueError as error:
        raise ValueError(f"data.catalog: {error}") from None
    try:
        load_logs(inputs.logs, catalog=catalog)
    except ValueError as error:
        raise ValueError(f"data.logs: {error}") from None


def prepare_world(
    run: RunFolder,
    config: ShopWorldConfig,
    seed: int,
    catalog: Path | None = None,
    logs: Path | None = None,
) -> WorldResult:
    """Record the user's own files as the run's inputs, or generate ShopWorld into
    ``run.world`` and record its files.

    Args:
        run: The run folder.
        config: ShopWorld's settings (unused for own data).
        seed: The root seed.
        catalog: The user's catalog (``data.catalog``), or None.
        logs: The user's logs (``data.logs``), or None.
    """
    own = own_data_inputs(catalog, logs)
    if own is not None:
        run.record_inputs(own)
        logger.info("own data: catalog %s, logs %s; no ShopWorld", own.catalog, own.logs)
        return WorldResult(own)
    from fusionrank.datasets.shopworld.world import generate_world

    summary = generate_world(config, seed, run.world.path)
    inputs = RunInputs(run.world.catalog, run.world.logs, own_data=False)
    run.record_inputs(inputs)
    return WorldResult(inputs, summary)


def world_outputs(run: RunFolder, inputs: RunInputs) -> list[Path]:
    """What the world stage writes: nothing for own data, else the world's files."""
    return [] if inputs.own_data else [run.world.data, run.world.truth]
