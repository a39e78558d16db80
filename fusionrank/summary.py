"""The run's own report, ``runs/<name>/report.html``: what the run was built on, a verdict
per policy, the results of the simulated A/B (the fitted simulator and, on ShopWorld, the
hidden users), how far to trust the simulator, the stages, and links to every stage's
report. Rendered from ``templates/run.html.j2``.

On the user's own data there is no hidden truth: the report says so, says what stands in
for it (the fitted simulator's verdict, with its fidelity figures, and off-policy
estimates from the logs alone) and shows no oracle and no gap to one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusionrank.io import read_json
from fusionrank.reports import format_cell, png_base64, render
from fusionrank.runs import RunFolder

logger = logging.getLogger(__name__)

LEARNED_PREFIXES = ("ppo-", "pg-")
"""Policy names of what RL trains (``ppo-fusion``, ``ppo-rerank``, ``pg-joint``)."""
METRICS = (
    ("purchases", "purchases / session"),
    ("revenue", "revenue / session"),
    ("ctr", "CTR"),
    ("ndcg", "nDCG@10"),
)


def confidence(compare: Mapping[str, Any]) -> str:
    """The lifts' confidence level, e.g. ``95 %`` (from their ``alpha``)."""
    for row in compare["rows"]:
        for metric, _ in METRICS:
            lift = (row.get(metric) or {}).get("lift")
            if lift:
                return f"{1 - lift['alpha']:.0%}".replace("%", " %")
    return "95 %"


def links(run: RunFolder) -> list[tuple[str, Path]]:
    """The stage reports the run's report links to."""
    return [
        ("fidelity report of the fitted simulator", run.simulator.report_html),
        ("policy comparison (A/B of every policy, with plots)", run.evaluation.compare_html),
        ("baselines: fit times and held-out metrics", run.policies.baselines_summary),
        ("retrieval quality by query intent", run.retrieval.metrics / "eval.json"),
        ("the resolved config of this run", run.config_path),
    ]


def _interval(low: float | None, high: float | None, percent: bool = False) -> str:
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return "–"
    if percent:
        return f"[{low:+.1%}, {high:+.1%}]"
    return f"[{format_cell(float(low))}, {format_cell(float(high))}]"


def _estimate(entry: Mapping[str, Any] | None) -> str:
    """``mean [low, high]`` of one metric of one policy."""
    if not entry:
        return "–"
    low, high = entry["ci"]
    return f"{format_cell(float(entry['mean']))} {_interval(low, high)}"


def _lift(entry: Mapping[str, Any] | None) -> str:
    """The relative lift over the baseline with its interval, e.g. ``+8.5% [+5.3%, +11.8%]``."""
    return _lift_of((entry or {}).get("lift"))


def _lift_of(lift: Mapping[str, Any] | None) -> str:
    if not lift or lift.get("relative") is None:
        return "–"
    low, high = lift["relative_ci_normal"]
    return f"{lift['relative']:+.1%} {_interval(low, high, percent=True)}"


def verdict_metric(rows: Sequence[Mapping[str, Any]]) -> str:
    """Purchases per session when any policy's sessions bought, else CTR."""
    bought = any((row.get("purchases") or {}).get("mean", 0) > 0 for row in rows)
    return "purchases" if bought else "ctr"


def verdict(row: Mapping[str, Any], metric: str, baseline: str, level: str) -> str:
    """One sentence: better than, worse than or not different from the baseline."""
    return _sentence(row["policy"], (row.get(metric) or {}).get("lift"), metric, baseline, level)


def _sentence(
    policy: str, lift: Mapping[str, Any] | None, metric: str, reference: str, level: str
) -> str:
    if not lift or lift.get("relative") is None:
        return f"{policy}: not compared (no paired lift on {metric})."
    low, high = lift["relative_ci_normal"]
    shown = f"{lift['relative']:+.1%} {_interval(low, high, percent=True)} {metric}"
    if low is not None and low > 0:
        return f"{policy}: better than {reference} with {level} confidence ({shown})."
    if high is not None and high < 0:
        return f"{policy}: worse than {reference} with {level} confidence ({shown})."
    return f"{policy}: no significant difference from {reference} ({shown})."


def versus_best(rows: Sequence[Mapping[str, Any]], best: str | None, level: str) -> list[str]:
    """Sentences for the learned policies against the best supervised ranker."""
    if best is None:
        return []
    return [
        _sentence(r["policy"], r["vs_best_supervised"], "purchases", best, level)
        for r in rows
        if "vs_best_supervised" in r and r["policy"].startswith(LEARNED_PREFIXES)
    ]


