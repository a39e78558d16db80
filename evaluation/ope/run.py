"""``fusionrank ope``: estimate a target policy's value per impression from logs alone.

:func:`load_bandit_log` reads a fusionrank log (or an OBD CSV) as a :class:`LoggedBandit`;
:func:`target_policy` builds the policy a user named (``uniform``, a score table, a saved
policy or a built-in) on it; :func:`estimate_ope` runs every estimator and writes the
report (``evaluation/ope/`` of the run by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.evaluation.config import EvaluationConfig
from fusionrank.evaluation.ope.data import BanditLog
from fusionrank.evaluation.ope.estimators import Estimate
from fusionrank.evaluation.ope.position import (
    Impressions,
    estimate_without_propensities,
    impressions_from_pages,
)
from fusionrank.evaluation.ope.targets import TargetPolicy
from fusionrank.runs import RunFolder
from fusionrank.types import LoggedPages

LOG_FORMATS = ("auto", "fusionrank", "obd")


@dataclass(frozen=True, eq=False)
class LoggedBandit:
    """Logs as bandit feedback, with what a target policy needs to act on them.

    Args:
        log: One row per logged impression: with propensities a :class:`BanditLog`,
            without them :class:`~fusionrank.evaluation.ope.position.Impressions` (for the
            position-based estimators only).
        group_query: object, shape (G,): each logged page's query id.
        pools: int64, shape (G, P): each page's candidates (items the logs ever showed
            for its query; every item for OBD).
        item_ids: The log's item ids (its action vocabulary), or None for OBD.
        pages: The logged pages, or None for OBD.
    """

    log: BanditLog | Impressions
    group_query: np.ndarray
    pools: np.ndarray
    item_ids: np.ndarray | None = None
    pages: LoggedPages | None = None


def _is_obd(path: Path, log_format: str) -> bool:
    if log_format != "auto":
        return log_format == "obd"
    return path.suffix == ".csv" and path.parent.parent.name in ("random", "bts")


def load_bandit_log(path: Path, reward: str, log_format: str = "auto") -> LoggedBandit:
    """Read a fusionrank ``.parquet`` log or an OBD ``.csv`` (``<root>/<policy>/<campaign>/``).

    Raises:
        ValueError: If the file is missing, the format is unknown, or the log is invalid.
    """
    from fusionrank.evaluation.ope.data import from_obd, from_pages

    if log_format not in LOG_FORMATS:
        raise ValueError(f"--format {log_format!r} is unknown; use auto, fusionrank or obd")
    if not path.exists():
        raise ValueError(f"--logs {path} does not exist; pass a .parquet log or an OBD .csv")
    if _is_obd(path, log_format):
        from fusionrank.datasets import obd_impressions

        obd = from_obd(obd_impressions(path.parents[2], path.parent.parent.name, path.parent.name))
        pools = np.broadcast_to(np.arange(obd.n_actions), (obd.n_groups, obd.n_actions))
        return LoggedBandit(obd, np.full(obd.n_groups, path.parent.name, dtype=object), pools)
    from fusionrank.datasets import load_logs, logs_to_pages
    from fusionrank.evaluation.rankers import logged_pools

    pages = logs_to_pages(load_logs(path))
    query_ids, pool = logged_pools(pages)
    # Every logged query showed items, so each has a pool row.
    row_of_query = pd.Index(query_ids).get_indexer(pages.query_ids)
    group_query = pages.query_ids[pages.query]
    pools = pool[row_of_query[pages.query]]
    if pages.has_propensities:
        log: BanditLog | Impressions = from_pages(pages, reward=reward, source=str(path))
    else:  # the position-based estimators only
        log = impressions_from_pages(pages, reward, str(path))
    return LoggedBandit(log, group_query, pools, pages.item_ids, pages)


def target_policy(
    spec: str, logged: LoggedBandit, run: RunFolder
) -> tuple[BanditLog | Impressions, TargetPolicy]:
    """The target policy a user named, and the log it is judged on (re-indexed to the
    run's catalog for a saved or built-in policy)."""
    from fusionrank.evaluation.ope.targets import score_table_target, uniform_target
    from fusionrank.evaluation.rankers import ScoreTable

    log = logged.log
    if spec == "uniform":
        return log, uniform_target(
            log, logged.pools[log.group], name="uniform over each query's pool"
        )
    path = Path(spec)
    if path.suffix in (".parquet", ".csv"):
        vocabulary = (
            logged.item_ids if logged.item_ids is not None else np.arange(log.n_actions).astype(str)
        )
        table = ScoreTable.from_score_file(path, vocabulary)
        return log, score_table_target(log, table, logged.group_query)
    return _policy_target(spec, logged, run)


def _policy_target(
    spec: str, logged: LoggedBandit, run: RunFolder
) -> tuple[BanditLog | Impressions, TargetPolicy]:
    """A saved policy (folder or name of the run) or a built-in, ranking each logged
    page's query through the run's retriever, as a target policy.

    The log's items are re-indexed to the run's catalog, so that the reward model and
    the target see the same items; the policy may rank items the logs never showed, which
    the direct method values through the reward model and the weighted estimators cannot.
    """
    from fusionrank.evaluation.ope.targets import ranking_target
    from fusionrank.evaluation.policies import (
        BUILT_IN,
        policy_ranker,
        resolve_policy,
        saved_policy_folder,
    )
    from fusionrank.retrieval.stages import load_run_retriever
    from fusionrank.types import Query

    if saved_policy_folder(spec, run) is None and spec not in BUILT_IN:
        raise ValueError(
            f"--policy {spec!r}: give 'uniform', a score table (.parquet or .csv with columns "
            "query_id, item_id, score), a folder written by Policy.save, a policy name under "
            f"{run.policies.path} or one of {', '.join(BUILT_IN)}"
        )
    pages = logged.pages
    if pages is None:
        raise ValueError(
            f"--policy {spec!r} ranks a catalog's items; OBD logs have no catalog: use "
            "'uniform' or a score table"
        )
    retriever = load_run_retriever(run)
    policy = resolve_policy(spec, run, retriever, pages)
    catalog_row = pd.Index(retriever.item_ids.astype(str)).get_indexer(pages.item_ids.astype(str))
    if np.any(catalog_row < 0):
        unknown = pages.item_ids[catalog_row < 0][:5].tolist()
        raise ValueError(
            f"--logs: item id(s) {unknown} are not in the catalog of run {run.name!r}; "
            "pass the --name of the run built on these logs' catalog"
        )
    log = replace(logged.log, action=catalog_row[logged.log.action], n_actions=retriever.n_items)
    texts = dict(zip(pages.query_ids.astype(str), pages.query_texts.astype(str), strict=True))
    queries = [Query(q, texts[q]) for q in pd.unique(logged.group_query.astype(str))]
    table = policy_ranker(policy, retriever, queries, k=log.n_positions)
    return log, ranking_target(log, table(logged.group_query), policy.name)


@dataclass(frozen=True, eq=False)
class OpeResult:
    """Every estimate of one target policy, and where the report went.

    Args:
        target: The target policy's name.
        estimates: One per estimator.
        alpha: The intervals' level is ``1 - alpha``.
        report: The HTML report.
        propensities: Whether the logs had propensities (else only the position-based
            estimators ran).
        not_estimated: Estimator -> why it could not run on these logs.
    """

    target: str
    estimates: Sequence[Estimate]
    alpha: float
    report: Path
    propensities: bool = True
    not_estimated: Mapping[str, str] = field(default_factory=dict)

    @property
    def notes(self) -> list[str]:
        """What each estimate assumes, and why any estimator is missing."""
        notes = [f"{e.estimator} assumes {e.assumption}." for e in self.estimates if e.assumption]
        return notes + [f"{k}: not estimated: {why}." for k, why in self.not_estimated.items()]


def estimate_ope(
    run: RunFolder,
    logs: Path,
    policy: str,
    reward: str,
    config: EvaluationConfig,
    seed: int,
    log_format: str = "auto",
    out: Path | None = None,
) -> OpeResult:
    """Estimate ``policy``'s value per impression on ``logs`` (IPS, SNIPS, DM, DR, SNDR,
    PBM-IPS), each with a bootstrap interval, and write the report and ``estimates.json``
    to ``out`` (default the run's ``evaluation/ope``)."""
    from fusionrank.evaluation.ope.estimators import estimate_all
    from fusionrank.evaluation.sections import add_ope
    from fusionrank.io import write_json
    from fusionrank.reports import Report
    from fusionrank.seeding import rng

    logged = load_bandit_log(logs, reward, log_format)
    log, target = target_policy(policy, logged, run)
    stream = rng(seed, "evaluation")
    skipped: dict[str, str] = {}
    if isinstance(log, Impressions):
        assert logged.pages is not None  # fusionrank logs (OBD has propensities)
        estimates, skipped = estimate_without_propensities(
            log, target, logged.pages, run,
            alpha=config.alpha, n_bootstrap=config.n_bootstrap, rng=stream,
        )  # fmt: skip
    else:
        estimates = estimate_all(
            log, target, reward_model=config.reward_model, n_folds=config.n_folds,
            alpha=config.alpha, n_bootstrap=config.n_bootstrap, rng=stream,
        )  # fmt: skip
    propensities = not isinstance(log, Impressions)
    result = OpeResult(target.name, estimates, config.alpha, Path(), propensities, skipped)
    folder = out or run.evaluation.ope
    context = {
        "logs": str(logs),
        "impressions": len(log),
        "pages": log.n_groups,
        "reward": reward,
        "propensities": propensities,
        "notes": result.notes,
    }
    report = Report(f"Off-policy estimates: {target.name}", "ope.html.j2", context)
    add_ope(report, {target.name: estimates})
    path = report.write(folder)
    inputs = {"logs": str(logs), "policy": policy, "reward": reward, "seed": seed}
    found = {"estimates": [e.to_dict() for e in estimates], "not_estimated": skipped}
    write_json(folder / "estimates.json", {**inputs, **found})
    return replace(result, report=path)
