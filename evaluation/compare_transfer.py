"""What a comparison adds when the run has them: the paired lifts over the best
supervised ranker, the held-out simulator's verdict, and the fitted simulator's predicted
lift over logging beside the true one, its spread from the run's simulator ensemble
(:mod:`fusionrank.evaluation.transfer` holds the statistics)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.evaluation.ab import SessionSettings
from fusionrank.evaluation.config import EvaluationConfig
from fusionrank.evaluation.context import SIMULATOR, TRUTH, RunWorlds
from fusionrank.evaluation.transfer import (
    best_supervised,
    kendall_tau,
    lifts_vs,
    member_values,
    predicted_lifts,
)

if TYPE_CHECKING:
    from fusionrank.agents.policy import Policy
    from fusionrank.evaluation.compare import ComparisonResult


def with_transfer(
    result: ComparisonResult,
    worlds: RunWorlds,
    chosen: Sequence[Policy],
    rankers: dict[str, Any],
    settings: SessionSettings,
    config: EvaluationConfig,
    rng: np.random.Generator,
    ensemble: str | Path | None,
) -> ComparisonResult:
    """Add the lifts over the best supervised ranker and the predicted-vs-true lifts."""
    labels = list(result.policies)
    validation = _validation_values(worlds, rankers, settings)
    best = best_supervised(labels, [p.kind for p in chosen], result.metrics[SIMULATOR], validation)
    vs_best = {}
    if best is not None:
        for world, arms in result.metrics.items():
            others = {k: a for k, a in zip(labels, arms, strict=True) if k != best}
            reference = arms[labels.index(best)]
            vs_best[world] = lifts_vs(reference, others, config.alpha, config.n_bootstrap, rng)
    members = _ensemble_values(worlds, rankers, settings, ensemble)
    by_metric = {
        w: {p: next(r for r in rs if r.metric == "purchases") for p, rs in by_policy.items()}
        for w, by_policy in result.lifts.items()
    }
    predicted = predicted_lifts(
        by_metric[SIMULATOR],
        by_metric.get(TRUTH),
        members,
        result.baseline,
        config.alpha,
        validation,
    )
    tau = float("nan")
    if TRUTH in result.metrics:
        real = [p for p in labels if p != result.oracle]
        means = {
            w: {p: float(result.arm(w, p).purchases.mean()) for p in real}
            for w in (SIMULATOR, TRUTH)
        }
        tau = kendall_tau(means[SIMULATOR], means[TRUTH])
    return replace(
        result,
        best_supervised=best,
        vs_best=vs_best,
        predicted=predicted,
        kendall_tau=tau,
        validation=validation,
    )


def _validation_values(
    worlds: RunWorlds, rankers: dict[str, Any], settings: SessionSettings
) -> dict[str, float]:
    """Each policy's expected purchases in the held-out-logs simulator, if the run has one."""
    from fusionrank.simulator.user_simulator import UserSimulator

    folder = worlds.run.simulator.validation
    if not (folder / "simulator.json").is_file():
        return {}
    held_out = UserSimulator.load(folder, worlds.retriever)
    texts = {q.query_id: q.text for q in worlds.queries}
    values = member_values(
        [held_out], rankers, worlds.sampler, texts, settings.slate_size, settings.max_pages
    )
    return {label: float(v[0]) for label, v in values.items()}


def _ensemble_values(
    worlds: RunWorlds,
    rankers: dict[str, Any],
    settings: SessionSettings,
    ensemble: str | Path | None,
) -> dict[str, np.ndarray] | None:
    """Each policy's expected purchases in every member of the run's simulator ensemble."""
    from fusionrank.simulator.ensemble import ENSEMBLE_FILE, SimulatorEnsemble

    folder = Path(ensemble) if ensemble else worlds.run.simulator.ensemble
    if not (folder / ENSEMBLE_FILE).is_file():
        return None
    loaded = SimulatorEnsemble.load(folder, worlds.retriever)
    texts = {q.query_id: q.text for q in worlds.queries}
    return member_values(
        loaded.members, rankers, worlds.sampler, texts, settings.slate_size, settings.max_pages
    )
