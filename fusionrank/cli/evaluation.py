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

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import numpy as np
import typer

from fusionrank.cli.console import console, print_summary, print_table
from fusionrank.cli.options import (
    ConfigOption,
    NameOption,
    SeedOption,
    SetOption,
    resolve_run,
    run_config,
)

if TYPE_CHECKING:
    from fusionrank.evaluation.ope.run import OpeResult


def register(app: typer.Typer) -> None:
    app.command("ab")(ab)
    app.command("evaluate")(evaluate)
    app.command("ope")(ope)
    app.command("power")(power)


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
    PBM-IPS), each with a bootstrap interval: a cross-check that needs no simulator."""
    from fusionrank.evaluation.ope.run import estimate_ope

    resolved, run = resolve_run(config, overrides, seed, name)
    result = estimate_ope(
        run, logs, policy, reward, resolved.evaluation, resolved.seed, log_format, out
    )
    if not result.propensities:
        console.print(f"{logs}: no propensities; position-based estimators only")
    print_estimates(result, f"{result.target}: estimated {reward} per impression")
    for note in result.notes:
        console.print(note, markup=False, highlight=False)
    console.print(f"report: {result.report}")


def print_estimates(result: OpeResult, title: str) -> None:
    covered = any(e.coverage is not None for e in result.estimates)
    rows = []
    for e in result.estimates:
        cells = [e.estimator, f"{e.value:.5g}", f"[{e.ci[0]:.5g}, {e.ci[1]:.5g}]", f"{e.ess:,.0f}"]
        if covered:
            cells.append("–" if e.coverage is None else f"{e.coverage:.0%}")
        rows.append(cells)
    columns = ["estimator", "value", f"{1 - result.alpha:.0%} CI", "ESS"]
    print_table(title, [*columns, *(["coverage"] * covered)], rows, left=0)


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
    print_summary(
        f"{result.design} test at alpha={result.alpha}",
        {
            "baseline": f"{result.baseline:.4g}",
            "per-session sd": f"{result.sd:.4g}",
            "effect (absolute)": f"{result.effect:.4g}",
            "effect (relative)": f"{result.relative_effect:+.2%}",
            "sessions per arm": f"{result.sessions_per_arm:,}",
            "power": f"{result.power:.1%}",
        },
    )


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

    resolved, run_folder = resolve_run(config, overrides, seed, name, record_inputs=True)
    result = ab_policies(
        run_folder, a, b, sessions, resolved.seed, config=resolved.evaluation, truth=truth
    )
    for world, run in result.runs.items():
        rows = [
            [r.metric, f"{r.mean_a:.4g}", f"{r.mean_b:.4g}", f"{r.relative:+.2%}",
             f"[{r.relative_ci_bootstrap[0]:+.2%}, {r.relative_ci_bootstrap[1]:+.2%}]",
             f"{r.p_value:.2g}"]
            for r in run.lifts
        ]  # fmt: skip
        columns = ("metric", "A", "B", "lift", "95% CI (bootstrap)", "p")
        print_table(f"{world}: {run.name_b} vs {run.name_a}", columns, rows, left=0)
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

    resolved, run = resolve_run(config, overrides, seed, name, record_inputs=True)
    result = compare_policies(
        run, None, sessions, resolved.seed, config=resolved.evaluation, truth=truth
    )
    for world in result.metrics:
        metrics = [m for m in ("purchases", "revenue", "ctr", "ndcg")
                   if m in result.arm(world, result.baseline).names]  # fmt: skip
        rows = []
        for policy in result.policies:
            cells = [f"{result.mean_ci(world, policy, m)[0]:.4g}" for m in metrics]
            gap = result.gap_closed[world].get(policy, {}).get("purchases", float("nan"))
            rows.append([policy, *cells, "–" if np.isnan(gap) else f"{gap:.0%}"])
        title = f"{world} ({result.sessions:,} sessions each)"
        print_table(title, ("policy", *metrics, "gap closed"), rows, left=0)
    console.print(f"report: {result.report}")
