"""The evaluation's figures, drawn with matplotlib (Agg, no display needed).

Each function returns the figure and the numbers it shows, so that a report can embed the
picture and keep the data beside it as JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from fusionrank.evaluation.interleaving import InterleavingResult
from fusionrank.evaluation.ope.estimators import Estimate
from fusionrank.evaluation.stats import LiftResult

logger = logging.getLogger(__name__)

FigureData = tuple[Figure, dict[str, Any]]
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def lift_bars(
    groups: Mapping[str, Sequence[LiftResult]],
    title: str,
    xlabel: str = "relative lift of B over A (%), 95 % bootstrap interval",
) -> FigureData:
    """Relative lift of B over A per metric, with 95 % bootstrap intervals, one bar per
    group (e.g. "fitted simulator" beside "hidden truth")."""
    metrics = [r.metric for r in next(iter(groups.values()))]
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.55 * len(metrics) * max(1, len(groups))))
    height = 0.8 / len(groups)
    data: dict[str, Any] = {"metrics": metrics, "groups": {}}
    for g, (label, results) in enumerate(groups.items()):
        by_metric = {r.metric: r for r in results}
        rel = np.array([100 * by_metric[m].relative for m in metrics])
        low = np.array([100 * by_metric[m].relative_ci_bootstrap[0] for m in metrics])
        high = np.array([100 * by_metric[m].relative_ci_bootstrap[1] for m in metrics])
        y = np.arange(len(metrics)) + g * height
        ax.barh(y, rel, height=height * 0.9, color=COLOURS[g % len(COLOURS)], label=label)
        ax.errorbar(rel, y, xerr=[rel - low, high - rel], fmt="none", ecolor="black", capsize=3)
        data["groups"][label] = {
            "relative_lift_pct": rel.tolist(),
            "ci_low_pct": low.tolist(),
            "ci_high_pct": high.tolist(),
        }
    ax.set_yticks(np.arange(len(metrics)) + height * (len(groups) - 1) / 2, metrics)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.invert_yaxis()
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig, data


def metric_distributions(
    arms: Mapping[str, Mapping[str, np.ndarray]], metrics: Sequence[str], title: str
) -> FigureData:
    """Histograms of per-session metrics, the arms overlaid.

    Args:
        arms: Arm label -> metric name -> float (n,) per-session values.
        metrics: Which metrics to draw.
    """
    cols = min(3, len(metrics))
    rows = int(np.ceil(len(metrics) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    data: dict[str, Any] = {}
    for ax, metric in zip(axes.ravel(), metrics, strict=False):
        values = [np.asarray(arm[metric], dtype=np.float64) for arm in arms.values()]
        both = np.concatenate(values)
        distinct = np.unique(both)
        bins = (
            np.append(distinct, distinct[-1] + 1) - 0.5
            if distinct.size <= 12 and np.allclose(distinct, np.round(distinct))
            else np.histogram_bin_edges(both, bins=30)
        )
        data[metric] = {"bins": bins.tolist()}
        for i, (label, v) in enumerate(zip(arms, values, strict=True)):
            counts, _ = np.histogram(v, bins=bins)
            share = counts / max(len(v), 1)
            ax.stairs(share, bins, label=label, color=COLOURS[i % len(COLOURS)], linewidth=1.5)
            data[metric][label] = share.tolist()
        ax.set_title(metric, fontsize=10)
        ax.set_ylabel("share of sessions", fontsize=8)
    for ax in axes.ravel()[len(metrics) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, data


def cumulative_lift(curves: Mapping[str, Mapping[str, np.ndarray]], title: str) -> FigureData:
    """The running mean difference (B - A) as sessions accumulate, with its 95 % band.

    Args:
        curves: Label -> :func:`fusionrank.evaluation.stats.cumulative_lift` output.
    """
    fig, ax = plt.subplots(figsize=(8, 4))
    data: dict[str, Any] = {}
    for i, (label, curve) in enumerate(curves.items()):
        colour = COLOURS[i % len(COLOURS)]
        ax.plot(curve["sessions"], curve["diff"], color=colour, label=label)
        ax.fill_between(curve["sessions"], curve["low"], curve["high"], color=colour, alpha=0.2)
        data[label] = {k: np.asarray(v).tolist() for k, v in curve.items()}
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xlabel("sessions")
    ax.set_ylabel("mean difference B - A")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, data


def interleaving_win_rate(result: InterleavingResult, names: tuple[str, str]) -> FigureData:
    """Sessions won by each ranker, and B's win rate with its Wilson interval."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), width_ratios=(2, 1))
    counts = [result.wins_a, result.ties, result.wins_b]
    labels = [f"{names[0]} wins", "ties", f"{names[1]} wins"]
    left.bar(labels, counts, color=[COLOURS[0], "#bbbbbb", COLOURS[1]])
    left.set_ylabel("sessions")
    left.set_title(f"team-draft interleaving, {result.n:,} sessions")
    low, high = result.win_rate_ci
    right.errorbar(
        [0],
        [result.win_rate],
        yerr=[[result.win_rate - low], [high - result.win_rate]],
        fmt="o",
        color=COLOURS[1],
        capsize=6,
    )
    right.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    right.set_xticks([0], [f"{names[1]} win rate"])
    right.set_xlim(-1, 1)
    right.set_title(f"p {'< 1e-300' if result.p_value == 0 else f'= {result.p_value:.2g}'}")
    fig.tight_layout()
    data = {
        "counts": dict(zip(labels, counts, strict=True)),
        "win_rate": result.win_rate,
        "ci": [low, high],
        "p_value": result.p_value,
    }
    return fig, data


