"""Report sections for each kind of evaluation, composed into a :class:`~.report.Report`.

An A/B run against the fitted simulator and the same A/B against ShopWorld's hidden truth
go into one section side by side: what the simulator predicted beside what the hidden
users did.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from fusionrank.evaluation import plots
from fusionrank.evaluation.ab import ABRun
from fusionrank.evaluation.interleaving import InterleavingResult, SessionsComparison
from fusionrank.evaluation.ope.estimators import Estimate
from fusionrank.evaluation.stats import cumulative_lift
from fusionrank.reports import Report, format_p

logger = logging.getLogger(__name__)

LIFT_HEADER = (
    "world",
    "metric",
    "mean A",
    "mean B",
    "lift B-A",
    "95% CI (normal)",
    "95% CI (bootstrap)",
    "relative",
    "rel. 95% CI (bootstrap)",
    "p-value",
    "MDE (80% power)",
)


def add_ab(
    report: Report, runs: Mapping[str, ABRun], distribution_world: str | None = None
) -> None:
    """Lifts (table and bars), metric distributions and cumulative lift of A/B runs.

    Args:
        report: The report to extend.
        runs: World label (e.g. ``"fitted simulator"``, ``"hidden truth"``) -> its run of
            the same two arms.
        distribution_world: Whose sessions the distribution plot shows (default: first).
    """
    first = next(iter(runs.values()))
    report.heading(f"A/B: {first.name_b} (B) against {first.name_a} (A)")
    report.text(
        f"{len(first.a):,} sessions per arm on the same traffic with common random numbers; "
        "lifts are paired (per-session differences). Simulation time: "
        + ", ".join(f"{world} {run.seconds:.1f} s" for world, run in runs.items())
        + ".",
        note=True,
    )
    rows = [
        (
            world,
            r.metric,
            r.mean_a,
            r.mean_b,
            r.diff,
            r.ci_normal,
            r.ci_bootstrap,
            r.relative,
            r.relative_ci_bootstrap,
            r.p_value,
            r.mde,
        )
        for world, run in runs.items()
        for r in run.lifts
    ]
    report.table("ab_lifts", LIFT_HEADER, rows, {"p-value": format_p})
    fig, data = plots.lift_bars({w: run.lifts for w, run in runs.items()}, "Lift by metric")
    report.figure("lift_bars", fig, data, "Relative lift with 95 % bootstrap intervals.")
    shown = runs[distribution_world] if distribution_world else first
    metrics = [m for m in shown.a.names if m != "ndcg"] + (
        ["ndcg"] if "ndcg" in shown.a.names else []
    )
    arms = {
        shown.name_a: {m: getattr(shown.a, m) for m in metrics},
        shown.name_b: {m: getattr(shown.b, m) for m in metrics},
    }
    fig, data = plots.metric_distributions(arms, metrics, "Per-session metrics")
    report.figure("metric_distributions", fig, data, "Share of sessions per value, each arm.")
    curves = {w: cumulative_lift(run.a.clicks, run.b.clicks) for w, run in runs.items()}
    fig, data = plots.cumulative_lift(curves, "Cumulative lift in clicks per session")
    report.figure("cumulative_lift", fig, data, "Running mean of B - A with its 95 % band.")


def add_interleaving(
    report: Report,
    result: InterleavingResult,
    names: tuple[str, str],
    comparison: SessionsComparison | None = None,
    world: str = "",
) -> None:
    """Interleaving's win rate, and how many sessions it needs against the A/B.

    Args:
        world: Label of the users (e.g. ``"hidden truth"``) when a report has several;
            it prefixes the heading and the table and figure names.
    """
    key = f"_{world.replace(' ', '_')}" if world else ""
    where = f" ({world})" if world else ""
    report.heading(f"Team-draft interleaving: {names[1]} against {names[0]}{where}")
    report.table(
        f"interleaving{key}",
        (
            "sessions",
            f"{names[0]} wins",
            f"{names[1]} wins",
            "ties",
            "win rate of B",
            "95% CI (Wilson)",
            "p-value",
        ),
        [
            (
                result.n,
                result.wins_a,
                result.wins_b,
                result.ties,
                result.win_rate,
                result.win_rate_ci,
                result.p_value,
            )
        ],
        {"p-value": format_p},
    )
    fig, data = plots.interleaving_win_rate(result, names)
    report.figure(f"interleaving_win_rate{key}", fig, data, "Win rate excludes ties.")
    if comparison is not None:
        report.text(
            f"To detect the measured effect at the same level and power, the A/B "
            f"({comparison.ab_design}) needs {comparison.ab_sessions:,} sessions per arm; "
            f"interleaving needs {comparison.interleaving_sessions:,} sessions "
            f"({comparison.ratio:.1f} times fewer)."
        )


def add_ope(
    report: Report,
    estimates: Mapping[str, Sequence[Estimate]],
    truth: Mapping[str, float] | None = None,
    title: str = "Off-policy estimates",
) -> None:
    """Each estimator's value and interval per panel, against the truth where known."""
    report.heading(title)
    header = ["panel", "estimator", "value", "95% CI (bootstrap)", "std. error", "ESS", "rows"]
    if truth:
        header += ["truth", "relative error"]
    rows = []
    for panel, results in estimates.items():
        for e in results:
            row = [panel, e.estimator, e.value, e.ci, e.std_error, e.ess, e.n]
            if truth:
                row += [truth[panel], abs(e.value - truth[panel]) / truth[panel]]
            rows.append(row)
    report.table("ope_estimates", header, rows)
    if truth:
        fig, data = plots.ope_vs_truth(estimates, truth, "Estimates against the ground truth")
        report.figure("ope_vs_truth", fig, data, "Points: estimates with 95 % bootstrap CIs.")
