"""``fusionrank ab`` (two policies), ``fusionrank evaluate`` (every policy of a run),
``fusionrank ope`` (off-policy estimates from logs alone) and ``fusionrank power``.

```
runs/<name>/evaluation/ab-<a>-vs-<b>/     report.html, figures.json of `ab`
runs/<name>/evaluation/compare.html       `evaluate`: every policy side by side
runs/<name>/evaluation/compare.json       the same numbers
runs/<name>/evaluation/ope/report.html    estimates table and figure
runs/<name>/evaluation/ope/figures.json   the same numbers
runs/<name>/evaluation/ope/estimates.json every estimate, with the inputs that made it
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from fusionrank.cli import ConfigOption, NameOption, SeedOption, SetOption, console, run_config
from fusionrank.runs import RunFolder

if TYPE_CHECKING:
    from fusionrank.evaluation.ope.estimators import Estimate


def register(app: typer.Typer) -> None:
    app.command("ab")(ab)
    app.command("evaluate")(evaluate)
    app.command("ope")(ope)
    app.command("power")(power)


def _is_obd(path: Path, log_format: str) -> bool:
    if log_format != "auto":
        return log_format == "obd"
    return path.suffix == ".csv" and path.parent.parent.name in ("random", "bts")


def load_bandit_log(path: Path, reward: str, log_format: str):
    """The log as a BanditLog, each page's query id (object (G,)), each page's candidate
    pool (int64 (G, P): items the logs ever showed for its query), the log's item ids
    (None for OBD) and its pages (None for OBD)."""
    from fusionrank.evaluation.ope.data import from_obd, from_pages

    if not path.exists():
        raise ValueError(f"--logs {path} does not exist; pass a .parquet log or an OBD .csv")
    if _is_obd(path, log_format):
        from fusionrank.datasets import obd_impressions

        log = from_obd(obd_impressions(path.parents[2], path.parent.parent.name, path.parent.name))
        pools = np.broadcast_to(np.arange(log.n_actions), (log.n_groups, log.n_actions))
        return log, np.full(log.n_groups, path.parent.name, dtype=object), pools, None, None
    from fusionrank.datasets import load_logs, logs_to_pages
    from fusionrank.evaluation.rankers import logged_pools

    pages = logs_to_pages(load_logs(path))
    query_ids, pool = logged_pools(pages)
    # Every logged query showed items, so each has a pool row.
    row_of_query = pd.Index(query_ids).get_indexer(pages.query_ids)
    group_query = pages.query_ids[pages.query]
    pools = pool[row_of_query[pages.query]]
    if not pages.has_propensities:  # position-based estimators only (evaluation.ope.position)
        from fusionrank.evaluation.ope.position import impressions_from_pages

        impressions = impressions_from_pages(pages, reward, str(path))
        return impressions, group_query, pools, pages.item_ids, pages
    log = from_pages(pages, reward=reward, source=str(path))
    return log, group_query, pools, pages.item_ids, pages


def _target(policy: str, log, group_query, pools, item_ids, pages, run_dir: Path):
    """The target policy a user named, and the log it is judged on (re-indexed to the
    run's catalog for a saved or built-in policy)."""
    from fusionrank.evaluation.ope.targets import score_table_target, uniform_target
    from fusionrank.evaluation.rankers import ScoreTable

    if policy == "uniform":
        return log, uniform_target(log, pools[log.group], name="uniform over each query's pool")
    path = Path(policy)
    if path.suffix in (".parquet", ".csv"):
        vocabulary = item_ids if item_ids is not None else np.arange(log.n_actions).astype(str)
        table = ScoreTable.from_score_file(path, vocabulary)
        return log, score_table_target(log, table, group_query)
    return _policy_target(policy, log, group_query, pages, run_dir)


def _policy_target(spec: str, log, group_query, pages, run_dir: Path):
    """A saved policy (folder or name under the run's policies/) or a built-in, ranking
    each logged page's query through the run's retriever, as a target policy.

    The log's items are re-indexed to the run's catalog, so that the reward model and
    the target see the same items; the policy may rank items the logs never showed, which
    the direct method values through the reward model and the weighted estimators cannot.
    """
    from fusionrank.evaluation.ope.targets import ranking_target
    from fusionrank.evaluation.policies import (
        BUILT_IN,
        policy_ranker,
        resolve_policy,
        saved_policy_folder,
    )
    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.types import Query

    if saved_policy_folder(spec, run_dir) is None and spec not in BUILT_IN:
        raise ValueError(
            f"--policy {spec!r}: give 'uniform', a score table (.parquet or .csv with columns "
            "query_id, item_id, score), a folder written by Policy.save, a policy name under "
            f"{run_dir / 'policies'} or one of {', '.join(BUILT_IN)}"
        )
    if pages is None:
        raise ValueError(
            f"--policy {spec!r} ranks a catalog's items; OBD logs have no catalog: use "
            "'uniform' or a score table"
        )
    if not (run_dir / "retrieval").is_dir():
        raise ValueError(
            f"--policy {spec!r} ranks through the run's retriever, and {run_dir / 'retrieval'} "
            f"is missing: run `fusionrank index build --name {run_dir.name}` or pass the "
            "--name of a run that has one"
        )
    retriever = Retriever.load(run_dir / "retrieval")
    policy = resolve_policy(spec, run_dir, retriever, pages)
    catalog_row = pd.Index(retriever.item_ids.astype(str)).get_indexer(pages.item_ids.astype(str))
    if np.any(catalog_row < 0):
        unknown = pages.item_ids[catalog_row < 0][:5].tolist()
        raise ValueError(
            f"--logs: item id(s) {unknown} are not in the catalog of run {run_dir.name!r}; "
            "pass the --name of the run built on these logs' catalog"
        )
    log = replace(log, action=catalog_row[log.action], n_actions=retriever.n_items)
    texts = dict(zip(pages.query_ids.astype(str), pages.query_texts.astype(str), strict=True))
    queries = [Query(q, texts[q]) for q in pd.unique(group_query.astype(str))]
    table = policy_ranker(policy, retriever, queries, k=log.n_positions)
    return log, ranking_target(log, table(group_query), policy.name)


def ope(
    logs: Annotated[Path, typer.Option(help="Logs: a fusionrank .parquet or an OBD .csv.")],
    policy: Annotated[
        str,
        typer.Option(
            help="'uniform'; a score table (.parquet/.csv: query_id, item_id, score); a saved "
            "policy (folder, or name under runs/<name>/policies/); or default, logging, oracle."
        ),
    ],
    reward: Annotated[str, typer.Option(help="Reward: clicks or purchases.")] = "clicks",
    log_format: Annotated[str, typer.Option("--format", help="auto, fusionrank or obd.")] = "auto",
    out: Annotated[
        Path | None, typer.Option(help="Report folder; default runs/<name>/evaluation/ope.")
    ] = None,
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Estimate a policy's value per impression from logs alone (IPS, SNIPS, DM, DR, SNDR,
    PBM-IPS), each with a bootstrap interval: a cross-check that needs no simulator. Logs
    without propensities get the position-based estimators (examination from the run's
    click model, and harvested where the logged rankings varied), each with what it
    assumes."""
    from fusionrank.evaluation.ope.estimators import estimate_all
    from fusionrank.evaluation.ope.position import Impressions, estimate_without_propensities
    from fusionrank.evaluation.report import Report
    from fusionrank.evaluation.sections import add_ope
    from fusionrank.io import write_json
    from fusionrank.seeding import rng

    if log_format not in ("auto", "fusionrank", "obd"):
        raise ValueError(f"--format {log_format!r} is unknown; use auto, fusionrank or obd")
    resolved = run_config(config, overrides, seed, name)
    settings = resolved.evaluation
    log, group_query, pools, item_ids, pages = load_bandit_log(logs, reward, log_format)
    run_dir = RunFolder.for_config(resolved).path
    log, target = _target(policy, log, group_query, pools, item_ids, pages, run_dir)
    stream = rng(resolved.seed, "evaluation")
    skipped: dict[str, str] = {}
    if isinstance(log, Impressions):
        console.print(f"{logs}: no propensities; position-based estimators only")
        estimates, skipped = estimate_without_propensities(
            log, target, pages, run_dir,
            alpha=settings.alpha, n_bootstrap=settings.n_bootstrap, rng=stream,
        )  # fmt: skip
    else:
        estimates = estimate_all(
            log, target, reward_model=settings.reward_model, n_folds=settings.n_folds,
            alpha=settings.alpha, n_bootstrap=settings.n_bootstrap, rng=stream,
        )  # fmt: skip
    _print_estimates(f"{target.name}: estimated {reward} per impression", estimates, settings.alpha)
    notes = [f"{e.estimator} assumes {e.assumption}." for e in estimates if e.assumption]
    notes += [f"{name}: not estimated: {why}." for name, why in skipped.items()]
    for note in notes:
        console.print(note, markup=False, highlight=False)
    folder = out or run_dir / "evaluation" / "ope"
    report = Report(f"Off-policy estimates: {target.name}")
    report.text(
        f"Logs: {logs} ({len(log):,} impressions on {log.n_groups:,} pages); reward: {reward}."
    )
    add_ope(report, {target.name: estimates})
    for note in notes:
        report.text(note)
    path = report.write(folder)
    inputs = {"logs": str(logs), "policy": policy, "reward": reward, "seed": resolved.seed}
    found = {"estimates": [e.to_dict() for e in estimates], "not_estimated": skipped}
    write_json(folder / "estimates.json", {**inputs, **found})
    console.print(f"report: {path}")


def _print_estimates(title: str, estimates: Sequence[Estimate], alpha: float) -> None:
    table = Table(title=title, title_justify="left")
    covered = any(e.coverage is not None for e in estimates)
    for column in ("estimator", "value", f"{1 - alpha:.0%} CI", "ESS", *(["coverage"] * covered)):
        table.add_column(column, justify="right")
    for e in estimates:
        cells = [e.estimator, f"{e.value:.5g}", f"[{e.ci[0]:.5g}, {e.ci[1]:.5g}]", f"{e.ess:,.0f}"]
        if covered:
            cells.append("–" if e.coverage is None else f"{e.coverage:.0%}")
        table.add_row(*cells)
    console.print(table)


def power(
    baseline: Annotated[float, typer.Option(help="Control mean, e.g. 0.05 for a 5 % rate.")],
    lift: Annotated[float | None, typer.Option(help="Relative lift to detect, e.g. 0.02.")] = None,
    sessions: Annotated[int | None, typer.Option(help="Sessions per arm you will have.")] = None,
    sd: Annotated[float | None, typer.Option(help="Per-session sd; default sqrt(p(1-p)).")] = None,
    design: Annotated[str, typer.Option(help="two-sample (live A/B) or paired.")] = "two-sample",
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Plan a live A/B test: sessions needed for a lift, or the lift detectable with N."""
    from fusionrank.evaluation.power import DESIGNS, Design, plan

    if design not in DESIGNS:
        raise ValueError(f"--design {design!r} is unknown; use one of {', '.join(DESIGNS)}")
    if (lift is None) == (sessions is None):
        raise ValueError("give exactly one of --lift (e.g. 0.02 for +2 %) and --sessions")
    settings = run_config(config, overrides).evaluation
    result = plan(
        baseline,
        sd=sd,
        relative_effect=lift,
        sessions_per_arm=sessions,
        alpha=settings.alpha,
        power=settings.power,
        design=cast(Design, design),
    )
    table = Table(title=f"{result.design} test at alpha={result.alpha}", show_header=False)
    table.add_row("baseline", f"{result.baseline:.4g}")
    table.add_row("per-session sd", f"{result.sd:.4g}")
    table.add_row("effect (absolute)", f"{result.effect:.4g}")
    table.add_row("effect (relative)", f"{result.relative_effect:+.2%}")
    table.add_row("sessions per arm", f"{result.sessions_per_arm:,}")
    table.add_row("power", f"{result.power:.1%}")
    console.print(table)


SessionsOption = Annotated[
    int | None, typer.Option(help="Sessions per arm (default: evaluation.n_sessions).")
]
TruthOption = Annotated[
    bool, typer.Option("--truth/--no-truth", help="ShopWorld: also run on the hidden users.")
]


def ab(
    a: Annotated[
        str,
        typer.Option(
            "--a",
            help="Arm A: a policy folder, a name under "
            "runs/<name>/policies/, or default, logging, oracle.",
        ),
    ],
    b: Annotated[str, typer.Option("--b", help="Arm B (same forms as --a).")],
    sessions: SessionsOption = None,
    truth: TruthOption = True,
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Simulated A/B of two policies (fitted simulator, and ShopWorld's hidden users),
    with an mSPRT and team-draft interleaving, in one HTML report."""
    from fusionrank.evaluation.abtest import ab_policies

    resolved = run_config(config, overrides, seed, name)
    run_dir = RunFolder.for_config(resolved).path
    result = ab_policies(
        run_dir, a, b, sessions, resolved.seed, config=resolved.evaluation, truth=truth
    )
    for world, run in result.runs.items():
        table = Table(title=f"{world}: {run.name_b} vs {run.name_a}", title_justify="left")
        for column in ("metric", "A", "B", "lift", "95% CI (bootstrap)", "p"):
            table.add_column(column, justify="right")
        for r in run.lifts:
            low, high = r.relative_ci_bootstrap
            table.add_row(
                r.metric, f"{r.mean_a:.4g}", f"{r.mean_b:.4g}", f"{r.relative:+.2%}",
                f"[{low:+.2%}, {high:+.2%}]", f"{r.p_value:.2g}",
            )  # fmt: skip
        console.print(table)
        il = result.interleaving[world]
        console.print(
            f"interleaving: win rate of B {il.win_rate:.3f} "
            f"[{il.win_rate_ci[0]:.3f}, {il.win_rate_ci[1]:.3f}] over {il.n:,} sessions"
        )
    console.print(f"report: {result.report}")


def evaluate(
    sessions: SessionsOption = None,
    truth: TruthOption = True,
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Compare every policy in runs/<name>/policies/ (with the logging baseline and, on
    ShopWorld, the oracle) on the same simulated traffic: compare.html and compare.json."""
    from fusionrank.evaluation.compare import compare_policies

    resolved = run_config(config, overrides, seed, name)
    run_dir = RunFolder.for_config(resolved).path
    result = compare_policies(
        run_dir, None, sessions, resolved.seed, config=resolved.evaluation, truth=truth
    )
    for world in result.metrics:
        table = Table(title=f"{world} ({result.sessions:,} sessions each)", title_justify="left")
        metrics = [m for m in ("purchases", "revenue", "ctr", "ndcg")
                   if m in result.arm(world, result.baseline).names]  # fmt: skip
        for column in ("policy", *metrics, "gap closed"):
            table.add_column(column, justify="right")
        for policy in result.policies:
            cells = [f"{result.mean_ci(world, policy, m)[0]:.4g}" for m in metrics]
            gap = result.gap_closed[world].get(policy, {}).get("purchases", float("nan"))
            table.add_row(policy, *cells, "–" if np.isnan(gap) else f"{gap:.0%}")
        console.print(table)
    console.print(f"report: {result.report}")
