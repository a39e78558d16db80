"""Compare every policy of a run on the same simulated traffic: ``fusionrank evaluate``.

All arms see the same sampled queries and users with common random numbers (one
:func:`~fusionrank.evaluation.ab.simulate_arms` call per world), on the fitted simulator
and, for ShopWorld, on the hidden users. Per world and policy:

* the mean of each metric with its 95 % normal interval, ``mean ± z * sd / sqrt(n)``;
* the paired lift over the logging baseline (normal and bootstrap intervals, p-value);
* the share of the logging-to-oracle gap the policy closes,
  ``(mean_policy - mean_logging) / (mean_oracle - mean_logging)`` (ShopWorld only; NaN
  when the oracle does not beat the logging baseline);
* the paired purchase lift over the best supervised ranker, and the simulator's predicted
  lift beside the true one with its uncertainty (:mod:`fusionrank.evaluation.transfer`;
  the spread needs ``runs/<name>/simulator/ensemble``).

```
runs/<name>/evaluation/compare.html   the table, lift bars and means with intervals
runs/<name>/evaluation/compare.json   every number of the report
```
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from fusionrank.evaluation.ab import SessionMetrics, SessionSettings, simulate_arms
from fusionrank.evaluation.compare_transfer import with_transfer
from fusionrank.evaluation.config import EvaluationConfig
from fusionrank.evaluation.context import RunWorlds, load_run_worlds
from fusionrank.evaluation.policies import policy_ranker, resolve_policy
from fusionrank.evaluation.stats import LiftResult, paired_lifts
from fusionrank.evaluation.transfer import PredictedLift
from fusionrank.runs import RunFolder

if TYPE_CHECKING:
    from fusionrank.agents.policy import Policy

logger = logging.getLogger(__name__)

TABLE_METRICS = ("purchases", "revenue", "ctr", "ndcg")
GAP_METRICS = ("purchases", "revenue")


@dataclass(frozen=True, eq=False)
class ComparisonResult:
    """Every policy of a run on the same traffic, per world.

    Args:
        policies: Arm labels, in order (the baseline and the oracle among them).
        baseline: The label of the logging baseline.
        oracle: The label of the oracle, or None (not ShopWorld).
        sessions: Sessions per arm and world.
        metrics: World -> one :class:`SessionMetrics` per arm, sessions paired.
        lifts: World -> policy -> lifts over the baseline, one per metric.
        gap_closed: World -> policy -> metric -> share of the baseline-to-oracle gap.
        alpha: Two-sided level of every interval.
        report: The HTML report's path (None until written).
        best_supervised: The supervised ranker with the most simulated purchases, or None.
        vs_best: World -> policy -> purchase lift over ``best_supervised``.
        predicted: Policy -> the simulator's lift over the baseline beside the truth's.
        kendall_tau: World-free: tau between the simulated and true purchases of the
            policies but the oracle (NaN without a truth).
        validation: Policy -> expected purchases per first query in a simulator fitted
            on the held-out logs only (``runs/<name>/simulator/validation``), or empty.
    """

    policies: tuple[str, ...]
    baseline: str
    oracle: str | None
    sessions: int
    metrics: dict[str, tuple[SessionMetrics, ...]]
    lifts: dict[str, dict[str, tuple[LiftResult, ...]]]
    gap_closed: dict[str, dict[str, dict[str, float]]]
    alpha: float
    report: Path | None = None
    best_supervised: str | None = None
    vs_best: dict[str, dict[str, LiftResult]] = field(default_factory=dict)
    predicted: dict[str, PredictedLift] = field(default_factory=dict)
    kendall_tau: float = float("nan")
    validation: dict[str, float] = field(default_factory=dict)

    def arm(self, world: str, policy: str) -> SessionMetrics:
        """The sessions of one policy in one world."""
        return self.metrics[world][self.policies.index(policy)]

    def lift(self, world: str, policy: str, metric: str) -> LiftResult:
        """The lift of ``policy`` over the baseline on ``metric`` in ``world``."""
        return next(r for r in self.lifts[world][policy] if r.metric == metric)

    def mean_ci(self, world: str, policy: str, metric: str) -> tuple[float, float, float]:
        """``(mean, low, high)``: the metric's mean with its normal interval."""
        return mean_interval(getattr(self.arm(world, policy), metric), self.alpha)

    def table(self) -> list[dict[str, Any]]:
        """One row per (world, policy): means with intervals, lifts and gap shares."""
        rows = []
        for world in self.metrics:
            for policy in self.policies:
                names = self.arm(world, policy).names
                row: dict[str, Any] = {"world": world, "policy": policy}
                for metric in (m for m in TABLE_METRICS if m in names):
                    mean, low, high = self.mean_ci(world, policy, metric)
                    row[metric] = {"mean": mean, "ci": [low, high]}
                    if policy != self.baseline:
                        lift = self.lift(world, policy, metric)
                        row[metric]["lift"] = lift.to_dict()
                row["gap_closed"] = self.gap_closed[world].get(policy, {})
                if policy in self.vs_best.get(world, {}):
                    row["vs_best_supervised"] = {
                        "reference": self.best_supervised,
                        **self.vs_best[world][policy].to_dict(),
                    }
                if policy in self.predicted:
                    row["predicted_vs_true_lift"] = self.predicted[policy].to_dict()
                if policy in self.validation:
                    row["held_out_simulator_purchases"] = self.validation[policy]
                rows.append(row)
        return rows


