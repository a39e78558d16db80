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
    from fusionrank.datasets.sources import missing_input_message

    if not Path(catalog).is_file():
        raise ValueError(missing_input_message("catalog", catalog, own_data=True, run_name=""))
    if not Path(logs).is_file():
        raise ValueError(missing_input_message("logs", logs, own_data=True, run_name=""))
    return RunInputs(Path(catalog), Path(logs), own_data=True)


def page_width(logs: Path) -> int:
    """The most results a logged page shows (the longest ``item_ids`` list)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    lengths = pc.list_value_length(pq.read_table(logs, columns=["item_ids"])["item_ids"])
    return int(pc.max(lengths).as_py() or 0)


def check_inputs(inputs: RunInputs, limit: int = 20) -> None:
    """Validate the catalog and the logs against each other before any stage runs,
    collecting every error (up to ``limit`` per file).

    Raises:
        ValueError: Listing each file's errors (line or row, column, problem, fix) under
            the config field that names the file.
    """
    from fusionrank.datasets.validation import validate_files

    report = validate_files(inputs.catalog, inputs.logs, check_images=True, limit=limit)
    if report.valid:
        return
    lines = ["your data has errors; fix them (fusionrank data validate lists them too):"]
    for check, name in zip(report.files, ("data.catalog", "data.logs"), strict=True):
        if check.valid:
            continue
        lines.append(f"{name} = {check.file}: {check.n_errors} error(s)")
        lines += [f"  - {error.describe()}" for error in check.errors]
        if check.n_more:
            lines.append(f"  ... and {check.n_more} more")
    raise ValueError("\n".join(lines))


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
