"""The fidelity report: figures JSON, PNG plots and one HTML page that embeds them.

```
<folder>/figures.json     every figure (fusionrank.simulator.fidelity)
<folder>/*.png            likelihood, perplexity, click-through, purchases, sessions
<folder>/report.html      tables and the plots, self-contained
```
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fusionrank.io import atomic_dir, write_json
from fusionrank.reports import render


def _ranks(values: list) -> np.ndarray:
    return np.arange(1, len(values) + 1)


def _series(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _plot_per_rank(models: dict[str, Any], key: str, ylabel: str, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(7, 4))
    for name, entry in models.items():
        values = _series(entry[key])
        style = "-" if name == "simulator" else "--" if name.endswith("ctr") else "-."
        axes.plot(_ranks(entry[key]), values, style, marker="o", ms=3, label=name)
    axes.set_xlabel("position")
    axes.set_ylabel(ylabel)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_ctr(figures: dict[str, Any], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(7, 4))
    ctr = figures["ctr_per_rank"]
    axes.bar(_ranks(ctr["observed"]), _series(ctr["observed"]), color="#bbb", label="observed")
    axes.plot(_ranks(ctr["simulated"]), _series(ctr["simulated"]), "o-", label="simulated")
    for name in ("rank_ctr", "global_ctr"):
        if name in figures["models"]:
            values = figures["models"][name]["expected_ctr_per_rank"]
            axes.plot(_ranks(values), _series(values), "--", label=f"{name} (baseline)")
    axes.set_xlabel("position")
    axes.set_ylabel("click-through rate")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_sessions(figures: dict[str, Any], path: Path) -> None:
    sessions = figures["sessions"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    observed = sessions["observed"]["session_length_share"]
    simulated = sessions["simulated"]["session_length_share"]
    x = _ranks(observed)
    left.bar(x - 0.2, observed, 0.4, label="observed", color="#bbb")
    left.bar(x + 0.2, simulated, 0.4, label="simulated")
    left.set_xlabel("pages in the session (last bar: or more)")
    left.set_ylabel("share of sessions")
    left.legend(fontsize=8)
    keys = ["reformulation_rate", "abandonment_rate", "purchases_per_session"]
    x = np.arange(len(keys))
    right.bar(x - 0.2, [sessions["observed"][k] for k in keys], 0.4, color="#bbb")
    right.bar(x + 0.2, [sessions["simulated"][k] for k in keys], 0.4)
    right.set_xticks(x, ["reformulate", "abandon", "purchases"], fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _html(figures: dict[str, Any], images: dict[str, bytes]) -> str:
    models = figures["models"]
    model_rows = [
        [name, m["log_likelihood"], m["perplexity"]]
        for name, m in sorted(models.items(), key=lambda kv: -kv[1]["log_likelihood"])
    ]
    sessions = figures["sessions"]
    session_rows = [
        [key, sessions["observed"][key], sessions["simulated"][key]]
        for key, value in sessions["observed"].items()
        if not isinstance(value, list)
    ]
    purchases = figures["purchases"]
    purchase_rows = [
        ["per page", purchases["observed_per_page"], purchases["simulated_per_page"]],
        ["per click", purchases["observed_per_click"], purchases["simulated_per_click"]],
    ]
    return render(
        "fidelity.html.j2",
        title="Simulator fidelity on held-out logs",
        figures=figures,
        model_rows=model_rows,
        purchase_rows=purchase_rows,
        session_rows=session_rows,
        images={name: base64.b64encode(data).decode() for name, data in images.items()},
    )


def write_report(figures: dict[str, Any], folder: str | Path) -> Path:
    """Write figures.json, the PNG plots and report.html into ``folder`` (atomically).

    Returns:
        The path of report.html.
    """
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        write_json(tmp / "figures.json", figures)
        plots = {
            "log_likelihood_per_rank.png": lambda p: _plot_per_rank(
                figures["models"], "log_likelihood_per_rank", "log-likelihood", p
            ),
            "perplexity_per_rank.png": lambda p: _plot_per_rank(
                figures["models"], "perplexity_per_rank", "perplexity", p
            ),
            "ctr_per_rank.png": lambda p: _plot_ctr(figures, p),
            "sessions.png": lambda p: _plot_sessions(figures, p),
        }
        images = {}
        for name, draw in plots.items():
            draw(tmp / name)
            images[name.removesuffix(".png").replace("_", " ")] = (tmp / name).read_bytes()
        (tmp / "report.html").write_text(_html(figures, images))
    return folder / "report.html"
