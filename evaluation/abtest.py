"""A simulated A/B of two policies of a run: ``fusionrank ab --a POLICY --b POLICY``.

For each world of the run (the fitted simulator and, on ShopWorld, the hidden users):

* the A/B (:func:`~fusionrank.evaluation.ab.run_ab`): both policies on the same traffic
  with common random numbers, paired lifts of every metric;
* the mSPRT on the stream of per-session click differences: where an always-valid test
  would have stopped;
* team-draft interleaving of the same two policies (one merged page per session), its
  win rate, and the sessions each method needs to detect the effect it measured (the
  A/B's effect measured on one-page sessions, as interleaving shows one page, and sized
  as a live two-sample test).

```
runs/<name>/evaluation/ab-<a>-vs-<b>/report.html   both worlds side by side
runs/<name>/evaluation/ab-<a>-vs-<b>/figures.json  every number of the report
```
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fusionrank.evaluation.ab import ABRun, SessionSettings, run_ab, simulate_arms
from fusionrank.evaluation.config import EvaluationConfig
from fusionrank.evaluation.context import RunWorlds, load_run_worlds
from fusionrank.evaluation.interleaving import (
    InterleavingResult,
    SessionsComparison,
    sessions_comparison,
    simulate_interleaving,
    summarize,
)
from fusionrank.evaluation.policies import policy_ranker, resolve_policy
from fusionrank.evaluation.sections import add_ab, add_interleaving
from fusionrank.evaluation.sequential import SequentialResult, msprt
from fusionrank.evaluation.traffic import Ranker
from fusionrank.protocols import UserModel
from fusionrank.reports import Report
from fusionrank.runs import RunFolder
from fusionrank.simulator.traffic import QuerySampler

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PolicyAB:
    """An A/B of two policies in every world of a run.

    Args:
        names: The two arms' labels (A, B).
        runs: World -> its A/B.
        sequential: World -> the mSPRT on the click differences.
        interleaving: World -> team-draft interleaving of the same arms.
        sessions_needed: World -> sessions each method needs (None when an effect is 0).
        report: The HTML report's path.
    """

    names: tuple[str, str]
    runs: dict[str, ABRun]
    sequential: dict[str, SequentialResult]
    interleaving: dict[str, InterleavingResult]
    sessions_needed: dict[str, SessionsComparison | None]
    report: Path


def _sessions_needed(
    users: UserModel,
    sampler: QuerySampler,
    arms: tuple[Ranker, Ranker],
    result: InterleavingResult,
    n: int,
    seed: np.random.SeedSequence,
    settings: SessionSettings,
    alpha: float,
    power: float,
) -> SessionsComparison | None:
    """Compare interleaving with a one-page A/B on clicks (None if either effect is 0)."""
    one_page = SessionSettings(
        slate_size=settings.slate_size,
        max_pages=1,
        max_reformulations=0,
        batch_size=settings.batch_size,
    )
    a, b = simulate_arms(users, sampler, list(arms), n, seed, one_page)
    effect = float((b.clicks - a.clicks).mean())
    if effect == 0 or result.preference == 0:
        return None
    return sessions_comparison(
        effect,
        float(a.clicks.std(ddof=1)),
        result.preference,
        result.preference_sd,
        alpha=alpha,
        power=power,
    )


def ab_policies(
    run_folder: RunFolder | str | Path,
    policy_a: str | Path,
    policy_b: str | Path,
    sessions: int | None = None,
    seed: int = 0,
    *,
    config: EvaluationConfig | None = None,
    truth: bool = True,
    out: str | Path | None = None,
) -> PolicyAB:
    """Run the A/B, the mSPRT and interleaving of two policies; write the report.

    Args:
        run_folder: The run folder (retriever, fitted simulator, policies, world).
        policy_a, policy_b: Policy folders, names under ``policies/`` or built-ins
            (``default``, ``logging``, ``oracle``).
        sessions: Sessions per arm and world (default ``config.n_sessions``).
        seed: Root seed.
        config: The evaluation settings.
        truth: Also run on ShopWorld's hidden users.
        out: Report folder (default the run's ``evaluation/ab-<a>-vs-<b>``).
    """
    config = config or EvaluationConfig()
    settings = SessionSettings.from_config(config)
    n = sessions or config.n_sessions
    run_folder = RunFolder.at(run_folder)
    worlds = load_run_worlds(run_folder, settings, truth)
    pair, names = _arms(worlds, (policy_a, policy_b), settings.slate_size * settings.max_pages)
    ab_seed, il_seed, one_seed = np.random.SeedSequence(seed).spawn(3)
    runs, sequential, interleaving, needed = {}, {}, {}, {}
    for world, users in worlds.users.items():
        runs[world] = run = run_ab(
            users, worlds.sampler, *pair, n, int(ab_seed.generate_state(1)[0]),
            names=names, settings=settings, reformulate=worlds.reformulate,
            judge=worlds.judge, alpha=config.alpha, power=config.power,
            n_bootstrap=config.n_bootstrap,
        )  # fmt: skip
        sequential[world] = msprt(
            run.b.clicks - run.a.clicks, alpha=config.alpha, tau=config.sequential_tau
        )
        credits = simulate_interleaving(
            users, worlds.sampler, *pair, n, il_seed, slate_size=settings.slate_size
        )
        interleaving[world] = summarize(credits, config.alpha)
        needed[world] = _sessions_needed(
            users, worlds.sampler, pair, interleaving[world], n, one_seed, settings,
            config.alpha, config.power,
        )  # fmt: skip
    folder = Path(out) if out else run_folder.evaluation.ab(*names)
    path = _write(folder, names, runs, sequential, interleaving, needed)
    return PolicyAB(names, runs, sequential, interleaving, needed, path)


def _arms(
    worlds: RunWorlds, specs: tuple[str | Path, str | Path], depth: int
) -> tuple[tuple[Ranker, Ranker], tuple[str, str]]:
    """The two policies as rankers of every traffic query, with their labels."""
    rankers, names = [], []
    for spec in specs:
        policy = resolve_policy(spec, worlds.run, worlds.retriever, worlds.pages)
        rankers.append(policy_ranker(policy, worlds.retriever, worlds.queries, depth))
        names.append(Path(spec).name if (Path(spec) / "policy.json").is_file() else str(spec))
    if names[0] == names[1]:
        names = [f"{names[0]} (A)", f"{names[1]} (B)"]
    return (rankers[0], rankers[1]), (names[0], names[1])


def _write(
    folder: Path,
    names: tuple[str, str],
    runs: dict[str, ABRun],
    sequential: dict[str, SequentialResult],
    interleaving: dict[str, InterleavingResult],
    needed: dict[str, SessionsComparison | None],
) -> Path:
    report = Report(f"A/B: {names[1]} against {names[0]}", "ab.html.j2", {"worlds": list(runs)})
    add_ab(report, runs)
    report.heading("Sequential test (mSPRT) on clicks per session")
    rows = [
        (w, s.n, s.stopped_at if s.stopped_at else "no stop", s.estimate, s.ci, s.p_value)
        for w, s in sequential.items()
    ]
    header = ("world", "sessions", "stopped at", "estimate", "CI at stop", "always-valid p")
    report.table("sequential", header, rows)
    for world, result in interleaving.items():
        add_interleaving(report, result, names, needed[world], world=world)
    extra = {"names": list(names), "sequential": {w: asdict(s) for w, s in sequential.items()}}
    return report.write(folder, extra=extra)