@dataclass(frozen=True)
class WorldResults:
    """One world's results: table rows, verdict sentences, the purchases figure's data."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    verdicts: tuple[str, ...]


def world_results(compare: Mapping[str, Any], oracle: bool) -> list[WorldResults]:
    """Per world: a row per policy (estimates beside intervals), and a verdict per policy
    against the baseline."""
    baseline, level = compare["baseline"], confidence(compare)
    best = compare.get("best_supervised")
    worlds: dict[str, list[Mapping[str, Any]]] = {}
    for row in compare["rows"]:
        worlds.setdefault(row["world"], []).append(row)
    out = []
    for world, rows in worlds.items():
        metrics = [(m, label) for m, label in METRICS if any(m in r for r in rows)]
        header = ["policy", *(label for _, label in metrics), f"purchases vs {baseline}"]
        header += ["gap closed"] if oracle else []
        header += [f"purchases vs {best}"] if best else []
        table = []
        for row in rows:
            cells = [row["policy"], *(_estimate(row.get(m)) for m, _ in metrics)]
            cells.append(_lift(row.get("purchases")))
            if oracle:
                gap = (row.get("gap_closed") or {}).get("purchases")
                cells.append("–" if gap is None or not np.isfinite(gap) else f"{gap:.0%}")
            if best:
                cells.append(_lift_of(row.get("vs_best_supervised")))
            table.append(tuple(cells))
        metric = verdict_metric(rows)
        sentences = tuple(
            verdict(r, metric, baseline, level)
            for r in rows
            if r["policy"] not in (baseline, compare.get("oracle"))
        ) + tuple(versus_best(rows, best, level) if metric == "purchases" else ())
        out.append(WorldResults(world, tuple(header), tuple(table), sentences))
    return out


def purchases_figure(compare: Mapping[str, Any]) -> str:
    """Purchases per session with 95 % intervals, one panel per world, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worlds: dict[str, list[Mapping[str, Any]]] = {}
    for row in compare["rows"]:
        if row.get("purchases"):
            worlds.setdefault(row["world"], []).append(row)
    fig, axes = plt.subplots(1, len(worlds), figsize=(5.2 * len(worlds), 3.6), squeeze=False)
    for ax, (world, rows) in zip(axes.ravel(), worlds.items(), strict=True):
        mean = np.array([r["purchases"]["mean"] for r in rows], dtype=float)
        low = np.array([r["purchases"]["ci"][0] for r in rows], dtype=float)
        high = np.array([r["purchases"]["ci"][1] for r in rows], dtype=float)
        y = np.arange(len(rows))
        ax.barh(y, mean, xerr=[mean - low, high - mean], color="#1f77b4", capsize=3)
        ax.set_yticks(y, [r["policy"] for r in rows])
        ax.invert_yaxis()
        ax.set_title(world)
        ax.set_xlabel("purchases per session (95 % CI)")
    fig.tight_layout()
    return png_base64(fig)


def _fidelity(run: RunFolder) -> dict[str, Any] | None:
    """The simulator's held-out log-likelihood beside the position-only baseline."""
    path = run.simulator.report / "figures.json"
    if not path.is_file():
        return None
    figures = read_json(path)
    models = figures["models"]
    return {
        "click_model": figures["click_model"],
        "held_out_pages": figures["held_out_pages"],
        "simulator": models.get("simulator", {}).get("log_likelihood"),
        "rank_ctr": models.get("rank_ctr", {}).get("log_likelihood"),
    }


def _context(run: RunFolder, stage_names: Sequence[str]) -> dict[str, Any]:
    manifest = run.manifest
    inputs = manifest.inputs() or {}
    stages = [(n, r.seconds) for n in stage_names if (r := manifest.stage(n)) is not None]
    index = manifest.stage("index")
    world = run.world.summary
    compare = (
        read_json(run.evaluation.compare_json) if run.evaluation.compare_json.is_file() else None
    )
    oracle = bool(compare and compare.get("oracle"))
    return {
        "title": f"fusionrank run: {run.name}",
        "own_data": bool(inputs.get("own_data")),
        "inputs": inputs,
        "world": read_json(world) if world.is_file() and not inputs.get("own_data") else None,
        "has_truth": run.world.has_truth,
        "modalities": list(index.summary.get("modalities", [])) if index else [],
        "compare": compare,
        "worlds": world_results(compare, oracle) if compare else [],
        "figure": purchases_figure(compare) if compare else None,
        "fidelity": _fidelity(run),
        "stages": [(n, f"{s:.1f}") for n, s in stages],
        "links": [
            (label, p.relative_to(run.path).as_posix()) for label, p in links(run) if p.exists()
        ],
        "tensorboard": os.fspath(run.tensorboard),
        "run_path": os.fspath(run.path),
    }


def write_summary(run: RunFolder, stage_names: Sequence[str]) -> Path:
    """Write ``report.html`` (and ``report.json``, its figures) in the run folder; return
    the HTML path."""
    from fusionrank.io import atomic_path, write_json

    context = _context(run, stage_names)
    with atomic_path(run.report_html) as tmp:
        tmp.write_text(render("run.html.j2", **context), encoding="utf-8")
    figures = {
        "inputs": context["inputs"],
        "stages": context["stages"],
        "verdicts": {w.name: list(w.verdicts) for w in context["worlds"]},
        "results": {w.name: {"header": w.header, "rows": w.rows} for w in context["worlds"]},
        "fidelity": context["fidelity"],
    }
    write_json(run.report_json, figures)
    logger.info("report written to %s", run.report_html)
    return run.report_html
