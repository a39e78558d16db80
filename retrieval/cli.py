"""``fusionrank clip train``, ``fusionrank index build``, ``fusionrank search`` and
``fusionrank retrieval eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fusionrank.cli import ConfigOption, NameOption, SeedOption, SetOption, console, run_config
from fusionrank.config import RunConfig
from fusionrank.runs import RunFolder
from fusionrank.types import Catalog

clip_app = typer.Typer(help="Train the image modality's open_clip model.", no_args_is_help=True)
index_app = typer.Typer(help="Build the retriever's FAISS indexes.", no_args_is_help=True)
retrieval_app = typer.Typer(help="Judge first-stage retrieval.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(clip_app, name="clip")
    app.add_typer(index_app, name="index")
    app.add_typer(retrieval_app, name="retrieval")
    app.command("search")(search)


def retrieval_dir(config: RunConfig) -> Path:
    """``runs/<name>/retrieval``: CLIP checkpoint, embedding cache, indexes, metrics."""
    return RunFolder.for_config(config).path / "retrieval"


def run_catalog(config: RunConfig) -> Catalog:
    """The user's catalog (``data.catalog``), else the run's ShopWorld catalog."""
    from fusionrank.datasets import load_catalog

    path = config.data.catalog or RunFolder.for_config(config).data_dir / "catalog.parquet"
    if not Path(path).is_file():
        raise ValueError(
            f"no catalog at {path}: generate one with `fusionrank world generate --name "
            f"{config.name}` or set data.catalog to your catalog file"
        )
    return load_catalog(path)


@clip_app.command("train")
def clip_train(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Train an open_clip model on the catalog's (image, title) pairs."""
    from fusionrank.datasets.cli import print_summary
    from fusionrank.retrieval.clip_train import train_clip

    resolved = run_config(config, overrides, seed, name)
    catalog = run_catalog(resolved)
    RunFolder.for_config(resolved).save_config(resolved)
    out = retrieval_dir(resolved) / "clip"
    summary = train_clip(
        catalog, resolved.retrieval.clip, resolved.seed, out, resolved.retrieval.threads
    )
    losses = summary.pop("losses")
    summary["loss (first, last)"] = [losses[0][1], losses[-1][1]]
    print_summary(f"CLIP checkpoint in {out / 'model.pt'}", summary)


@index_app.command("build")
def index_build(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Encode the catalog and build one index per modality under runs/<name>/retrieval."""
    from fusionrank.datasets.cli import print_summary
    from fusionrank.retrieval.retriever import Retriever

    resolved = run_config(config, overrides, seed, name)
    catalog = run_catalog(resolved)
    RunFolder.for_config(resolved).save_config(resolved)
    folder = retrieval_dir(resolved)
    retriever = Retriever.build(catalog, resolved.retrieval, folder)
    target = retriever.save(folder)
    print_summary(
        f"retriever in {target}",
        {
            "items": retriever.n_items,
            "modalities": list(retriever.modality_names),
            "text index": resolved.retrieval.text_index.factory,
            "image index": resolved.retrieval.image_index.factory,
            "fusion": resolved.retrieval.fusion,
        },
    )


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

    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.types import Query

    resolved = run_config(config, overrides, None, name)
    if not query.strip():
        raise ValueError("the query is empty; give the text to search for")
    retriever = Retriever.load(retrieval_dir(resolved), resolved.retrieval)
    fusion = None
    if weights is not None:
        given = parse_weights(weights, retriever.modality_names)
        row = np.array([given.get(m, 0.0) for m in retriever.modality_names], dtype=np.float32)
        if row.sum() <= 0 or (row < 0).any():
            raise ValueError(f"--weights {weights!r}: give weights >= 0, at least one above 0")
        fusion = (row / row.sum())[None, :]
    found = retriever.search([Query("cli", query)], k, fusion)[0]
    titles = _titles(resolved)
    table = Table(title=f"{query!r}: top {int(found.mask.sum())}", title_justify="left")
    for column in ("rank", "item", "title", "fused", *found.modality_names):
        table.add_column(column, justify="left" if column in ("item", "title") else "right")
    for rank, slot in enumerate(np.flatnonzero(found.mask), start=1):
        item_id = str(retriever.item_ids[found.item_index[slot]])
        scores = [f"{v:.3f}" for v in found.modality_scores[slot]]
        table.add_row(
            str(rank),
            item_id,
            titles.get(item_id, ""),
            f"{found.features[slot, -1]:.3f}",
            *scores,
        )
    console.print(table)


def _titles(config: RunConfig) -> dict[str, str]:
    """Item id -> title from the run's catalog (empty when it is gone)."""
    try:
        table = run_catalog(config).table
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
    from fusionrank.datasets.shopworld.truth import HiddenTruth
    from fusionrank.io import atomic_path, write_json
    from fusionrank.retrieval.evaluation import METRICS, evaluate
    from fusionrank.retrieval.retriever import Retriever

    resolved = run_config(config, overrides, seed, name)
    run = RunFolder.for_config(resolved)
    truth = HiddenTruth.load(run.truth_dir)
    folder = retrieval_dir(resolved)
    retriever = Retriever.load(folder, resolved.retrieval)
    baseline = None
    if random_clip and "image" in retriever.modality_names:
        from fusionrank.retrieval.clip import load_clip
        from fusionrank.seeding import int_seed

        clip = load_clip(retriever.manifest["clip"]["model"], None, int_seed(resolved.seed, "clip"))
        baseline = Retriever.build(run_catalog(resolved), retriever.config, folder, clip=clip)
    table, facts = evaluate(retriever, truth, grid_step, baseline)
    out = folder / "metrics"
    with atomic_path(out / "eval.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_json(out / "eval.json", {"table": table.to_dict(orient="records"), **facts})
    shown = Table(title=f"retrieval on ShopWorld ({facts['fusion']} fusion)", title_justify="left")
    for column in ("condition", "intent", "n_queries", *METRICS):
        shown.add_column(column, justify="left" if column in ("condition", "intent") else "right")
    for record in table.to_dict(orient="records"):
        shown.add_row(
            record["condition"],
            record["intent"],
            str(record["n_queries"]),
            *(f"{record[m]:.3f}" for m in METRICS),
        )
    console.print(shown)
    console.print(f"mean best weights {facts['modalities']}: {facts['mean_best_weights']}")
    console.print(f"saved to {out}")
