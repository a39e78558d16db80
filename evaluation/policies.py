"""Ranking policies as A/B arms, and the policies a run can name.

A :class:`~fusionrank.agents.policy.Policy` ranks a query deterministically, so an arm
ranks every distinct query of the traffic once, up front, with
:func:`~fusionrank.agents.scoring.rank_candidates` (batched through the retriever), and a
session only looks its query's ranking up: the simulation's hot path is one
``pd.Index.get_indexer`` and one fancy index per batch, whatever the policy costs.

Names a user can give for a policy (``fusionrank ab --a NAME``), tried in this order:

* a folder written by ``Policy.save`` (it holds ``policy.json``);
* a folder name under ``runs/<name>/policies/``;
* ``default``: the retriever's default fusion weights and order
  (:class:`~fusionrank.agents.baselines.DefaultOrder`);
* ``logging``: the logging system's order, fitted from the run's logs
  (:class:`~fusionrank.agents.baselines.LoggingPolicy`);
* ``oracle``: ShopWorld's oracle, ranking by the hidden truth's expected reward
  (:class:`~fusionrank.agents.baselines.OracleShopWorld`; ShopWorld runs only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fusionrank import progress
from fusionrank.runs import RunFolder
from fusionrank.types import PAD, LoggedPages, Query

if TYPE_CHECKING:
    from fusionrank.agents.policy import Policy
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

BUILT_IN = ("default", "logging", "oracle")
POLICY_FILE = "policy.json"


@dataclass(frozen=True, eq=False)
class RankingTable:
    """A ranker that looks each query's precomputed ranking up.

    Args:
        query_ids: object, shape (Q,): the queries it can rank, distinct.
        ranked: int64, shape (Q, R): item indices best first, ``PAD`` past the end.
        name: A label for reports.
    """

    query_ids: np.ndarray
    ranked: np.ndarray
    name: str = "policy"
    _index: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.ranked.ndim != 2 or self.ranked.shape[0] != self.query_ids.shape[0]:
            raise ValueError(
                f"ranked {self.ranked.shape} must be (Q, R) with Q = {self.query_ids.shape[0]}"
            )
        if self.ranked.dtype != np.int64:
            raise ValueError(f"ranked must be int64 item indices, got {self.ranked.dtype}")
        object.__setattr__(self, "_index", pd.Index(self.query_ids.astype(str)))
        if not self._index.is_unique:
            raise ValueError("query_ids must be distinct")

    def __call__(self, query_ids: np.ndarray) -> np.ndarray:
        """int64, shape (B, R): the rankings of object (B,) query ids.

        Raises:
            ValueError: For a query that was not ranked up front.
        """
        rows = self._index.get_indexer(pd.Index(np.asarray(query_ids).astype(str)))
        if np.any(rows < 0):
            unknown = np.asarray(query_ids, dtype=object)[rows < 0][:5]
            raise ValueError(
                f"arm {self.name!r} has no ranking for query id(s) {list(unknown)}; rank "
                "every query of the traffic (and its rewordings) up front"
            )
        return self.ranked[rows]


def policy_ranker(
    policy: Policy,
    retriever: Retriever,
    queries: Sequence[Query],
    k: int,
    batch_size: int = 512,
) -> RankingTable:
    """Rank every query once with ``rank_candidates`` and keep the rankings.

    Args:
        policy: The policy.
        retriever: The run's retriever (the policy's modality and feature names).
        queries: The distinct queries of the traffic, rewordings included.
        k: Ranking depth (``slate_size * max_pages`` covers every page a user can open).
        batch_size: Queries per ``rank_candidates`` call.

    Returns:
        A :class:`RankingTable` named after the policy; rows shorter than ``k`` are
        ``PAD``-padded.
    """
    from fusionrank.agents.scoring import rank_candidates

    if not queries:
        raise ValueError("no queries to rank; the traffic is empty")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    ranked = np.full((len(queries), k), PAD, dtype=np.int64)
    with progress.task(f"rank queries: {policy.name}", total=len(queries)) as advance:
        for start in range(0, len(queries), batch_size):
            part = queries[start : start + batch_size]
            _, ranking = rank_candidates(policy, retriever, part, k)
            ranked[start : start + len(part), : ranking.shape[1]] = ranking
            advance(len(part))
    ids = np.array([q.query_id for q in queries], dtype=object)
    return RankingTable(ids, ranked, policy.name)


def saved_policy_folder(spec: str | Path, run: RunFolder | str | Path) -> Path | None:
    """The folder ``spec`` names: itself when ``Policy.save`` wrote it, else the policy
    of that name in the run's ``policies/``; None when it is neither."""
    for folder in (Path(spec), RunFolder.at(run).policies.of(str(spec))):
        if (folder / POLICY_FILE).is_file():
            return folder
    return None


def resolve_policy(
    spec: str | Path,
    run: RunFolder | str | Path,
    retriever: Retriever,
    pages: LoggedPages | None = None,
) -> Policy:
    """The policy a user named (see the module docstring for the names).

    Args:
        spec: A policy folder, a policy name of the run or a built-in name.
        run: The run folder.
        retriever: The run's retriever (built-ins take its modality and feature names).
        pages: The run's logged pages (needed by ``logging``).

    Raises:
        ValueError: For a name that is none of these; the message lists what exists.
    """
    from fusionrank.agents.policy import load_policy

    run = RunFolder.at(run)
    folder = saved_policy_folder(spec, run)
    if folder is not None:
        return load_policy(folder)
    if str(spec) in BUILT_IN:
        return built_in_policy(str(spec), run, retriever, pages)
    available = [p.name for p in run.policies.saved()] + list(BUILT_IN)
    raise ValueError(
        f"policy {str(spec)!r} is not a policy folder, nor a policy under "
        f"{run.policies.path}, nor a built-in; use one of {', '.join(available)} "
        "or a folder written by Policy.save"
    )


def built_in_policy(
    name: str, run: RunFolder, retriever: Retriever, pages: LoggedPages | None
) -> Policy:
    """``default``, ``logging`` (fitted from ``pages``) or ``oracle`` (ShopWorld only)."""
    from fusionrank.agents.baselines import DefaultOrder, LoggingPolicy, OracleShopWorld

    modalities, features = retriever.modality_names, retriever.feature_names
    if name == "default":
        return DefaultOrder.create(modalities, features)
    if name == "logging":
        if pages is None:
            raise ValueError("the 'logging' policy is fitted from logs; the run has none")
        return LoggingPolicy.fit(pages, modalities, features)
    if name == "oracle":
        return OracleShopWorld.from_truth(run.world.truth, modalities, features)
    raise ValueError(f"unknown built-in policy {name!r}; use one of {', '.join(BUILT_IN)}")