def ope_vs_truth(
    estimates: Mapping[str, Sequence[Estimate]], truth: Mapping[str, float], title: str
) -> FigureData:
    """Each estimator's value with its interval beside the ground truth, per panel.

    Args:
        estimates: Panel (e.g. campaign) -> estimates.
        truth: Panel -> the true value (the on-policy CTR).
    """
    fig, axes = plt.subplots(1, len(estimates), figsize=(4.2 * len(estimates), 3.6), squeeze=False)
    data: dict[str, Any] = {}
    for ax, (panel, results) in zip(axes.ravel(), estimates.items(), strict=True):
        names = [e.estimator for e in results]
        values = np.array([e.value for e in results])
        low = np.array([e.ci[0] for e in results])
        high = np.array([e.ci[1] for e in results])
        x = np.arange(len(results))
        ax.errorbar(x, values, yerr=[values - low, high - values], fmt="o", capsize=4)
        ax.axhline(truth[panel], color=COLOURS[3], linestyle="--", label="ground truth")
        ax.set_xticks(x, names, rotation=45, fontsize=8)
        ax.set_title(panel)
        ax.legend(fontsize=8)
        data[panel] = {
            "estimators": names,
            "value": values.tolist(),
            "low": low.tolist(),
            "high": high.tolist(),
            "truth": truth[panel],
        }
    fig.suptitle(title)
    fig.tight_layout()
    return fig, data


def error_bars(
    table: Mapping[str, Mapping[str, Mapping[str, tuple[float, float]]]], title: str, xlabel: str
) -> FigureData:
    """Mean ± sd bars, one panel per group and one colour per series (e.g. ours vs a peer).

    Args:
        table: Series -> panel -> row label -> (mean, sd). Each panel's axis ends at three
            times its largest mean, so one wild bar does not flatten the rest; whiskers
            beyond it are cut at the edge.
    """
    series = list(table)
    panels = list(next(iter(table.values())))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    height = 0.8 / len(series)
    for ax, panel in zip(axes.ravel(), panels, strict=True):
        labels = list(table[series[0]][panel])
        highs, means = [0.0], [0.0]
        for s, name in enumerate(series):
            rows = [table[name].get(panel, {}).get(label, (np.nan, np.nan)) for label in labels]
            mean = np.array([r[0] for r in rows])
            sd = np.array([r[1] for r in rows])
            y = np.arange(len(labels)) + s * height
            colour = COLOURS[s % len(COLOURS)]
            ax.barh(y, mean, xerr=sd, height=height * 0.9, color=colour, label=name, capsize=3)
            highs.append(float(np.nanmax(mean + sd, initial=0.0)))
            means.append(float(np.nanmax(mean, initial=0.0)))
        top = min(max(highs), 3 * max(means))
        ax.set_xlim(0, top * 1.05 if top > 0 else 1)
        ax.set_yticks(np.arange(len(labels)) + height * (len(series) - 1) / 2, labels)
        ax.invert_yaxis()
        ax.set_title(panel)
        ax.set_xlabel(xlabel)
    axes.ravel()[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    data = {
        name: {panel: {k: list(v) for k, v in rows.items()} for panel, rows in panels_.items()}
        for name, panels_ in table.items()
    }
    return fig, data


def predicted_vs_true(
    points: Mapping[str, Mapping[str, Any]],
    title: str = "Predicted vs true lift over the logging policy",
) -> FigureData:
    """The simulator's predicted lift against the true one, one point per policy.

    Args:
        points: Policy -> ``PredictedLift.to_dict()`` fields: ``predicted``,
            ``predicted_ci`` (the simulator's interval with its ensemble spread: vertical
            bars), ``true`` and ``true_ci`` (horizontal bars). Relative lifts, e.g. 0.2.

    A point on the ``y = x`` line is a prediction the hidden users confirmed; above it the
    simulator promised more than the users gave.
    """
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    data: dict[str, Any] = {}
    lows, highs = [0.0], [0.0]
    for i, (label, point) in enumerate(points.items()):
        x, y = 100 * float(point["true"]), 100 * float(point["predicted"])
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        x_ci = [100 * float(v) for v in point["true_ci"]]
        y_ci = [100 * float(v) for v in point["predicted_ci"]]
        colour = COLOURS[i % len(COLOURS)]
        ax.errorbar(
            [x],
            [y],
            xerr=[[x - x_ci[0]], [x_ci[1] - x]],
            yerr=[[y - y_ci[0]], [y_ci[1] - y]],
            fmt="o",
            color=colour,
            capsize=3,
            label=label,
        )
        lows += [x_ci[0], y_ci[0]]
        highs += [x_ci[1], y_ci[1]]
        data[label] = {"true_pct": x, "true_ci_pct": x_ci, "predicted_pct": y, "ci_pct": y_ci}
    low, high = min(lows), max(highs)
    pad = 0.05 * (high - low or 1.0)
    ax.plot([low - pad, high + pad], [low - pad, high + pad], color="grey", linestyle="--")
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel("true lift on the hidden users (%), 95 % interval")
    ax.set_ylabel("fitted simulator's predicted lift (%), with its uncertainty")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig, data
