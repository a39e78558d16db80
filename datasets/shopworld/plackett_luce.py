"""Plackett-Luce rankings: sampling, and exact per-position marginal propensities.

A Plackett-Luce ranking with log-weights ``s`` is the order of ``s_j + G_j`` for
independent standard Gumbel ``G_j`` (the Gumbel-top-k trick), so sampling is one sort.

The marginal probability that item ``i`` lands at rank ``r`` has no closed form, so
logging systems usually estimate it by Monte Carlo (the Open Bandit Dataset does). We
compute it to quadrature accuracy instead. With ``w = exp(s)`` and ``T_j = exp(-(s_j +
G_j))``, ``T_j`` is exponential with rate ``w_j``, and item ``j`` ranks above ``i`` iff
``T_j < T_i``. Hence

    P(i at rank r) = int_0^inf w_i exp(-w_i t) PB_{-i}(r; q(t)) dt,
    q_j(t) = 1 - exp(-w_j t),

where ``PB_{-i}(r; q)`` is the Poisson-binomial probability that exactly ``r`` of the other
items succeed. We integrate over ``u = log t`` with the trapezoid rule (the integrand is
smooth and bell-shaped in ``u``, where the rule converges fast), and get the leave-one-out
Poisson-binomial from the full one by the forward recursion where ``q_i <= 1/2`` and the
backward one where ``q_i > 1/2``, so each step divides by at least 1/2 and stays stable.
"""

from __future__ import annotations

import numpy as np

_MIN_LOG_WEIGHT = -30.0  # items below e^-30 of the best are never ranked in practice
# w t e^{-w t} is below 1e-10 outside w t in [1e-10, 40]; the grid spans that for all w.
_LOW, _HIGH, _STEP = np.log(1e-10), np.log(40.0), 0.15


def sample_rankings(log_weights: np.ndarray, n_ranks: int, rng: np.random.Generator) -> np.ndarray:
    """Sample one Plackett-Luce ranking per row.

    Args:
        log_weights: float64, shape (B, n): log-weights (scores over temperature).
        n_ranks: How many ranks to draw (<= n).
        rng: The random stream.

    Returns:
        int64, shape (B, n_ranks): column positions of the items at ranks 0, 1, ...
    """
    perturbed = log_weights + rng.gumbel(size=log_weights.shape)
    top = np.argpartition(-perturbed, n_ranks - 1, axis=1)[:, :n_ranks]
    order = np.argsort(-np.take_along_axis(perturbed, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1).astype(np.int64)


def _poisson_binomial(q: np.ndarray) -> np.ndarray:
    """Full Poisson-binomial pmf of independent successes: q (..., n) -> (n + 1, ...).

    The count axis comes first so that every step works on contiguous blocks.
    """
    n = q.shape[-1]
    pmf = np.zeros((n + 1, *q.shape[:-1]))
    pmf[0] = 1.0
    for j in range(n):
        qj = q[..., j]
        pmf[1 : j + 2] = pmf[1 : j + 2] * (1 - qj) + pmf[: j + 1] * qj
        pmf[0] *= 1 - qj
    return pmf


def _leave_one_out(pmf: np.ndarray, q: np.ndarray, n_ranks: int) -> np.ndarray:
    """PB of all items but i, for every i: (n+1, ...), (..., n) -> (n_ranks, ..., n)."""
    n = q.shape[-1]
    full = pmf[..., None]  # (n+1, ..., 1)
    low = np.maximum(1 - q, 0.5)
    high = np.maximum(q, 0.5)
    forward = np.empty((n_ranks, *q.shape))
    forward[0] = full[0] / low
    for k in range(1, n_ranks):
        forward[k] = (full[k] - q * forward[k - 1]) / low
    # The backward recursion is needed only on grid points (axis -2) where some q > 1/2.
    needed = np.flatnonzero((q > 0.5).any(axis=tuple(i for i in range(q.ndim) if i != q.ndim - 2)))
    if needed.size:
        g0 = needed[0]
        qb, fb, hb = q[..., g0:, :], full[:, ..., g0:, :], high[..., g0:, :]
        backward = np.empty((n, *qb.shape))
        backward[n - 1] = fb[n] / hb
        for k in range(n - 1, 0, -1):
            backward[k - 1] = (fb[k] - (1 - qb) * backward[k]) / hb
        tail = forward[:, ..., g0:, :]
        tail[...] = np.where(qb <= 0.5, tail, backward[:n_ranks])
    return np.clip(forward, 0.0, 1.0)


def marginals(log_weights: np.ndarray, n_ranks: int, chunk: int = 16) -> np.ndarray:
    """Exact marginal probabilities of each item at each rank.

    Args:
        log_weights: float64, shape (B, n): one Plackett-Luce model per row.
        n_ranks: Ranks to compute (<= n).
        chunk: Rows processed at once (bounds memory: ``chunk * G * n * n`` floats for a
            grid of G points, about 150 when weights span a factor of e^3).

    Returns:
        float64, shape (B, n, n_ranks): ``P(item j at rank r)``; each rank's column sums
        to 1 over items, each item's row sums to at most 1.
    """
    b, n = log_weights.shape
    if not 1 <= n_ranks <= n:
        raise ValueError(f"n_ranks must be in [1, {n}], got {n_ranks}")
    shifted = log_weights - log_weights.max(axis=1, keepdims=True)
    weights = np.exp(np.maximum(shifted, _MIN_LOG_WEIGHT))
    out = np.empty((b, n, n_ranks))
    for start in range(0, b, chunk):
        w = weights[start : start + chunk, None, :]  # (c, 1, n)
        grid = np.arange(_LOW, _HIGH - np.log(w.min()) + _STEP, _STEP)
        t = np.exp(grid)
        trapezoid = np.full(grid.shape, _STEP)
        trapezoid[[0, -1]] = _STEP / 2
        wt = w * t[None, :, None]  # (c, G, n)
        q = -np.expm1(-wt)
        loo = _leave_one_out(_poisson_binomial(q), q, n_ranks)  # (R, c, G, n)
        density = wt * np.exp(-wt) * trapezoid[None, :, None]  # w_i t e^{-w_i t} du
        out[start : start + chunk] = np.einsum("cgn,rcgn->cnr", density, loo)
    return out
