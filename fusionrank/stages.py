"""Stages and their content-addressed reuse: the machinery under :mod:`fusionrank.pipeline`.

A stage's fingerprint hashes the config sections it reads, the seed, the content of the
input files it reads and the content of what the stages it depends on wrote. A finished
stage is reused while its fingerprint matches and its own outputs are intact (checked
against the hashes in the run manifest, :mod:`fusionrank.manifest`), so editing an input
file in place, or editing or deleting an output, re-runs exactly the stages it affects.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fusionrank.config import RunConfig
from fusionrank.manifest import StageRecord, content_hash, hashes
from fusionrank.runs import RunFolder, RunInputs

logger = logging.getLogger(__name__)


class StageResult(Protocol):
    def summary(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class StageContext:
    """What every stage gets: the run, its resolved config and its inputs."""

    run: RunFolder
    config: RunConfig
    inputs: RunInputs


Paths = Callable[[StageContext], list[Path]]


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    Args:
        name: Short name (the manifest's key).
        title: What the stage does, for the progress display.
        sections: Config sections the stage reads.
        run: Does the work through a library stage function; returns its typed result.
        reads: Input files the stage reads (content-hashed into its fingerprint).
        after: Earlier stages whose outputs it reads (their content is hashed in too).
        outputs: What it writes; a finished stage is reused only while these are intact.
    """

    name: str
    title: str
    sections: tuple[str, ...]
    run: Callable[[StageContext], StageResult]
    reads: Paths
    after: tuple[str, ...]
    outputs: Paths


@dataclass(frozen=True)
class StageRun:
    """One stage of a pipeline run: ``ran`` or ``reused``, and its manifest record."""

    name: str
    status: str
    record: StageRecord


def stage_fingerprint(
    stage: Stage, ctx: StageContext, upstream: Mapping[str, StageRecord]
) -> tuple[str, dict[str, str | None]]:
    """The stage's fingerprint and the content hashes of the files it reads."""
    read = hashes(stage.reads(ctx))
    sections = {name: getattr(ctx.config, name).model_dump(mode="json") for name in stage.sections}
    text = json.dumps(
        {
            "seed": ctx.config.seed,
            "sections": sections,
            "read": sorted(read.values(), key=str),
            "after": {name: dict(upstream[name].wrote) for name in stage.after},
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16], read


def output_hash(path: Path) -> str | None:
    """The content hash of a stage's output; for a policy folder, of what decides its
    scores (its files and ``policy.json`` without the training figures), so that a
    retraining to the same weights counts as the same output."""
    meta_path = path / "policy.json"
    if not meta_path.is_file():
        return content_hash(path)
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(meta, dict):
        return None
    decides = {k: v for k, v in meta.items() if k not in ("metrics", "version")}
    digest = hashlib.sha256(json.dumps(decides, sort_keys=True).encode())
    for item in sorted(p for p in path.rglob("*") if p.is_file() and p != meta_path):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update((content_hash(item) or "").encode())
    return digest.hexdigest()


def run_stages(
    ctx: StageContext,
    stages: Sequence[Stage],
    redo: bool = False,
    announce: Callable[[int, Stage], None] | None = None,
) -> list[StageRun]:
    """Run (or reuse) each stage in order; returns one :class:`StageRun` per stage."""
    manifest = ctx.run.manifest
    done: dict[str, StageRecord] = {}
    runs: list[StageRun] = []
    for number, stage in enumerate(stages, start=1):
        if announce is not None:
            announce(number, stage)
        key, read = stage_fingerprint(stage, ctx, done)
        record = None if redo else manifest.is_current(stage.name, key, output_hash)
        status = "reused"
        if record is not None:
            logger.info(
                "%s: reused (finished before in %.1f s; --redo reruns)", stage.name, record.seconds
            )
        else:
            manifest.forget(stage.name)
            started = time.perf_counter()
            result = stage.run(ctx)
            seconds = time.perf_counter() - started
            wrote = {str(p): output_hash(p) for p in stage.outputs(ctx)}
            record = StageRecord(key, read, wrote, seconds, dict(result.summary()))
            manifest.set_stage(stage.name, record)
            status = "ran"
        done[stage.name] = record
        runs.append(StageRun(stage.name, status, record))
    return runs
