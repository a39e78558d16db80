"""The report of :func:`~fusionrank.evaluation.compare.compare_policies`: one table of
every policy in every world, lift bars over the logging baseline and the means with
their intervals, written as ``compare.html`` and ``compare.json``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrank.evaluation import plots
from fusionrank.reports import Report, format_p

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
    extra = {
        "policies": list(result.policies),
        "baseline": result.baseline,
        "oracle": result.oracle,
        "sessions": result.sessions,
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
