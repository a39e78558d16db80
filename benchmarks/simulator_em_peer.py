"""The textbook per-session click-model fitting loop, as the peer of our vectorised fit.

This is a re-implementation of PyClick's *algorithmic approach* (one Python loop over
search sessions and ranks per EM iteration, parameters in dicts keyed by (query, item),
each parameter a smoothed ratio that starts at one click in two views), written from the
click-model papers for this benchmark. It is not PyClick and contains none of its code.
Its parameters and likelihoods must match :mod:`fusionrank.simulator.click_models` to
rounding: the benchmark checks that before it compares speed.
"""

from __future__ import annotations

import math
from collections import defaultdict

PRIOR = (1.0, 2.0)
EPS = 1e-6


def _ratio() -> list[float]:
    return [0.0, 0.0]


def _value(counts: dict, key, prior=PRIOR) -> float:
    numerator, denominator = counts.get(key, (0.0, 0.0))
    return (prior[0] + numerator) / (prior[1] + denominator)


def sessions_of(query, item_index, clicks) -> list[tuple[int, list[int], list[bool]]]:
    """Pages as Python lists: (query, items, clicks) down to the last shown rank; an
    empty rank inside a page (item -1) is skipped by every loop, as in fusionrank."""
    out = []
    for q, items, cs in zip(query.tolist(), item_index.tolist(), clicks.tolist(), strict=True):
        n = max((r + 1 for r, i in enumerate(items) if i >= 0), default=0)
        out.append((q, items[:n], cs[:n]))
    return out


def fit_pbm(sessions, n_iterations: int, ubm: bool = False):
    """EM for PBM (``ubm=False``) or UBM, one session at a time."""
    attr: dict = {}
    exam: dict = {}
    for _ in range(n_iterations):
        new_attr: dict = defaultdict(_ratio)
        new_exam: dict = defaultdict(_ratio)
        for q, items, clicks in sessions:
            previous = 0
            for rank, (item, click) in enumerate(zip(items, clicks, strict=True)):
                if item < 0:
                    continue
                key = (rank, previous) if ubm else rank
                a, e = _value(attr, (q, item)), _value(exam, key)
                if click:
                    post_a = post_e = 1.0
                    previous = rank + 1
                else:
                    post_a = (1 - e) * a / (1 - e * a)
                    post_e = e * (1 - a) / (1 - e * a)
                new_attr[(q, item)][0] += post_a
                new_attr[(q, item)][1] += 1
                new_exam[key][0] += post_e
                new_exam[key][1] += 1
        attr, exam = dict(new_attr), dict(new_exam)
    return attr, exam


def _dbn_session(items, clicks, a, s, gamma):
    """Forward-backward of one session; returns P(E_r=1|c), P(S_r=1|c), P(E_{r+1}=1|c)."""
    n = len(items)
    alpha = [(0.0, 1.0)]
    for r in range(n):
        emit = a[r] if clicks[r] else 1 - a[r]
        go = (1 - s[r]) * gamma if clicks[r] else gamma
        a0, a1 = alpha[-1]
        alpha.append(((0.0 if clicks[r] else a0) + a1 * emit * (1 - go), a1 * emit * go))
    beta = [(1.0, 1.0)] * (n + 1)
    for r in range(n - 1, -1, -1):
        emit = a[r] if clicks[r] else 1 - a[r]
        go = (1 - s[r]) * gamma if clicks[r] else gamma
        b0, b1 = beta[r + 1]
        beta[r] = (0.0 if clicks[r] else b0, emit * (go * b1 + (1 - go) * b0))
    evidence = beta[0][1]
    examined = [alpha[r][1] * beta[r][1] / evidence for r in range(n + 1)]
    satisfied = []
    for r in range(n):
        later = any(clicks[r + 1 :])
        if clicks[r] and not later:
            quiet = gamma * beta[r + 1][1] + 1 - gamma
            satisfied.append(s[r] / (s[r] + (1 - s[r]) * quiet))
        else:
            satisfied.append(0.0)
    return examined, satisfied, math.log(evidence)


def fit_dbn(sessions, n_iterations: int):
    """EM for DBN (attractiveness, satisfaction per pair, one continuation gamma)."""
    attr: dict = {}
    sat: dict = {}
    gamma = 0.5
    for _ in range(n_iterations):
        new_attr: dict = defaultdict(_ratio)
        new_sat: dict = defaultdict(_ratio)
        moved, could = 0.0, 0.0
        for q, items, clicks in sessions:
            a = [_value(attr, (q, i)) if i >= 0 else 0.0 for i in items]
            s = [_value(sat, (q, i)) for i in items]
            examined, satisfied, _ = _dbn_session(items, clicks, a, s, gamma)
            for r, item in enumerate(items):
                if r + 1 < len(items) and items[r + 1] >= 0:
                    moved += examined[r + 1]
                    could += examined[r] - satisfied[r]
                if item < 0:
                    continue
                post_a = 1.0 if clicks[r] else a[r] * (1 - examined[r])
                new_attr[(q, item)][0] += post_a
                new_attr[(q, item)][1] += 1
                if clicks[r]:
                    new_sat[(q, item)][0] += satisfied[r]
                    new_sat[(q, item)][1] += 1
        attr, sat = dict(new_attr), dict(new_sat)
        gamma = (PRIOR[0] + moved) / (PRIOR[1] + could)
    return attr, sat, gamma


def fit_counting(sessions, kind: str):
    """Closed-form cascade, DCM or SDBN by counting, one session at a time."""
    attr: dict = defaultdict(_ratio)
    sat: dict = defaultdict(_ratio)
    for q, items, clicks in sessions:
        clicked = [r for r, c in enumerate(clicks) if c]
        if kind == "cascade":
            bound = clicked[0] if clicked else len(items) - 1
        else:
            bound = clicked[-1] if clicked else len(items) - 1
        for r in range(bound + 1):
            if items[r] < 0:
                continue
            attr[(q, items[r])][1] += 1
            if clicks[r] and (kind != "cascade" or r == bound):
                attr[(q, items[r])][0] += 1
        for r in clicked:
            key = r if kind == "dcm" else (q, items[r])
            sat[key][1] += 1
            if r == clicked[-1]:
                sat[key][0] += 1
    return dict(attr), dict(sat)


def log_likelihood_pbm(sessions, attr, exam, ubm: bool = False) -> float:
    """Mean ln P(c_r | c_<r) over shown cells."""
    total, n = 0.0, 0
    for q, items, clicks in sessions:
        previous = 0
        for rank, (item, click) in enumerate(zip(items, clicks, strict=True)):
            if item < 0:
                continue
            p = _value(exam, (rank, previous) if ubm else rank) * _value(attr, (q, item))
            p = min(max(p, EPS), 1 - EPS)
            total += math.log(p if click else 1 - p)
            n += 1
            if click:
                previous = rank + 1
    return total / n


def log_likelihood_chain(sessions, attr, stop_of, g_click: float, g_skip: float) -> float:
    """Mean ln P(c_r | c_<r) for cascade-family models; ``stop_of(q, item, rank)``."""
    total, n = 0.0, 0
    for q, items, clicks in sessions:
        examined = 1.0
        for rank, (item, click) in enumerate(zip(items, clicks, strict=True)):
            if item < 0:
                examined *= g_skip
                continue
            a = _value(attr, (q, item))
            p = min(max(examined * a, EPS), 1 - EPS)
            total += math.log(p if click else 1 - p)
            n += 1
            if click:
                examined = (1 - stop_of(q, item, rank)) * g_click
            else:
                examined = g_skip * examined * (1 - a) / (1 - examined * a)
    return total / n