def mean_interval(values: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """``(mean, low, high)`` of float64 (n,) values: ``mean ± z_{1-alpha/2} sd / sqrt(n)``."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    half = float(stats.norm.ppf(1 - alpha / 2) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def _label(spec: str | Path, policy: Policy, taken: set[str]) -> str:
    base = Path(spec).name if (Path(spec) / "policy.json").is_file() else str(spec)
    label, i = base, 2
    while label in taken:
        label, i = f"{base}-{i}", i + 1
    taken.add(label)
    return label


def _policies(
    worlds: RunWorlds, specs: Sequence[str | Path] | None
) -> tuple[list[str], list[Policy], str, str | None]:
    """Resolve the arms; add the logging baseline and (ShopWorld) the oracle if absent."""
    specs = list(specs) if specs else [str(p) for p in worlds.run.policies.saved()]
    policies = [resolve_policy(s, worlds.run, worlds.retriever, worlds.pages) for s in specs]
    kinds = [p.kind for p in policies]
    if "logging" not in kinds:
        specs.insert(0, "logging")
        policies.insert(0, resolve_policy("logging", worlds.run, worlds.retriever, worlds.pages))
    if worlds.is_shopworld and "oracle-shopworld" not in kinds:
        specs.append("oracle")
        policies.append(resolve_policy("oracle", worlds.run, worlds.retriever))
    taken: set[str] = set()
    labels = [_label(s, p, taken) for s, p in zip(specs, policies, strict=True)]
    kinds = [p.kind for p in policies]
    baseline = labels[kinds.index("logging")]
    oracle = labels[kinds.index("oracle-shopworld")] if "oracle-shopworld" in kinds else None
    return labels, policies, baseline, oracle


def _gap(
    arms: Sequence[SessionMetrics], labels: Sequence[str], baseline: str, oracle: str | None
) -> dict[str, dict[str, float]]:
    if oracle is None:
        return {}
    base, best = arms[labels.index(baseline)], arms[labels.index(oracle)]
    out: dict[str, dict[str, float]] = {}
    for label, arm in zip(labels, arms, strict=True):
        out[label] = {}
        for metric in GAP_METRICS:
            low, high = getattr(base, metric).mean(), getattr(best, metric).mean()
            gain = getattr(arm, metric).mean() - low
            out[label][metric] = float(gain / (high - low)) if high > low else float("nan")
    return out


def _lifts(
    arms: Sequence[SessionMetrics],
    labels: Sequence[str],
    baseline: str,
    config: EvaluationConfig,
    rng: np.random.Generator,
) -> dict[str, tuple[LiftResult, ...]]:
    """Each arm's paired lifts over the baseline's, metric by metric."""
    base = arms[labels.index(baseline)]
    names = base.names
    return {
        label: paired_lifts(
            base.matrix(names),
            arm.matrix(names),
            names,
            alpha=config.alpha,
            power=config.power,
            n_bootstrap=config.n_bootstrap,
            rng=rng,
        )
        for label, arm in zip(labels, arms, strict=True)
        if label != baseline
    }


def compare_policies(
    run: RunFolder | str | Path,
    policies: Sequence[str | Path] | None = None,
    sessions: int | None = None,
    seed: int = 0,
    *,
    config: EvaluationConfig | None = None,
    truth: bool = True,
    out: str | Path | None = None,
    ensemble: str | Path | None = None,
) -> ComparisonResult:
    """Simulate every policy on the same traffic and write ``compare.html`` / ``.json``.

    Args:
        run: The run folder (retriever, fitted simulator, policies, world).
        policies: Policy folders, names under ``policies/`` or built-ins (``default``,
            ``logging``, ``oracle``); None: every saved policy of the run. The logging
            baseline, and on ShopWorld the oracle, are added when absent.
        sessions: Sessions per arm and world (default ``config.n_sessions``).
        seed: Root seed of the traffic, the users' draws and the bootstrap.
        config: The evaluation settings (default: the defaults).
        truth: Also run on ShopWorld's hidden users.
        out: Report folder (default the run's ``evaluation/``).
        ensemble: A simulator ensemble folder for the predicted lifts' spread (default
            the run's ``simulator/ensemble/`` when it exists).

    Returns:
        The :class:`ComparisonResult`, with ``report`` set to the HTML path.
    """
    config = config or EvaluationConfig()
    settings = SessionSettings.from_config(config)
    n = sessions or config.n_sessions
    run = RunFolder.at(run)
    worlds = load_run_worlds(run, settings, truth)
    labels, chosen, baseline, oracle = _policies(worlds, policies)
    depth = settings.slate_size * settings.max_pages
    rankers = [policy_ranker(p, worlds.retriever, worlds.queries, depth) for p in chosen]
    sim_seed, boot_seed, transfer_seed = np.random.SeedSequence(seed).spawn(3)
    boot = np.random.default_rng(boot_seed)
    metrics, lifts, gaps = {}, {}, {}
    for world, users in worlds.users.items():
        arms = simulate_arms(
            users, worlds.sampler, rankers, n, sim_seed, settings, worlds.reformulate, worlds.judge
        )
        metrics[world] = arms
        lifts[world] = _lifts(arms, labels, baseline, config, boot)
        gaps[world] = _gap(arms, labels, baseline, oracle)
    result = ComparisonResult(
        tuple(labels), baseline, oracle, n, metrics, lifts, gaps, config.alpha
    )
    result = with_transfer(
        result, worlds, chosen, dict(zip(labels, rankers, strict=True)), settings, config,
        np.random.default_rng(transfer_seed), ensemble,
    )  # fmt: skip
    from fusionrank.evaluation.compare_report import write_comparison

    path = write_comparison(result, Path(out) if out else run.evaluation.path)
    return ComparisonResult(**{**result.__dict__, "report": path})
