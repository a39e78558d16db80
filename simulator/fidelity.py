"""The figures of the fidelity report: how well the simulator reproduces held-out logs.

All figures are computed on held-out pages that the simulator and the compared click
models never saw:

* per model (the fitted simulator, each click model fitted on the same training pages,
  and the global and per-rank CTR baselines): log-likelihood and perplexity, overall and
  per rank, conditional on earlier clicks;
* click-through by rank: observed, each model's expected ``P(C_r = 1)`` on the logged
  rankings, and the simulator's sampled clicks;
* purchases per page and per click, observed and simulated;
* sessions: pages per session, its distribution, reformulation and abandonment rates,
  observed and replayed through the simulator (:mod:`fusionrank.simulator.rollout`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from fusionrank import progress
from fusionrank.simulator.click_models import PairClickModel, make_click_model
from fusionrank.simulator.click_models.base import Likelihood, Perplexity
from fusionrank.simulator.rollout import logged_sessions, simulate_sessions
from fusionrank.simulator.user_simulator import UserSimulator
from fusionrank.types import LoggedPages

logger = logging.getLogger(__name__)

SIMULATOR = "simulator"


def _rounded(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in values]


def _fit_entry(ll: Likelihood, pp: Perplexity, ctr: np.ndarray) -> dict[str, Any]:
    return {
        "log_likelihood": round(ll.mean, 6),
        "log_likelihood_per_rank": _rounded(ll.per_rank),
        "perplexity": round(pp.mean, 6),
        "perplexity_per_rank": _rounded(pp.per_rank),
        "expected_ctr_per_rank": _rounded(ctr),
    }


def fit_models(
    train: LoggedPages, names: Sequence[str], simulator: UserSimulator
) -> dict[str, PairClickModel]:
    """Each named click model fitted on ``train`` with the simulator's settings."""
    config = simulator.config
    models = {}
    for name in progress.track(list(names), "report: fitting click models"):
        started = time.perf_counter()
        model = make_click_model(name, config.prior, config.em_iterations, config.em_tolerance)
        models[name] = model.fit(train)
        logger.info("report: %s fitted in %.2f s", name, time.perf_counter() - started)
    return models


def model_figures(
    held_out: LoggedPages, simulator: UserSimulator, models: dict[str, PairClickModel]
) -> dict[str, dict[str, Any]]:
    """Likelihood, perplexity and expected CTR per rank on held-out pages, per model."""
    shown = held_out.shown
    n_shown = np.maximum(shown.sum(axis=0), 1)
    out = {}
    page, _ = simulator.logged_page(held_out)
    ll, pp = simulator.evaluate(held_out)
    out[SIMULATOR] = _fit_entry(ll, pp, page.click_probs().sum(axis=0) / n_shown)
    for name, model in models.items():
        ll, pp = model.evaluate(held_out)
        query, items = model.vocabulary.map_pages(held_out)
        ctr = model.click_probs(query, items).sum(axis=0) / n_shown
        out[name] = _fit_entry(ll, pp, ctr)
    return out


def behaviour_figures(
    held_out: LoggedPages, simulator: UserSimulator, repeats: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Observed and simulated click-through, purchases and sessions."""
    shown = held_out.shown
    n_shown = np.maximum(shown.sum(axis=0), 1)
    page, purchase = simulator.logged_page(held_out)
    clicks = np.zeros(held_out.slate_size)
    purchases = np.zeros(held_out.slate_size)
    simulated = []
    for _ in range(repeats):
        sample = page.sample(purchase, rng)
        clicks += sample.clicks.sum(axis=0)
        purchases += sample.purchases.sum(axis=0)
        simulated.append(simulate_sessions(simulator, held_out, rng).summary())
    observed_sessions = logged_sessions(held_out).summary()
    sim_sessions = {
        key: (
            np.mean([s[key] for s in simulated], axis=0).round(6).tolist()
            if isinstance(observed_sessions[key], list)
            else float(np.mean([s[key] for s in simulated]))
        )
        for key in observed_sessions
    }
    n_pages = len(held_out) * repeats
    return {
        "ctr_per_rank": {
            "observed": _rounded(held_out.clicks.sum(axis=0) / n_shown),
            "simulated": _rounded(clicks / repeats / n_shown),
        },
        "purchases": {
            "recorded": bool(held_out.has_purchases),
            "observed_per_page": float(held_out.purchases.sum() / len(held_out)),
            "simulated_per_page": float(purchases.sum() / n_pages),
            "observed_per_click": float(held_out.purchases.sum() / max(held_out.clicks.sum(), 1)),
            "simulated_per_click": float(purchases.sum() / max(clicks.sum(), 1)),
            "observed_per_rank": _rounded(held_out.purchases.sum(axis=0) / n_shown),
            "simulated_per_rank": _rounded(purchases / repeats / n_shown),
        },
        "sessions": {"observed": observed_sessions, "simulated": sim_sessions},
    }


def fidelity_figures(
    train: LoggedPages,
    held_out: LoggedPages,
    simulator: UserSimulator,
    rng: np.random.Generator,
    model_names: Sequence[str] | None = None,
    repeats: int | None = None,
) -> dict[str, Any]:
    """Every figure of the report as a JSON-ready dict (module docstring).

    Args:
        train: The pages the simulator was fitted on (the compared models fit them too).
        held_out: Pages none of them saw.
        simulator: The fitted simulator.
        rng: The random stream for simulated clicks and sessions.
        model_names: Click models to compare; default: the config's ``report_models``.
        repeats: Simulated replays; default: the config's ``report_repeats``.
    """
    config = simulator.config
    names = config.report_models if model_names is None else model_names
    models = fit_models(train, names, simulator)
    return {
        "click_model": simulator.click_model.name,
        "train_pages": len(train),
        "held_out_pages": len(held_out),
        "held_out_queries_seen_in_training": float(
            np.isin(held_out.query_ids[held_out.query], train.query_ids[train.query]).mean()
        ),
        "models": model_figures(held_out, simulator, models),
        **behaviour_figures(
            held_out, simulator, config.report_repeats if repeats is None else repeats, rng
        ),
        "session_model": simulator.session.to_dict(),
    }
