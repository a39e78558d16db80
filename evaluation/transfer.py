"""Does the fitted simulator foresee what the hidden users do? The figures of
``compare.json`` that answer it, per policy:

* **lift vs the best supervised ranker**: the paired lift in purchases per session over
  the best supervised ranker (LambdaMART with IPW or LightGBM's position-debiased
  lambdarank, the better in a simulator fitted on the held-out logs, else in the fitted
  simulator: the choice never reads the truth), in every world, with its 95 % interval;
* **predicted vs true lift**: the simulator's relative lift over the logging policy
  beside the hidden truth's, the simulator's error ``(predicted - true) / true``, and the
  simulator's uncertainty about its prediction: with an ensemble of simulators fitted on
  bootstrap resamples of the logs (:mod:`fusionrank.simulator.ensemble`), each member's
  lift from the exact expected value of the policy's rankings on the logged traffic
  (first queries, up to ``max_pages`` pages), whose standard deviation ``s_e`` widens the
  sampling interval, and the disagreement ``d`` between the fitted simulator's lift and
  that of a simulator fitted on the held-out logs alone (the ``validation`` simulator,
  whose errors are independent of the ones a policy trained in the fitted simulator
  learned to exploit): ``lift ± sqrt(h² + (z s_e)² + d²)`` with ``h`` the sampling
  interval's half-width. The bootstrap spread alone measures the noise of the logs but
  not the optimiser's curse (a policy trained in a simulator is, in that simulator,
  better than it is), which ``d`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from fusionrank.evaluation.ab import SessionMetrics
from fusionrank.evaluation.stats import LiftResult, paired_lifts
from fusionrank.evaluation.traffic import Ranker
from fusionrank.simulator.traffic import QuerySampler

logger = logging.getLogger(__name__)

SUPERVISED_KINDS = ("lambdamart",)
METRIC = "purchases"


@dataclass(frozen=True)
class PredictedLift:
    """The simulator's lift over logging for one policy, beside the truth's.

    Args:
        predicted: Relative lift in the fitted simulator.
        predicted_ci: Its interval, sampling and (with an ensemble) model spread.
        spread: Standard deviation of the lift across ensemble members (NaN without).
        member_lifts: Each member's lift.
        held_out: Relative lift in the held-out-logs simulator (NaN without one).
        true: Relative lift on the hidden users (NaN without a truth).
        true_ci: Its bootstrap interval.
        error: ``(predicted - true) / true``.
        covered: The predicted interval holds the true lift.
    """

    predicted: float
    predicted_ci: tuple[float, float]
    spread: float
    member_lifts: tuple[float, ...]
    held_out: float
    true: float
    true_ci: tuple[float, float]
    error: float
    covered: bool

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def best_supervised(
    labels: Sequence[str],
    kinds: Sequence[str],
    simulated: Sequence[SessionMetrics],
    validation: Mapping[str, float] | None = None,
) -> str | None:
    """The supervised ranker with the most purchases in the held-out-logs simulator
    (``validation``, when given), else in the fitted simulator's sessions."""
    candidates = [
        (
            validation[label] if validation else float(arm.purchases.mean()),
            label,
        )
        for label, kind, arm in zip(labels, kinds, simulated, strict=True)
        if kind in SUPERVISED_KINDS
    ]
    return max(candidates)[1] if candidates else None


def lifts_vs(
    reference: SessionMetrics,
    arms: Mapping[str, SessionMetrics],
    alpha: float,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, LiftResult]:
    """The paired purchase lift of every arm over ``reference`` (same sessions)."""
    out = {}
    for label, arm in arms.items():
        out[label] = paired_lifts(
            reference.matrix([METRIC]),
            arm.matrix([METRIC]),
            [METRIC],
            alpha=alpha,
            n_bootstrap=n_bootstrap,
            rng=rng,
        )[0]
    return out


