"""Stage reuse follows content: the pipeline's :func:`run_stages` on small real stages that
read and write files, as the demo's stages do."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fusionrank.config import RunConfig
from fusionrank.runs import RunFolder, RunInputs
from fusionrank.stages import Stage, StageContext, run_stages

CALLS: Counter[str] = Counter()


@dataclass(frozen=True)
class Wrote:
    path: Path

    def summary(self) -> dict[str, Any]:
        return {"wrote": str(self.path)}


def _copy_stage(name: str, source: Any, target: str, after: tuple[str, ...] = ()) -> Stage:
    """A stage that writes ``target`` (in the run folder) from ``source(ctx)`` upper-cased."""

    def run(ctx: StageContext) -> Wrote:
        CALLS[name] += 1
        out = ctx.run.path / target
        out.write_text(source(ctx).read_text().upper())
        return Wrote(out)

    reads = (lambda ctx: [source(ctx)]) if not after else (lambda ctx: [])
    return Stage(name, name, ("simulator",), run, reads, after, lambda ctx: [ctx.run.path / target])


def _stages() -> tuple[Stage, ...]:
    return (
        _copy_stage("catalog", lambda ctx: ctx.inputs.catalog, "catalog.out"),
        _copy_stage("logs", lambda ctx: ctx.inputs.logs, "logs.out"),
        _copy_stage("joined", lambda ctx: ctx.run.path / "catalog.out", "joined.out", ("catalog",)),
    )


@pytest.fixture
def ctx(tmp_path: Path) -> StageContext:
    CALLS.clear()
    data = tmp_path / "data"
    data.mkdir()
    (data / "catalog.csv").write_text("item_id,title\nA,red shirt\n")
    (data / "logs.csv").write_text("session,query\n1,shirt\n")
    run = RunFolder(tmp_path / "runs" / "toy")
    run.path.mkdir(parents=True)
    inputs = RunInputs(data / "catalog.csv", data / "logs.csv", own_data=True)
    return StageContext(run, RunConfig(name="toy", runs_dir=tmp_path / "runs"), inputs)


def _run(ctx: StageContext, redo: bool = False) -> dict[str, str]:
    CALLS.clear()
    return {r.name: r.status for r in run_stages(ctx, _stages(), redo=redo)}


def test_a_rerun_reuses_every_unchanged_stage(ctx: StageContext) -> None:
    assert _run(ctx) == {"catalog": "ran", "logs": "ran", "joined": "ran"}
    assert _run(ctx) == {"catalog": "reused", "logs": "reused", "joined": "reused"}
    assert CALLS == Counter()
    assert _run(ctx, redo=True) == {"catalog": "ran", "logs": "ran", "joined": "ran"}


def test_editing_an_input_file_in_place_reruns_the_stages_that_read_it(ctx: StageContext):
    _run(ctx)
    ctx.inputs.logs.write_text("session,query\n1,blue dress\n")  # same path, new content
    assert _run(ctx) == {"catalog": "reused", "logs": "ran", "joined": "reused"}
    assert (ctx.run.path / "logs.out").read_text() == "SESSION,QUERY\n1,BLUE DRESS\n"
    ctx.inputs.catalog.write_text("item_id,title\nB,green mug\n")
    # The catalog's stage reruns, and so does the stage that reads its output.
    assert _run(ctx) == {"catalog": "ran", "logs": "reused", "joined": "ran"}
    assert (ctx.run.path / "joined.out").read_text() == "ITEM_ID,TITLE\nB,GREEN MUG\n"


def test_deleting_or_editing_an_output_reruns_that_stage_only(ctx: StageContext) -> None:
    _run(ctx)
    (ctx.run.path / "joined.out").unlink()
    assert _run(ctx) == {"catalog": "reused", "logs": "reused", "joined": "ran"}
    # Editing an upstream output reruns its stage; it writes the same bytes again, so the
    # stage after it keeps its result.
    (ctx.run.path / "catalog.out").write_text("edited by hand")
    assert _run(ctx) == {"catalog": "ran", "logs": "reused", "joined": "reused"}
    assert (ctx.run.path / "catalog.out").read_text() == "ITEM_ID,TITLE\nA,RED SHIRT\n"


def test_a_config_section_or_seed_change_reruns_the_stages_that_read_it(ctx: StageContext):
    _run(ctx)
    changed = ctx.config.model_copy(
        update={"simulator": ctx.config.simulator.model_copy(update={"held_out_fraction": 0.5})}
    )
    other = StageContext(ctx.run, changed, ctx.inputs)
    assert set(_run(other).values()) == {"ran"}
    reseeded = StageContext(ctx.run, changed.model_copy(update={"seed": 7}), ctx.inputs)
    assert set(_run(reseeded).values()) == {"ran"}
    # Settings the stages do not read change nothing.
    unrelated = reseeded.config.model_copy(update={"name": "toy"})
    assert set(_run(StageContext(ctx.run, unrelated, ctx.inputs)).values()) == {"reused"}


def test_the_manifest_records_inputs_reads_and_writes(ctx: StageContext) -> None:
    _run(ctx)
    record = ctx.run.manifest.stage("logs")
    assert record is not None
    assert list(record.read) == [str(ctx.inputs.logs)]
    assert list(record.wrote) == [str(ctx.run.path / "logs.out")]
    assert all(len(h or "") == 64 for h in (*record.read.values(), *record.wrote.values()))
