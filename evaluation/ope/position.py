"""Off-policy estimates from logs **without propensities**, under the position-based model.

Most search logs record what was shown and clicked, not the logging policy's probability
of showing it. Under the position-based model (PBM),
``P(click | item a at slot k of query q) = theta_k alpha(q, a)``: a click at slot ``k``
divided by ``theta_k`` is an unbiased estimate of ``alpha(q, a)`` whatever chose the
ranking, so no logging propensity is needed, only the examination ``theta`` (the inverse
*examination* propensity of unbiased learning to rank, Joachims et al. 2017). Over the
logged rows ``j`` (pair ``p_j = (q_j, a_j)`` at slot ``k_j``, reward ``r_j``) and the target
policy's probabilities ``pi(a at k_i | x_i)`` at every logged row ``i``:

    alpha_p = sum_{j: p_j = p} (r_j / theta_{k_j}) / N_p          (N_p: impressions of p)
    D_p     = sum_i sum_a pi(a at k_i | x_i) theta_{k_i} [(q_i, a) = p]
    V       = (1/n) sum_p D_p alpha_p,

the target's expected reward per logged impression. A pair the target shows that the logs
never showed for that query has no estimate and counts 0, so ``V`` is a lower bound for
0/1 rewards; ``coverage`` (the share of ``D`` on logged pairs) says how much that matters.

Two sources of ``theta``: the fitted click model of the run's simulator (its marginal
examination per slot on the logged pages,
:func:`~fusionrank.evaluation.ope.examination.click_model_examination`), and
intervention harvesting (:mod:`fusionrank.evaluation.ope.harvest`) where the logs show the
same item at different slots for the same query. The interval is a percentile bootstrap
over logged pages that re-estimates ``alpha`` (and a harvested ``theta``) on each
resample; a click model's ``theta`` is held fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from fusionrank.evaluation.ope.estimators import Estimate, ess_of
from fusionrank.evaluation.ope.harvest import NotHarvestable, harvest_examination, slot_table
from fusionrank.evaluation.ope.targets import TargetPolicy
from fusionrank.runs import RunFolder
from fusionrank.types import LoggedPages

logger = logging.getLogger(__name__)

PBM_ASSUMPTION = (
    "clicks follow the position-based model: P(click) = examination of the slot x the "
    "item's attractiveness for the query, whatever else the page shows"
)
SOURCES = {
    "click model": "examination from the run's fitted click model ({model})",
    "harvested": "examination harvested from the same items shown at different positions "
    "for the same query (Agarwal et al., WSDM 2019)",
}
_CHUNK = 25  # bootstrap resamples computed at once


@dataclass(frozen=True, eq=False)
class Impressions:
    """Logged impressions without propensities: one row per shown (page, slot, item).

    Args:
        reward: float64, shape (n,): the click (or purchase) of the shown item.
        query: int64, shape (n,): its page's query, in ``[0, n_queries)``.
        action: int64, shape (n,): the item shown, in ``[0, n_actions)``.
        position: int64, shape (n,): its slot, 0-based, in ``[0, n_positions)``.
        group: int64, shape (n,): the page, in ``[0, n_groups)``.
        n_actions: Size of the item vocabulary.
        n_positions: Slots per page.
        n_queries: Size of the query vocabulary.
        source: Where the log came from, for messages.
    """

    reward: np.ndarray
    query: np.ndarray
    action: np.ndarray
    position: np.ndarray
    group: np.ndarray
    n_actions: int
    n_positions: int
    n_queries: int
    source: str = "logs"

    def __post_init__(self) -> None:
        n = self.reward.shape[0]
        for name in ("query", "action", "position", "group"):
            array = getattr(self, name)
            if array.dtype != np.int64 or array.shape != (n,):
                raise ValueError(f"{name} must be int64 of shape ({n},)")
        if n == 0:
            raise ValueError(f"{self.source}: no logged impressions to evaluate from")
        if self.position.max() >= self.n_positions or self.position.min() < 0:
            raise ValueError(f"position must be in [0, n_positions={self.n_positions})")
        if not np.isfinite(self.reward).all():
            raise ValueError(f"{self.source}: rewards must be finite")

    def __len__(self) -> int:
        return int(self.reward.shape[0])

    @property
    def n_groups(self) -> int:
        return int(self.group.max()) + 1


def impressions_from_pages(
    pages: LoggedPages, reward: str = "clicks", source: str = "logs"
) -> Impressions:
    """Logged pages as impressions (no propensities needed).

    Raises:
        ValueError: For an unknown reward, or purchases asked of logs without them.
    """
    if reward not in ("clicks", "purchases"):
        raise ValueError(f"reward={reward!r} is unknown; use 'clicks' or 'purchases'")
    if reward == "purchases" and not pages.has_purchases:
        raise ValueError(f"{source}: the logs record no purchases; use reward='clicks'")
    rows, cols = np.nonzero(pages.shown)
    values = pages.clicks if reward == "clicks" else pages.purchases
    return Impressions(
        reward=values[rows, cols].astype(np.float64),
        query=pages.query[rows].astype(np.int64),
        action=pages.item_index[rows, cols].astype(np.int64),
        position=cols.astype(np.int64),
        group=rows.astype(np.int64),
        n_actions=len(pages.item_ids),
        n_positions=pages.slate_size,
        n_queries=len(pages.query_ids),
        source=source,
    )


@dataclass(frozen=True, eq=False)
class _Tables:
    """Per-page sparse tables of the logged and the target's (pair, slot) cells.

    ``logged`` and ``clicked``: (G, T) impressions and rewards of the logged triples
    ``t = (pair, slot)``; ``demand``: (G, U) the target's probability mass on each
    (logged pair, slot) cell ``u``; ``unlogged``: (G, K) its mass on pairs never logged.
    """

    logged: sparse.csr_matrix
    clicked: sparse.csr_matrix
    demand: sparse.csr_matrix
    unlogged: sparse.csr_matrix
    triple_pair: np.ndarray
    triple_slot: np.ndarray
    cell_pair: np.ndarray
    cell_slot: np.ndarray
    rows_per_page: np.ndarray
    row_pair: np.ndarray
    n_pairs: int


def _tables(log: Impressions, target: TargetPolicy) -> _Tables:
    n_groups, k = log.n_groups, log.n_positions
    key = log.query * log.n_actions + log.action
    pairs, pair = np.unique(key, return_inverse=True)
    triples, triple = np.unique(pair * k + log.position, return_inverse=True)
    shape = (n_groups, len(triples))
    logged = sparse.csr_matrix((np.ones(len(log)), (log.group, triple)), shape=shape)
    clicked = sparse.csr_matrix((log.reward, (log.group, triple)), shape=shape)
    actions, probs = target.actions, target.probs
    cand_key = np.where(actions >= 0, log.query[:, None] * log.n_actions + actions, -1)
    at = np.minimum(np.searchsorted(pairs, cand_key), len(pairs) - 1)
    known = (pairs[at] == cand_key) & (actions >= 0) & (probs > 0)
    rows = np.broadcast_to(np.arange(len(log))[:, None], actions.shape)
    slot = log.position[rows]
    cells, cell = np.unique(at[known] * k + slot[known], return_inverse=True)
    demand = sparse.csr_matrix(
        (probs[known], (log.group[rows[known]], cell)), shape=(n_groups, len(cells))
    )
    lost = (actions >= 0) & (probs > 0) & ~known
    unlogged = sparse.csr_matrix(
        (probs[lost], (log.group[rows[lost]], slot[lost])), shape=(n_groups, k)
    )
    return _Tables(
        logged=logged,
        clicked=clicked,
        demand=demand,
        unlogged=unlogged,
        triple_pair=triples // k,
        triple_slot=triples % k,
        cell_pair=cells // k,
        cell_slot=cells % k,
        rows_per_page=np.bincount(log.group, minlength=n_groups).astype(np.float64),
        row_pair=pair.astype(np.int64),
        n_pairs=len(pairs),
    )


Examination = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""theta from (shown, clicks), both float64 (P, K) per (pair, slot): fixed or harvested."""


