"""What an A/B of policies on a run needs, loaded once: the run's retriever, logs, traffic,
fitted simulator and, for ShopWorld, the hidden truth.

Both worlds get the same traffic, so that the simulator's prediction and the hidden users'
response differ only by the users:

* **queries**: each logged session's first query, with its share of the logs
  (:meth:`QuerySampler.from_pages`): the traffic any run has, ShopWorld or not;
* **rewording**: on ShopWorld, the next wording of the same need
  (:func:`~fusionrank.evaluation.shopworld.shopworld_reformulation`) in both worlds; other
  runs have no rewording (``max_reformulations`` is then 0);
* **relevance**: ShopWorld's true grades judge nDCG@k in both worlds; none elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fusionrank.evaluation.ab import SessionSettings
from fusionrank.evaluation.traffic import QuerySampler, Reformulator, RelevanceJudge
from fusionrank.io import read_json
from fusionrank.protocols import UserModel
from fusionrank.types import LoggedPages, Query

if TYPE_CHECKING:
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

SIMULATOR = "fitted simulator"
TRUTH = "hidden truth"


@dataclass(frozen=True, eq=False)
class RunWorlds:
    """A run's users and traffic for simulated A/B tests.

    Args:
        run_dir: The run folder.
        retriever: The run's retriever.
        pages: The run's logged pages (catalog item indices).
        sampler: The traffic (first queries of logged sessions).
        queries: Every query a session can type (first queries and rewordings), distinct.
        users: World label (``SIMULATOR``, ``TRUTH``) -> its users.
        reformulate: The rewording, or None.
        judge: The relevance judge for nDCG, or None.
        truth_dir: ShopWorld's hidden-truth folder, or None for other runs.
    """

    run_dir: Path
    retriever: Retriever
    pages: LoggedPages
    sampler: QuerySampler
    queries: tuple[Query, ...]
    users: Mapping[str, UserModel]
    reformulate: Reformulator | None
    judge: RelevanceJudge | None
    truth_dir: Path | None

    @property
    def is_shopworld(self) -> bool:
        return self.truth_dir is not None


def _inputs(run_dir: Path) -> tuple[Path, Path]:
    """The log and catalog files the simulator was fitted on (else the run's world)."""
    fit = run_dir / "simulator" / "fit.json"
    if fit.is_file():
        fitted = read_json(fit)
        return Path(fitted["logs"]), Path(fitted["catalog"])
    data = run_dir / "world" / "data"
    return data / "logs.parquet", data / "catalog.parquet"


def _check_run(run_dir: Path) -> None:
    needed = {
        "retrieval": "fusionrank index build",
        "simulator/model": "fusionrank sim fit",
    }
    for folder, command in needed.items():
        if not (run_dir / folder).is_dir():
            raise ValueError(
                f"{run_dir / folder} is missing; an A/B needs the run's retriever and fitted "
                f"simulator: run `{command} --name {run_dir.name}` first"
            )


def traffic_queries(
    sampler: QuerySampler,
    texts: Mapping[str, str],
    reformulate: Reformulator | None,
    max_reformulations: int,
) -> tuple[Query, ...]:
    """The distinct queries sessions can type: the first queries and their rewordings.

    Args:
        sampler: The traffic.
        texts: Query id -> text, for every query reachable.
        reformulate: The rewording, or None.
        max_reformulations: Rewordings per session.
    """
    ids = np.asarray(sampler.query_ids, dtype=object)
    reached = [ids]
    for _ in range(max_reformulations if reformulate is not None else 0):
        ids = np.asarray(reformulate(ids), dtype=object)  # type: ignore[misc]
        reached.append(ids)
    distinct = pd.unique(np.concatenate(reached).astype(str))
    missing = [q for q in distinct if q not in texts]
    if missing:
        raise ValueError(f"no text for query id(s) {missing[:5]}; the logs must carry them")
    return tuple(Query(str(q), texts[str(q)]) for q in distinct)


def load_run_worlds(
    run_dir: str | Path, settings: SessionSettings, truth: bool = True
) -> RunWorlds:
    """Load a run's retriever, logs, simulator and (ShopWorld, ``truth``) hidden truth.

    Raises:
        ValueError: If the run has no retriever or fitted simulator (the message names the
            command that makes it).
    """
    from fusionrank.simulator.data import load_fit_data, run_featurizer
    from fusionrank.simulator.user_simulator import UserSimulator

    run_dir = Path(run_dir)
    _check_run(run_dir)
    pages, catalog = load_fit_data(*_inputs(run_dir))
    featurizer, which = run_featurizer(run_dir, catalog)
    from fusionrank.retrieval.retriever import Retriever

    if isinstance(featurizer, Retriever):
        retriever = featurizer
    else:
        retriever = Retriever.load(run_dir / "retrieval")
    logger.info("evaluation: simulator features from %s", which)
    simulator = UserSimulator.load(run_dir / "simulator" / "model", featurizer)
    sampler = QuerySampler.from_pages(pages)
    texts = dict(zip(pages.query_ids.astype(str), pages.query_texts.astype(str), strict=True))
    users: dict[str, UserModel] = {SIMULATOR: simulator}
    reformulate: Reformulator | None = None
    judge: RelevanceJudge | None = None
    truth_dir: Path | None = run_dir / "world" / "truth"
    if truth_dir is not None and (truth_dir / "user_model.json").is_file():
        from fusionrank.datasets.shopworld.truth import HiddenTruth
        from fusionrank.evaluation.shopworld import ShopWorldJudge, shopworld_reformulation

        hidden = HiddenTruth.load(truth_dir)
        texts.update(zip(hidden.query_ids.astype(str), hidden.query_texts.astype(str), strict=True))
        reformulate, judge = shopworld_reformulation(hidden), ShopWorldJudge(hidden)
        if truth:
            users[TRUTH] = hidden
    else:
        truth_dir = None
    queries = traffic_queries(sampler, texts, reformulate, settings.max_reformulations)
    simulator.add_queries([q.query_id for q in queries], [q.text for q in queries])
    return RunWorlds(
        run_dir, retriever, pages, sampler, queries, users, reformulate, judge, truth_dir
    )
