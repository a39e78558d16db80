"""The run's own report, ``runs/<name>/report.html``: what each stage took, the results
table of the simulated A/B (fitted simulator and, on ShopWorld, hidden users) and links to
every stage's report."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fusionrank.io import read_json
from fusionrank.runs import RunFolder

logger = logging.getLogger(__name__)

METRICS = (
    ("purchases", "purchases / session"),
    ("revenue", "revenue / session"),
    ("ctr", "CTR"),
    ("ndcg", "nDCG@10"),
)


def links(run: RunFolder) -> list[tuple[str, Path]]:
    """The stage reports the run's report links to."""
    return [
        ("fidelity report of the fitted simulator", run.simulator.report_html),
        ("policy comparison (A/B of every policy, with plots)", run.evaluation.compare_html),
        ("baselines: fit times and held-out metrics", run.policies.baselines_summary),
        ("retrieval quality by query intent", run.retrieval.metrics / "eval.json"),
        ("the resolved config of this run", run.config_path),
    ]


def results_rows(compare: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """Per world, one row per policy: mean [95 % CI] of each metric, lift and gap closed."""
    worlds: dict[str, list[list[Any]]] = {}
    for row in compare["rows"]:
        cells: list[Any] = [row["policy"]]
        for metric, _ in METRICS:
            entry = row.get(metric)
            cells.append(entry["mean"] if entry else float("nan"))
            cells.append(tuple(entry["ci"]) if entry else (float("nan"),) * 2)
        lift = (row.get("purchases") or {}).get("lift")
        cells.append(tuple(lift["relative_ci_normal"]) if lift else (float("nan"),) * 2)
        gap = row.get("gap_closed", {}).get("purchases")
        cells.append(float("nan") if gap is None else gap)
        worlds.setdefault(row["world"], []).append(cells)
    return worlds


def _percent(value: Any) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.0%}"


def _percent_interval(value: Any) -> str:
    low, high = value
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return "–"
    return f"[{low:+.1%}, {high:+.1%}]"


def purchases_figure(worlds: dict[str, list[list[Any]]]) -> tuple[Any, dict[str, Any]]:
    """Purchases per session with 95 % intervals, one panel per world."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(worlds), figsize=(5.2 * len(worlds), 3.6), squeeze=False)
    data: dict[str, Any] = {}
    for ax, (world, rows) in zip(axes.ravel(), worlds.items(), strict=True):
        names = [r[0] for r in rows]
        mean = np.array([r[1] for r in rows], dtype=float)
        low = np.array([r[2][0] for r in rows], dtype=float)
        high = np.array([r[2][1] for r in rows], dtype=float)
        y = np.arange(len(names))
        ax.barh(y, mean, xerr=[mean - low, high - mean], color="#1f77b4", capsize=3)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_title(world)
        ax.set_xlabel("purchases per session (95 % CI)")
        data[world] = {"policies": names, "mean": mean, "ci_low": low, "ci_high": high}
    fig.tight_layout()
    return fig, data


def write_summary(run: RunFolder, stage_names: Sequence[str]) -> Path:
    """Write ``report.html`` (and ``report.json``) in the run folder; return its path."""
    from fusionrank.evaluation.report import Report

    report = Report(f"fusionrank run: {run.path.name}")
    stages = []
    for name in stage_names:
        record = run.manifest.stage(name)
        if record is not None:
            stages.append([name, record.seconds])
    report.heading("Stages")
    report.table("stages", ["stage", "seconds"], stages)
    compare_path = run.evaluation.compare_json
    if compare_path.is_file():
        compare = read_json(compare_path)
        worlds = results_rows(compare)
        report.heading("Results")
        report.text(
            f"{compare['sessions']:,} simulated sessions per policy, the same queries and users "
            f"for every policy. Lift is relative to {compare['baseline']} on purchases per "
            "session (95 % CI, paired); gap closed is the share of the distance from "
            f"{compare['baseline']} to {compare.get('oracle') or 'the oracle'} on purchases."
        )
        header = ["policy"]
        for _, label in METRICS:
            header += [label, "95 % CI"]
        header += ["purchase lift", "gap closed"]
        formats = {"purchase lift": _percent_interval, "gap closed": _percent}
        for world, rows in worlds.items():
            report.heading(world)
            report.table(f"results_{world}", header, rows, formats)
        figure, data = purchases_figure(worlds)
        report.figure("purchases", figure, data, "Purchases per session by policy and world.")
    report.heading("Stage reports")
    present = [(label, p.relative_to(run.path)) for label, p in links(run) if p.exists()]
    report.links([(label, href.as_posix()) for label, href in present])
    tensorboard = run.tensorboard
    report.text(
        f"Training curves: tensorboard --logdir {os.fspath(tensorboard)}. "
        f"Serve the trained re-ranker: fusionrank serve --run {os.fspath(run.path)}"
    )
    return report.write(run.path, run.report_html.name, run.report_json.name)
