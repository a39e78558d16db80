"""Examination by intervention harvesting (Agarwal, Zaitsev, Wang, Li, Najork and
Joachims, "Estimating Position Bias without Intrusive Interventions", WSDM 2019).

When the logged rankings changed (several rankers, a stochastic ranker, a ranker that
changed over time), the same item was shown for the same query at different slots: each
such (query, item) pair is a natural intervention. Under the position-based model
``P(click | a at slot k of q) = theta_k alpha(q, a)``, the click rate of a pair at slot
``k`` estimates ``theta_k alpha(q, a)``, so over the set ``S_kk'`` of pairs shown at both
slots ``k`` and ``k'``, with the same weight ``w_p`` on both sides,

    A[k, k'] = sum_{p in S_kk'} w_p ctr_p(k)   estimates   theta_k  sum_p w_p alpha_p
    A[k', k] = sum_{p in S_kk'} w_p ctr_p(k')  estimates   theta_k' sum_p w_p alpha_p,

and ``A[k, k'] / A[k', k]`` estimates ``theta_k / theta_k'`` whatever the items' relevance
(Agarwal et al.'s weighted click rates, with ``w_p = n_pk n_pk' / (n_pk + n_pk')``, the
harmonic weight that favours pairs shown often at both slots). The log-ratios of every
usable slot pair are combined by weighted least squares on ``log theta`` with
``theta_0 = 1`` (their all-pairs extremum estimator, in closed form). A slot that no
usable pair links to the top slot has no estimate: then the logs do not allow it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

MIN_SHARED_PAIRS = 3
"""A slot pair is used when at least this many (query, item) pairs were shown at both."""


class NotHarvestable(ValueError):
    """The logs hold too few interventions to estimate every slot's examination."""


@dataclass(frozen=True, eq=False)
class Harvest:
    """Examination estimated from interventions.

    Args:
        theta: float64, shape (K,): relative examination, ``theta[0] = 1``.
        shared_pairs: int64, shape (K, K): (query, item) pairs shown at both slots.
        used: bool, shape (K, K): slot pairs whose ratio entered the fit.
    """

    theta: np.ndarray
    shared_pairs: np.ndarray
    used: np.ndarray


def slot_table(
    pair: np.ndarray, slot: np.ndarray, values: np.ndarray, n_pairs: int, n_slots: int
) -> np.ndarray:
    """float64, shape (n_pairs, n_slots): ``values`` summed per (pair, slot) (all (m,))."""
    flat = np.bincount(pair * n_slots + slot, weights=values, minlength=n_pairs * n_slots)
    return flat.reshape(n_pairs, n_slots)


def harvest_examination(shown: np.ndarray, clicks: np.ndarray) -> Harvest:
    """Relative examination of every slot from per-(pair, slot) counts (module docstring).

    Args:
        shown: float64, shape (P, K): impressions of each (query, item) pair at each slot
            (weighted counts allowed, e.g. in a bootstrap).
        clicks: float64, shape (P, K): their clicks (or other 0/1 rewards).

    Raises:
        NotHarvestable: Naming the slots that no intervention links to the top slot.
    """
    n_slots = shown.shape[1]
    moved = (shown > 0).sum(axis=1) >= 2  # only pairs seen at two slots or more count
    shown, clicks = shown[moved], clicks[moved]
    ctr = np.divide(clicks, shown, out=np.zeros_like(clicks), where=shown > 0)
    both = shown[:, :, None] * shown[:, None, :]
    total = shown[:, :, None] + shown[:, None, :]
    weight = np.divide(both, total, out=np.zeros_like(both), where=both > 0)
    a = np.einsum("pk,pkl->kl", ctr, weight)  # a[k, l]: slot k's side of the pair (k, l)
    seen = shown > 0
    shared = (seen.astype(np.int64).T @ seen.astype(np.int64)).astype(np.int64)
    usable = (a > 0) & (a.T > 0) & (shared >= MIN_SHARED_PAIRS)
    np.fill_diagonal(usable, False)
    _check_connected(usable, shared)
    rows, targets, weights = [], [], []
    for k, other in zip(*np.nonzero(np.triu(usable)), strict=True):
        row = np.zeros(n_slots)
        row[k], row[other] = 1.0, -1.0
        rows.append(row[1:])
        targets.append(np.log(a[k, other] / a[other, k]))
        weights.append(np.sqrt(weight[:, k, other].sum()))
    design = np.asarray(rows) * np.asarray(weights)[:, None]
    solution = np.linalg.lstsq(design, np.asarray(targets) * np.asarray(weights), rcond=None)[0]
    theta = np.exp(np.r_[0.0, solution])
    return Harvest(theta=theta, shared_pairs=shared, used=usable)


def _check_connected(usable: np.ndarray, shared: np.ndarray) -> None:
    """Raise unless every slot is linked to slot 0 through usable slot pairs."""
    n_slots = usable.shape[0]
    reached = np.zeros(n_slots, dtype=bool)
    reached[0] = True
    frontier = [0]
    while frontier:
        k = frontier.pop()
        for other in np.flatnonzero(usable[k] & ~reached):
            reached[other] = True
            frontier.append(int(other))
    if reached.all():
        return
    missing = (np.flatnonzero(~reached) + 1).tolist()
    most = int(shared[~reached][:, reached].max(initial=0))
    raise NotHarvestable(
        f"intervention harvesting needs the same item shown for the same query at different "
        f"positions, with clicks, at least {MIN_SHARED_PAIRS} times per pair of positions; "
        f"position(s) {missing} are not linked to position 1 that way (at most {most} shared "
        "(query, item) pairs): the logged rankings barely changed there"
    )
