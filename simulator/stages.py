"""The simulator stage of a run: fit the user simulator on the run's logs, then judge it
on the held-out sessions. Both read the run's recorded inputs and write ``run.simulator``."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrank.io import read_json, write_json
from fusionrank.runs import RunFolder
from fusionrank.simulator.config import SimulatorConfig

if TYPE_CHECKING:
    from fusionrank.protocols import PairFeaturizer
    from fusionrank.simulator.data import Split
    from fusionrank.simulator.user_simulator import UserSimulator
    from fusionrank.types import Catalog


@dataclass(frozen=True)
class SimulatorFit:
    """A fitted simulator and what it was fitted on (also ``simulator/fit.json``).

    Args:
        model: The saved simulator's folder.
        logs: The log file.
        catalog: The catalog file.
        featurizer: Which pair features it used (the run's retriever or the catalog's).
        click_model: The chosen click model's name.
        train_pages: Pages it was fitted on.
        held_out_pages: Pages kept for the fidelity report.
        held_out_fraction: The held-out share of sessions.
        pairs: (query, item) pairs in its table.
        session: The fitted session rates.
        seconds: Wall time of the fit.
    """

    model: Path
    logs: Path
    catalog: Path
    featurizer: str
    click_model: str
    train_pages: int
    held_out_pages: int
    held_out_fraction: float
    pairs: int
    session: Mapping[str, Any]
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {**self.to_json(), "seconds": round(self.seconds, 2)}

    def to_json(self) -> dict[str, Any]:
        """What ``fit.json`` holds: everything but the wall time, so that a refit on the
        same data writes the same bytes."""
        return {
            "logs": str(self.logs),
            "catalog": str(self.catalog),
            "featurizer": self.featurizer,
            "click_model": self.click_model,
            "train_pages": self.train_pages,
            "held_out_pages": self.held_out_pages,
            "held_out_fraction": self.held_out_fraction,
            "pairs": self.pairs,
            "session": dict(self.session),
        }


def fit_run_simulator(run: RunFolder, config: SimulatorConfig) -> SimulatorFit:
    """Fit the click, purchase and session models on the run's logs (the earliest
    sessions; the latest ``held_out_fraction`` are kept for the report) and save it."""
    from fusionrank.simulator.data import (
        catalog_prices,
        load_fit_data,
        run_featurizer,
        split_sessions,
    )
    from fusionrank.simulator.fitting import fit_simulator

    started = time.perf_counter()
    inputs = run.inputs()
    pages, catalog = load_fit_data(inputs.logs, inputs.catalog)
    split = split_sessions(pages, config.held_out_fraction)
    featurizer, which = run_featurizer(run, catalog)
    simulator = fit_simulator(split.train, featurizer, catalog_prices(catalog), config)
    simulator.save(run.simulator.model)
    fit = SimulatorFit(
        model=run.simulator.model,
        logs=inputs.logs,
        catalog=inputs.catalog,
        featurizer=which,
        click_model=simulator.click_model.name,
        train_pages=len(split.train),
        held_out_pages=len(split.held_out),
        held_out_fraction=split.fraction,
        pairs=len(simulator.click_model.table),
        session=simulator.session.to_dict(),
        seconds=time.perf_counter() - started,
    )
    write_json(run.simulator.fit, fit.to_json())
    return fit


def load_run_simulator(run: RunFolder) -> tuple[UserSimulator, Split]:
    """The run's fitted simulator (features from the run's retriever, or the catalog's
    when it was fitted without one) and its train / held-out split of the logs.

    Raises:
        ValueError: If the run has no fitted simulator; the message names the command.
    """
    from fusionrank.simulator.user_simulator import UserSimulator

    split, _, featurizer = _fitted_on(run)
    return UserSimulator.load(run.simulator.model, featurizer), split


def _fitted_on(run: RunFolder) -> tuple[Split, Catalog, PairFeaturizer]:
    """What the run's simulator was fitted on: the train / held-out split of its logs, its
    catalog and its pair features (the run's retriever, else the catalog's).

    Raises:
        ValueError: If the run has no fitted simulator; the message names the command.
    """
    from fusionrank.simulator.data import load_fit_data, run_featurizer, split_sessions

    run.require("the fitted simulator", run.simulator.fit, "sim fit")
    inputs = run.inputs()
    pages, catalog = load_fit_data(inputs.logs, inputs.catalog)
    featurizer, _ = run_featurizer(run, catalog)
    split = split_sessions(pages, read_json(run.simulator.fit)["held_out_fraction"])
    return split, catalog, featurizer


@dataclass(frozen=True)
class SimulatorReport:
    """The fidelity report of a fitted simulator.

    Args:
        path: ``report.html``.
        models: Per click model (the simulator's and the references), the held-out
            ``log_likelihood`` and ``perplexity``.
    """

    path: Path
    models: Mapping[str, Mapping[str, float]]

    def summary(self) -> dict[str, Any]:
        return {"report": str(self.path)}

    def ranked(self) -> list[tuple[str, float, float]]:
        """``(model, log-likelihood, perplexity)``, best first."""
        rows = [(k, m["log_likelihood"], m["perplexity"]) for k, m in self.models.items()]
        return sorted(rows, key=lambda row: -row[1])


def report_run_simulator(run: RunFolder, config: SimulatorConfig, seed: int) -> SimulatorReport:
    """Judge the fitted simulator on the held-out sessions: HTML, PNG plots and JSON.

    Raises:
        ValueError: If it was fitted on every session (nothing is held out).
    """
    from fusionrank.seeding import rng
    from fusionrank.simulator.fidelity import fidelity_figures
    from fusionrank.simulator.report import write_report

    simulator, split = load_run_simulator(run)
    if len(split.held_out) == 0:
        raise ValueError(
            "the simulator was fitted on every session (held_out_fraction=0); refit with"
            " --set simulator.held_out_fraction=0.25 to keep sessions for the report"
        )
    figures = fidelity_figures(
        split.train,
        split.held_out,
        simulator,
        rng(seed, "simulator"),
        model_names=config.report_models,
        repeats=config.report_repeats,
    )
    path = write_report(figures, run.simulator.report)
    return SimulatorReport(path, figures["models"])


@dataclass(frozen=True)
class CompanionFit:
    """The fitted simulator's companions (``simulator/validation``, ``simulator/ensemble``).

    Args:
        validation: The held-out simulator's folder, or None when not fitted.
        ensemble: The ensemble's folder, or None when not fitted.
        members: Ensemble members.
        seconds: Wall time of each fit, by folder name.
    """

    validation: Path | None
    ensemble: Path | None
    members: int
    seconds: Mapping[str, float]

    def summary(self) -> dict[str, Any]:
        return {
            "validation simulator": str(self.validation) if self.validation else "none",
            "ensemble": f"{self.members} members in {self.ensemble}" if self.ensemble else "none",
            **{f"{name} seconds": round(s, 1) for name, s in self.seconds.items()},
        }


def fit_run_companions(run: RunFolder, config: SimulatorConfig, seed: int) -> CompanionFit:
    """Fit the simulator's companions on the same split of the run's logs: a simulator on
    the held-out sessions alone (``simulator.validation``), which judges policies and picks
    the best supervised ranker on logs neither was fitted on, and
    ``simulator.ensemble_members`` simulators on bootstrap resamples of the training
    sessions, whose spread is the simulator's own uncertainty."""
    from fusionrank.seeding import int_seed
    from fusionrank.simulator.data import catalog_prices
    from fusionrank.simulator.ensemble import fit_ensemble
    from fusionrank.simulator.fitting import fit_simulator

    split, catalog, featurizer = _fitted_on(run)
    prices = catalog_prices(catalog)
    folder, seconds = run.simulator, dict[str, float]()
    validation = ensemble = None
    for stale in (folder.validation, folder.ensemble):  # a refit must not leave old ones
        if stale.exists():
            shutil.rmtree(stale)
    if config.validation and len(split.held_out):
        started = time.perf_counter()
        fit_simulator(split.held_out, featurizer, prices, config).save(folder.validation)
        validation, seconds["validation"] = folder.validation, time.perf_counter() - started
    members = config.ensemble_members
    if members > 1:
        started = time.perf_counter()
        fitted = fit_ensemble(
            split.train, featurizer, prices, config, members, int_seed(seed, "ensemble")
        )
        fitted.save(folder.ensemble)
        ensemble, seconds["ensemble"] = folder.ensemble, time.perf_counter() - started
    return CompanionFit(validation, ensemble, members if ensemble else 0, seconds)