def member_values(
    members: Sequence[object],
    rankers: Mapping[str, Ranker],
    sampler: QuerySampler,
    texts: Mapping[str, str],
    slate_size: int,
    max_pages: int,
) -> dict[str, np.ndarray]:
    """Each policy's traffic-weighted expected purchases in every member, float64 (E,).

    Args:
        members: The ensemble's simulators.
        rankers: Label -> the policy's rankings.
        sampler: The traffic (its first queries are valued).
        texts: Query id -> text, for every traffic query.
        slate_size, max_pages: The sessions' pages.
    """
    from fusionrank.envs.config import EnvConfig
    from fusionrank.envs.value import SimulatorValue

    config = EnvConfig(slate_size=slate_size, max_pages=max_pages, k=max(slate_size, 50))
    ids = np.asarray(sampler.query_ids, dtype=object)
    query_texts = np.array([texts[str(q)] for q in ids], dtype=object)
    value = SimulatorValue.build(members, ids, query_texts, config)  # type: ignore[arg-type]
    rows = np.arange(len(ids), dtype=np.int64)
    depth = slate_size * max_pages
    out = {}
    for label, ranker in rankers.items():
        ranked = np.asarray(ranker(ids))[:, :depth]
        out[label] = value.values(rows, ranked) @ sampler.weights
    return out


def predicted_lifts(
    simulated: Mapping[str, LiftResult],
    true: Mapping[str, LiftResult] | None,
    members: Mapping[str, np.ndarray] | None,
    baseline: str,
    alpha: float,
    held_out: Mapping[str, float] | None = None,
) -> dict[str, PredictedLift]:
    """:class:`PredictedLift` of every policy but the baseline (module docstring).

    Args:
        simulated: Policy -> its purchase lift over the baseline in the fitted simulator.
        true: The same on the hidden users, or None.
        members: Policy -> its value in each ensemble member (float64 (E,)), or None.
        baseline: The baseline's label.
        alpha: Two-sided level.
        held_out: Policy -> its value in the held-out-logs simulator, or None.
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    out = {}
    for label, lift in simulated.items():
        lows = lift.relative_ci_bootstrap
        half = (lows[1] - lows[0]) / 2
        lifts: tuple[float, ...] = ()
        spread = float("nan")
        if members is not None and label in members and baseline in members:
            ratio = members[label] / members[baseline] - 1.0
            lifts = tuple(float(x) for x in ratio)
            spread = float(np.std(ratio, ddof=1)) if len(ratio) > 1 else 0.0
        width = float(np.hypot(half, z * spread)) if np.isfinite(spread) else half
        other = float("nan")
        if held_out and label in held_out and held_out.get(baseline, 0) > 0:
            other = held_out[label] / held_out[baseline] - 1.0
            width = widen(width, lift.relative, other)
        ci = (lift.relative - width, lift.relative + width)
        truth = true.get(label) if true is not None else None
        t = truth.relative if truth is not None else float("nan")
        t_ci = truth.relative_ci_bootstrap if truth is not None else (float("nan"),) * 2
        error = (lift.relative - t) / t if truth is not None and t != 0 else float("nan")
        out[label] = PredictedLift(
            predicted=lift.relative,
            predicted_ci=ci,
            spread=spread,
            member_lifts=lifts,
            held_out=other,
            true=t,
            true_ci=(float(t_ci[0]), float(t_ci[1])),
            error=float(error),
            covered=bool(truth is not None and ci[0] <= t <= ci[1]),
        )
    return out


def widen(width: float, predicted: float, held_out: float) -> float:
    """``sqrt(width² + d²)`` with ``d = predicted - held_out`` (module docstring)."""
    return float(np.hypot(width, predicted - held_out))


def kendall_tau(simulated: Mapping[str, float], true: Mapping[str, float]) -> float:
    """Kendall's tau-b between the simulator's and the truth's values of the same policies."""
    labels = [label for label in simulated if label in true]
    if len(labels) < 2:
        return float("nan")
    tau = stats.kendalltau([simulated[k] for k in labels], [true[k] for k in labels])
    return float(tau.statistic)
