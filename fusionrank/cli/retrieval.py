"""``fusionrank clip train``, ``fusionrank index build``, ``fusionrank search`` and
``fusionrank retrieval eval``."""

from __future__ import annotations

from typing import Annotated

import typer

from fusionrank.cli.console import console, print_summary, print_table
from fusionrank.cli.options import ConfigOption, NameOption, SeedOption, SetOption, resolve_run
from fusionrank.runs import RunFolder

clip_app = typer.Typer(help="Train the image modality's open_clip model.", no_args_is_help=True)
index_app = typer.Typer(help="Build the retriever's FAISS indexes.", no_args_is_help=True)
retrieval_app = typer.Typer(help="Judge first-stage retrieval.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(clip_app, name="clip")
    app.add_typer(index_app, name="index")
    app.add_typer(retrieval_app, name="retrieval")
    app.command("search")(search)


@clip_app.command("train")
def clip_train(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Train an open_clip model on the catalog's (image, title) pairs."""
    from fusionrank.retrieval.stages import train_run_clip

    resolved, run = resolve_run(config, overrides, seed, name, record_inputs=True)
    run.save_config(resolved)
    result = train_run_clip(run, resolved.retrieval, resolved.seed)
    title = "CLIP" if result.checkpoint is None else f"CLIP checkpoint in {result.checkpoint}"
    print_summary(title, result.summary())


@index_app.command("build")
def index_build(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Encode the catalog and build one index per modality under runs/<name>/retrieval."""
    from fusionrank.retrieval.stages import build_run_index

    resolved, run = resolve_run(config, overrides, seed, name, record_inputs=True)
    run.save_config(resolved)
    result = build_run_index(run, resolved.retrieval)
    print_summary(f"retriever in {result.folder}", result.summary())


def parse_weights(text: str, modality_names: tuple[str, ...]) -> dict[str, float]:
    """``"text=0.5,image=0.5"`` -> weights; unknown names and bad numbers raise."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in modality_names:
            raise ValueError(
                f"--weights: {part!r} must look like NAME=NUMBER with NAME one of "
                f"{', '.join(modality_names)}"
            )
        try:
            weights[key] = float(value)
        except ValueError:
            raise ValueError(f"--weights: {value!r} is not a number") from None
    return weights


def search(
    query: Annotated[str, typer.Argument(help="The query text.")],
    k: Annotated[int, typer.Option(min=1, help="Results to show.")] = 10,
    weights: Annotated[
        str | None, typer.Option(help="Fusion weights, e.g. text=0.5,image=0.5 (renormalised).")
    ] = None,
    config: ConfigOption = None,
    overrides: SetOption = None,
    name: NameOption = None,
) -> None:
    """Search the run's index and print the top results with their modality scores."""
    import numpy as np

    from fusionrank.retrieval.stages import load_run_retriever
    from fusionrank.types import Query

    resolved, run = resolve_run(config, overrides, None, name)
    if not query.strip():
        raise ValueError("the query is empty; give the text to search for")
    retriever = load_run_retriever(run, resolved.retrieval)
    fusion = None
    if weights is not None:
        given = parse_weights(weights, retriever.modality_names)
        row = np.array([given.get(m, 0.0) for m in retriever.modality_names], dtype=np.float32)
        if row.sum() <= 0 or (row < 0).any():
            raise ValueError(f"--weights {weights!r}: give weights >= 0, at least one above 0")
        fusion = (row / row.sum())[None, :]
    found = retriever.search([Query("cli", query)], k, fusion)[0]
    titles = _titles(run)
    rows = []
    for rank, slot in enumerate(np.flatnonzero(found.mask), start=1):
        item_id = str(retriever.item_ids[found.item_index[slot]])
        scores = [f"{v:.3f}" for v in found.modality_scores[slot]]
        fused = f"{found.features[slot, -1]:.3f}"
        rows.append([str(rank), item_id, titles.get(item_id, ""), fused, *scores])
    columns = ("rank", "item", "title", "fused", *found.modality_names)
    print_table(f"{query!r}: top {int(found.mask.sum())}", columns, rows, left=3)


def _titles(run: RunFolder) -> dict[str, str]:
    """Item id -> title from the run's catalog (empty when it is gone)."""
    from fusionrank.retrieval.stages import load_run_catalog

    try:
        table = load_run_catalog(run, check_images=False).table
    except ValueError:
        return {}
    return dict(zip(table["item_id"].astype(str), table["title"].astype(str), strict=True))


@retrieval_app.command("eval")
def retrieval_eval(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
    grid_step: Annotated[
        float, typer.Option(min=0.02, max=0.5, help="Weight-grid spacing of the upper bound.")
    ] = 0.1,
    random_clip: Annotated[
        bool, typer.Option(help="Also judge a random-weights CLIP of the same architecture.")
    ] = True,
) -> None:
    """Retrieval quality by query intent on ShopWorld (reads the hidden truth)."""
    from fusionrank.evaluation.retrieval import METRICS, judge_run_retrieval

    resolved, run = resolve_run(config, overrides, seed, name)
    result = judge_run_retrieval(run, resolved.retrieval, resolved.seed, grid_step, random_clip)
    print_retrieval(result.table.to_dict(orient="records"), result.facts, METRICS)
    console.print(f"saved to {result.folder}")


def print_retrieval(records: list[dict], facts: dict, metrics: tuple[str, ...]) -> None:
    """The retrieval table by condition and intent, and the mean best weights."""
    rows = [
        [r["condition"], r["intent"], str(r["n_queries"]), *(f"{r[m]:.3f}" for m in metrics)]
        for r in records
    ]
    columns = ("condition", "intent", "n_queries", *metrics)
    print_table(f"retrieval on ShopWorld ({facts['fusion']} fusion)", columns, rows, left=2)
    console.print(f"mean best weights {facts['modalities']}: {facts['mean_best_weights']}")
