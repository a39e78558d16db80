"""The report of :func:`~fusionrank.evaluation.compare.compare_policies`: one table of
every policy in every world, lift bars over the logging baseline and the means with
their intervals, written as ``compare.html`` and ``compare.json``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.evaluation import plots
from fusionrank.reports import Report, format_p, format_percent

if TYPE_CHECKING:
    from fusionrank.evaluation.compare import ComparisonResult

logger = logging.getLogger(__name__)

HTML_NAME = "compare.html"
JSON_NAME = "compare.json"


def _means_rows(result: ComparisonResult, metrics: list[str]) -> list[list[Any]]:
    rows = []
    for world in result.metrics:
        for policy in result.policies:
            row: list[Any] = [world, policy]
            for metric in metrics:
                mean, low, high = result.mean_ci(world, policy, metric)
                row += [mean, (low, high)]
            if result.oracle is not None:
                gap = result.gap_closed[world].get(policy, {})
                row += [gap.get("purchases", float("nan")), gap.get("revenue", float("nan"))]
            rows.append(row)
    return rows


def _lift_rows(result: ComparisonResult, metrics: list[str]) -> list[list[Any]]:
    rows = []
    for world, by_policy in result.lifts.items():
        for policy, lifts in by_policy.items():
            for r in (r for r in lifts if r.metric in metrics):
                rows.append(
                    [
                        world,
                        policy,
                        r.metric,
                        r.diff,
                        r.ci_normal,
                        r.ci_bootstrap,
                        r.relative,
                        r.relative_ci_bootstrap,
                        r.p_value,
                    ]
                )
    return rows


def write_comparison(result: ComparisonResult, folder: Path) -> Path:
    """Write ``compare.html`` and ``compare.json`` into ``folder``; return the HTML path."""
    from fusionrank.evaluation.compare import TABLE_METRICS

    first = next(iter(result.metrics.values()))[0]
    metrics = [m for m in TABLE_METRICS if m in first.names]
    level = f"{1 - result.alpha:.0%}"
    context = {
        "sessions": result.sessions,
        "worlds": list(result.metrics),
        "baseline": result.baseline,
        "oracle": result.oracle,
    }
    report = Report("Policy comparison on simulated traffic", "compare.html.j2", context)
    report.heading("Per-session means")
    header = ["world", "policy"]
    for metric in metrics:
        header += [metric, f"{level} CI"]
    if result.oracle is not None:
        header += ["gap closed (purchases)", "gap closed (revenue)"]
    report.table("means", header, _means_rows(result, metrics))
    gap_note = (
        " Gap closed: (policy − baseline) / (oracle − baseline) of the mean; 0 is the logging"
        " baseline, 1 the oracle."
        if result.oracle is not None
        else ""
    )
    report.text(f"Intervals: mean ± z·sd/√n.{gap_note}", note=True)
    table = {
        world: {
            metric: {p: _bar(result, world, p, metric) for p in result.policies}
            for metric in metrics
        }
        for world in result.metrics
    }
    fig, data = plots.error_bars(table, "Means per policy", f"mean (whisker: {level} CI)")
    report.figure("policy_means", fig, data, f"Per-session means with {level} intervals.")
    _add_lifts(report, result, metrics, level)
    _add_vs_best(report, result, level)
    _add_foresight(report, result, level)
    extra = {
        "policies": list(result.policies),
        "baseline": result.baseline,
        "oracle": result.oracle,
        "sessions": result.sessions,
        "best_supervised": result.best_supervised,
        "kendall_tau": result.kendall_tau,
        "rows": result.table(),
    }
    return report.write(folder, HTML_NAME, JSON_NAME, extra)


def _bar(result: ComparisonResult, world: str, policy: str, metric: str) -> tuple[float, float]:
    mean, low, _ = result.mean_ci(world, policy, metric)
    return mean, mean - low


def _add_lifts(report: Report, result: ComparisonResult, metrics: list[str], level: str) -> None:
    """The lifts over the baseline: a table, and lift bars per world."""
    report.heading(f"Lift over the logging baseline ({result.baseline})")
    lift_header = [
        "world",
        "policy",
        "metric",
        "lift",
        f"{level} CI (normal)",
        f"{level} CI (bootstrap)",
        "relative",
        "rel. CI (bootstrap)",
        "p-value",
    ]
    report.table("lifts", lift_header, _lift_rows(result, metrics), {"p-value": format_p})
    for world, by_policy in result.lifts.items():
        if not by_policy:  # only the baseline: nothing to compare it with
            continue
        groups = {p: [r for r in lifts if r.metric in metrics] for p, lifts in by_policy.items()}
        fig, data = plots.lift_bars(
            groups,
            f"{world}: lift over {result.baseline}",
            f"relative lift over {result.baseline} (%), {level} bootstrap interval",
        )
        report.figure(f"lift_bars_{world.replace(' ', '_')}", fig, data, "Paired lifts.")


def _add_vs_best(report: Report, result: ComparisonResult, level: str) -> None:
    """Each policy's paired purchase lift over the best supervised ranker, per world."""
    best = result.best_supervised
    if best is None or not result.vs_best:
        return
    report.heading(f"Against the best supervised ranker ({best})")
    chosen = "the held-out-logs simulator" if result.validation else "the fitted simulator"
    report.text(
        f"{best} is the supervised ranker with the most purchases in {chosen}; every "
        "policy's purchases per session paired against it on the same sessions.",
        note=True,
    )
    rows = [
        [world, policy, r.diff, r.ci_normal, r.relative, r.relative_ci_bootstrap, r.p_value]
        for world, by_policy in result.vs_best.items()
        for policy, r in by_policy.items()
    ]
    header = ["world", "policy", "lift", f"{level} CI", "relative", "rel. CI", "p-value"]
    formats = {"p-value": format_p, "relative": format_percent, "rel. CI": format_percent}
    report.table("vs_best_supervised", header, rows, formats)