def _value(
    tables: _Tables, weights: np.ndarray, examination: Examination, n_slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """The estimate and its coverage for page weights (float64 (B, G)), each (B,)."""
    shown = np.asarray(weights @ tables.logged)
    clicks = np.asarray(weights @ tables.clicked)
    demand = np.asarray(weights @ tables.demand)
    lost = np.asarray(weights @ tables.unlogged)
    n = weights @ tables.rows_per_page
    values, coverage = np.empty(len(weights)), np.empty(len(weights))
    for b in range(len(weights)):
        per_slot = (
            slot_table(tables.triple_pair, tables.triple_slot, shown[b], tables.n_pairs, n_slots),
            slot_table(tables.triple_pair, tables.triple_slot, clicks[b], tables.n_pairs, n_slots),
        )
        try:
            theta = examination(*per_slot)
        except NotHarvestable:
            values[b] = coverage[b] = np.nan
            continue
        impressions = per_slot[0].sum(axis=1)
        debiased = (per_slot[1] / theta[None, :]).sum(axis=1)
        alpha = np.divide(debiased, impressions, out=np.zeros_like(debiased), where=impressions > 0)
        mass = demand[b] * theta[tables.cell_slot]
        on_logged = np.bincount(tables.cell_pair, weights=mass, minlength=tables.n_pairs)
        gone = (lost[b] * theta).sum() + on_logged[impressions == 0].sum()
        values[b] = (on_logged * alpha).sum() / n[b]
        total = on_logged.sum() + (lost[b] * theta).sum()
        coverage[b] = 1.0 - gone / total if total > 0 else 1.0
    return values, coverage


def _bootstrap(
    tables: _Tables,
    examination: Examination,
    n_slots: int,
    n_groups: int,
    alpha: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> tuple[float, float, float]:
    """The page bootstrap's ``(low, high, standard error)`` (NaN when nothing resampled)."""
    draws = []
    for start in range(0, n_bootstrap, _CHUNK):
        size = min(_CHUNK, n_bootstrap - start)
        counts = rng.multinomial(n_groups, np.full(n_groups, 1 / n_groups), size)
        draws.append(_value(tables, counts.astype(np.float64), examination, n_slots)[0])
    resampled = np.concatenate(draws) if draws else np.empty(0)
    resampled = resampled[np.isfinite(resampled)]
    if not resampled.size:
        return float("nan"), float("nan"), float("nan")
    low, high = np.quantile(resampled, [alpha / 2, 1 - alpha / 2])
    std_error = float(resampled.std(ddof=1)) if resampled.size > 1 else 0.0
    return float(low), float(high), std_error


def pbm_estimate(
    log: Impressions,
    target: TargetPolicy,
    examination: Examination,
    name: str,
    assumption: str,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> Estimate:
    """The propensity-free PBM estimate (module docstring) with a page bootstrap.

    Args:
        log: The logged impressions.
        target: The target policy's probabilities at each logged row.
        examination: ``theta`` from the per-(pair, slot) counts (fixed or harvested).
        name: The estimator's label.
        assumption: What it rests on, for the report.
        alpha: 1 - confidence of the interval.
        n_bootstrap: Resamples of logged pages (0: point estimate only).
        rng: The random stream of the resamples.

    Raises:
        NotHarvestable: If a harvested ``theta`` cannot be estimated on the full logs.
    """
    if len(target) != len(log) or target.position_probs.shape[1] != log.n_positions:
        raise ValueError(f"target {target.name} does not cover the log's rows and slots")
    tables = _tables(log, target)
    k = log.n_positions
    full = np.ones((1, log.n_groups))
    shown = slot_table(tables.triple_pair, tables.triple_slot, tables.logged.sum(0).A1,
                       tables.n_pairs, k)  # fmt: skip
    clicks = slot_table(tables.triple_pair, tables.triple_slot, tables.clicked.sum(0).A1,
                        tables.n_pairs, k)  # fmt: skip
    theta = examination(shown, clicks)  # raises when not harvestable
    value, coverage = (float(v[0]) for v in _value(tables, full, examination, k))
    low, high, std_error = _bootstrap(tables, examination, k, log.n_groups, alpha, n_bootstrap, rng)
    mass = tables.demand.sum(axis=0).A1 * theta[tables.cell_slot]
    demand = np.bincount(tables.cell_pair, weights=mass, minlength=tables.n_pairs)
    impressions = np.bincount(tables.row_pair, minlength=tables.n_pairs).astype(np.float64)
    pair = tables.row_pair
    ess = ess_of(demand[pair] / (impressions[pair] * theta[log.position]))
    return Estimate(
        name,
        value,
        (low, high),
        std_error,
        len(log),
        log.n_groups,
        ess,
        assumption=f"{assumption}; {coverage:.0%} of the target's examination falls on "
        "(query, item) pairs the logs showed, the rest counts 0",
        coverage=coverage,
    )


def fixed(theta: np.ndarray) -> Examination:
    """A ``theta`` (float64 (K,), > 0) that does not depend on the resample."""
    theta = np.asarray(theta, dtype=np.float64)
    if np.any(theta <= 0) or not np.isfinite(theta).all():
        raise ValueError(f"examination must be positive and finite, got {theta}")
    return lambda shown, clicks: theta


def harvested(shown: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    """``theta`` harvested from the resample's own counts."""
    return harvest_examination(shown, clicks).theta


def position_estimates(
    log: Impressions,
    target: TargetPolicy,
    model_theta: np.ndarray | None,
    model_name: str,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> tuple[tuple[Estimate, ...], dict[str, str]]:
    """Every propensity-free estimate the logs allow: PBM-IPS with the click model's
    examination (when ``model_theta`` is given) and with harvested examination.

    Returns:
        The estimates, and for each one that could not be made, the reason.
    """
    estimates, skipped = [], {}
    sources: list[tuple[str, Examination | None, str]] = [
        ("PBM-IPS (click model θ)", None if model_theta is None else fixed(model_theta),
         SOURCES["click model"].format(model=model_name)),
        ("PBM-IPS (harvested θ)", harvested, SOURCES["harvested"]),
    ]  # fmt: skip
    for name, examination, source in sources:
        if examination is None:
            skipped[name] = "the run has no fitted click model (`fusionrank sim fit`)"
            continue
        try:
            estimate = pbm_estimate(
                log, target, examination, name, f"{PBM_ASSUMPTION}; {source}",
                alpha=alpha, n_bootstrap=n_bootstrap, rng=rng,
            )  # fmt: skip
        except NotHarvestable as reason:
            skipped[name] = str(reason)
            continue
        estimates.append(estimate)
    return tuple(estimates), skipped


def estimate_without_propensities(
    log: Impressions,
    target: TargetPolicy,
    pages: LoggedPages,
    run: RunFolder,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
) -> tuple[tuple[Estimate, ...], dict[str, str]]:
    """:func:`position_estimates` with the examination of the run's fitted click model
    (else of a PBM fitted to ``pages``), for ``fusionrank ope`` on logs without
    propensities."""
    from fusionrank.evaluation.ope.examination import examination_for

    theta, label = examination_for(run, pages)
    return position_estimates(
        log, target, theta, label, alpha=alpha, n_bootstrap=n_bootstrap, rng=rng
    )
