"""The baselines stage of a run: fit the default order, logging, static-fusion and
LambdaMART policies from the run's logs, retriever and fitted simulator, and save them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrank.agents.baselines.config import BaselinesConfig
from fusionrank.io import read_json
from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.runs import RunFolder

if TYPE_CHECKING:
    from fusionrank.agents.baselines.fitting import FitInputs

BASELINES = ("default-order", "logging", "static-fusion", "lambdamart")


@dataclass(frozen=True)
class BaselinesFit:
    """The saved baselines.

    Args:
        folder: The run's ``policies/`` folder.
        policies: Per policy: kind, version, fit seconds and metrics.
        load_seconds: Time to load the run's logs, retriever and simulator.
    """

    folder: Path
    policies: Mapping[str, Mapping[str, Any]]
    load_seconds: float

    def summary(self) -> dict[str, Any]:
        versions = {name: entry["version"] for name, entry in self.policies.items()}
        return {"policies": str(self.folder), "versions": versions}


def load_fit_inputs(run: RunFolder, retrieval: RetrievalConfig) -> FitInputs:
    """The run's pages, retriever and fitted simulator, with the simulator's split.

    Raises:
        ValueError: If the run has no logs, no retriever index or no fitted simulator, or
            the simulator was fitted without the retriever; the message names the command.
    """
    from fusionrank.agents.baselines.fitting import FitInputs
    from fusionrank.retrieval.stages import load_run_retriever
    from fusionrank.simulator.data import load_fit_data, split_sessions
    from fusionrank.simulator.user_simulator import UserSimulator

    inputs = run.inputs()
    pages, _ = load_fit_data(inputs.logs, inputs.catalog)
    retriever = load_run_retriever(run, retrieval)
    run.require("the fitted simulator (the baselines need it)", run.simulator.fit, "sim fit")
    fitted = read_json(run.simulator.fit)
    if not str(fitted.get("featurizer", "")).startswith("the run's retriever"):
        raise ValueError(
            f"the simulator in {run.simulator.path} was fitted without the run's retriever "
            f"({fitted.get('featurizer')}); rerun `fusionrank sim fit --name {run.name}`"
            " after `fusionrank index build`"
        )
    simulator = UserSimulator.load(run.simulator.model, retriever)
    split = split_sessions(pages, fitted["held_out_fraction"])
    return FitInputs(retriever, simulator, pages, split.train, split.held_out)


def fit_run_baselines(
    run: RunFolder, config: BaselinesConfig, retrieval: RetrievalConfig, seed: int
) -> BaselinesFit:
    """Fit and save the run's baselines (see :mod:`fusionrank.agents.baselines.fitting`)."""
    from fusionrank.agents.baselines.fitting import fit_baselines, save_baselines
    from fusionrank.seeding import int_seed

    started = time.perf_counter()
    inputs = load_fit_inputs(run, retrieval)
    loaded = time.perf_counter() - started
    fitted = fit_baselines(inputs, config, int_seed(seed, "agent"))
    return BaselinesFit(run.policies.path, save_baselines(fitted, run.policies), loaded)


def baseline_outputs(run: RunFolder) -> list[Path]:
    return [run.policies.of(name) for name in BASELINES]