def _add_foresight(report: Report, result: ComparisonResult, level: str) -> None:
    """The simulator's predicted lift over logging beside the true one, the plot of the
    two and the rank agreement (Kendall tau) of the policies."""
    if not result.predicted:
        return
    has_truth = any(np.isfinite(p.true) for p in result.predicted.values())
    report.heading("Does the simulator foresee the lifts?")
    rows = [
        [
            policy,
            p.predicted,
            p.predicted_ci,
            p.spread,
            p.held_out,
            *([p.true, p.true_ci, p.error, "yes" if p.covered else "no"] if has_truth else []),
        ]
        for policy, p in result.predicted.items()
    ]
    header = ["policy", "predicted lift", "predicted interval", "ensemble sd", "held-out sim"]
    if has_truth:
        header += ["true lift", "true interval", "relative error", "covered"]
    percent = ("predicted lift", "predicted interval", "held-out sim", "true lift", "true interval")
    report.table("predicted_vs_true", header, rows, dict.fromkeys(percent, format_percent))
    report.text(
        f"Relative purchase lifts over the logging policy, {level} intervals. The predicted "
        "interval adds the spread of the simulator ensemble (bootstrap resamples of the "
        "logs) to the sampling error, when the run has an ensemble; held-out sim: the lift "
        "in a simulator fitted on the held-out logs alone.",
        note=True,
    )
    if not has_truth:
        return
    report.text(
        f"Kendall tau between the simulated and true order of the policies (the oracle left "
        f"out): {result.kendall_tau:.3f}."
    )
    points = {k: p.to_dict() for k, p in result.predicted.items() if k != result.oracle}
    fig, data = plots.predicted_vs_true(points)
    report.figure(
        "predicted_vs_true",
        fig,
        data,
        "One point per policy; on the dashed y = x line the hidden users gave what the "
        "simulator promised, above it the simulator over-stated the lift.",
    )
