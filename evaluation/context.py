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
from fusionrank.evaluation.traffic import Reformulator, RelevanceJudge
from fusionrank.protocols import UserModel
from fusionrank.retrieval.stages import load_run_retriever
from fusionrank.runs import RunFolder
from fusionrank.simulator.traffic import QuerySampler
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
        run: The run folder.
        retriever: The run's retriever.
        pages: The run's logged pages (catalog item indices).
        sampler: The traffic (first queries of logged sessions).
        queries: Every query a session can type (first queries and rewordings), distinct.
        users: World label (``SIMULATOR``, ``TRUTH``) -> its users.
        reformulate: The rewording, or None.
        judge: The relevance judge for nDCG, or None.
        is_shopworld: True when the run has ShopWorld's hidden truth.
    """

    run: RunFolder
    retriever: Retriever
    pages: LoggedPages
    sampler: QuerySampler
    queries: tuple[Query, ...]
    users: Mapping[str, UserModel]
    reformulate: Reformulator | None
    judge: RelevanceJudge | None
    is_shopworld: bool


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
    run: RunFolder | str | Path, settings: SessionSettings, truth: bool = True
) -> RunWorlds:
    """Load a run's retriever, logs, simulator and (ShopWorld, ``truth``) hidden truth.

    Raises:
        ValueError: If the run has no retriever or fitted simulator (the message names the
            command that makes it).
    """
    from fusionrank.simulator.data import load_fit_data
    from fusionrank.simulator.user_simulator import UserSimulator

    run = RunFolder.at(run)
    retriever = load_run_retriever(run)
    run.require("the fitted simulator (an A/B needs it)", run.simulator.model, "sim fit")
    inputs = run.inputs()
    pages, _ = load_fit_data(inputs.logs, inputs.catalog)
    simulator = UserSimulator.load(run.simulator.model, retriever)
    sampler = QuerySampler.from_pages(pages)
    texts = dict(zip(pages.query_ids.astype(str), pages.query_texts.astype(str), strict=True))
    users: dict[str, UserModel] = {SIMULATOR: simulator}
    reformulate: Reformulator | None = None
    judge: RelevanceJudge | None = None
    if run.world.has_truth:
        from fusionrank.datasets.shopworld.truth import HiddenTruth
        from fusionrank.evaluation.shopworld import ShopWorldJudge, shopworld_reformulation

        hidden = HiddenTruth.load(run.world.truth)
        texts.update(zip(hidden.query_ids.astype(str), hidden.query_texts.astype(str), strict=True))
        reformulate, judge = shopworld_reformulation(hidden), ShopWorldJudge(hidden)
        if truth:
            users[TRUTH] = hidden
    queries = traffic_queries(sampler, texts, reformulate, settings.max_reformulations)
    simulator.add_queries([q.query_id for q in queries], [q.text for q in queries])
    return RunWorlds(
        run, retriever, pages, sampler, queries, users, reformulate, judge, run.world.has_truth
    )
