"""Speed of the simulated A/B, and interleaving's sensitivity against it, on ShopWorld.

Two rankers re-rank each query's 60 text-search candidates: the shop's text order (A) and
the order by true relevance (B, an oracle). ShopWorld's hidden users play both arms.

* A/B: 100,000 sessions x 2 arms (up to 3 pages and 1 rewording each, nDCG@10 judged),
  batched with common random numbers; beside it, the same simulation one session at a time
  (a Python loop over sessions, timed on a sample and scaled), measured in the same run.
* Interleaving: the same two rankers team-draft interleaved on 100,000 sessions; the
  sessions each method needs to detect its measured effect at 80 % power.
* The mSPRT on the A/B's stream of per-session click differences: where it would stop.

    .venv/bin/python benchmarks/ab_speed.py [--sessions 100000] [--out DIR]
    .venv/bin/python benchmarks/ab_speed.py --run runs/<name> [--a logging --b oracle]

With ``--run`` (a run with a retriever, a fitted simulator and, for the hidden users, a
ShopWorld world), the arms are two *policies* of that run (``fusionrank ab`` names), each
distinct query ranked once up front through the retriever (timed apart), and the A/B runs
on the fitted simulator and on the hidden users.

Writes an HTML report (lifts, distributions, cumulative lift, interleaving) to ``--out``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.datasets.shopworld.world import generate_world
from fusionrank.evaluation.ab import ABRun, SessionSettings, run_ab, simulate_arms
from fusionrank.evaluation.interleaving import (
    InterleavingResult,
    SessionsComparison,
    sessions_comparison,
    simulate_interleaving,
    summarize,
)
from fusionrank.evaluation.rankers import ScoreTable
from fusionrank.evaluation.sections import add_ab, add_interleaving
from fusionrank.evaluation.sequential import msprt
from fusionrank.evaluation.shopworld import (
    ShopWorldJudge,
    shopworld_pools,
    shopworld_reformulation,
    shopworld_traffic,
)
from fusionrank.evaluation.traffic import Reformulator
from fusionrank.reports import Report
from fusionrank.simulator.traffic import QuerySampler


def one_session_at_a_time(truth, sampler, ranker, n, settings, reformulate, seed):
    """The baseline: each session simulated on its own (B = 1), pages in a Python loop."""
    rng = np.random.default_rng(seed)
    clicks = np.zeros(n)
    for i in range(n):
        query = sampler.sample(1, rng)
        user = truth.new_users(1, rng)
        ranked = ranker(query)
        page = reforms = 0
        while True:
            start = page * settings.slate_size
            items = ranked[:, start : start + settings.slate_size]
            feedback, stopped = truth.sample_page(query, items, user, rng)
            clicks[i] += feedback.clicks.sum()
            more = start + settings.slate_size < ranked.shape[1]
            can_page = np.array([page + 1 < settings.max_pages and more])
            go, reform = truth.next_step(can_page, np.array([reforms < 1]), rng)
            if stopped[0] or not (go[0] or reform[0]):
                break
            if go[0]:
                page += 1
            else:
                query, page, reforms = reformulate(query), 0, reforms + 1
                ranked = ranker(query)
    return clicks


def policy_ab(run_dir: Path, names: tuple[str, str], sessions: int) -> None:
    """The A/B of two policies of a run, on every world of the run, timed."""
    from fusionrank.evaluation.context import load_run_worlds
    from fusionrank.evaluation.policies import policy_ranker, resolve_policy

    settings = SessionSettings()
    worlds = load_run_worlds(run_dir, settings)
    started = time.perf_counter()
    arms = [
        policy_ranker(
            resolve_policy(name, run_dir, worlds.retriever, worlds.pages),
            worlds.retriever,
            worlds.queries,
            settings.slate_size * settings.max_pages,
        )
        for name in names
    ]
    print(
        f"policies {names[0]} and {names[1]}: {len(worlds.queries):,} distinct queries ranked "
        f"through the retriever in {time.perf_counter() - started:.1f} s"
    )
    if worlds.judge is not None:
        worlds.judge.ideal_dcg(worlds.sampler.query_ids[:1], settings.ndcg_k)
    for world, users in worlds.users.items():
        started = time.perf_counter()
        run = run_ab(
            users,
            worlds.sampler,
            arms[0],
            arms[1],
            sessions,
            1,
            names=names,
            settings=settings,
            reformulate=worlds.reformulate,
            judge=worlds.judge,
        )
        total = time.perf_counter() - started
        lift = run.lift("purchases")
        print(
            f"{world}: A/B of {sessions:,} sessions x 2 arms simulated in {run.seconds:.1f} s "
            f"(with statistics {total:.1f} s); "
            f"purchases {lift.mean_a:.4f} -> {lift.mean_b:.4f} ({lift.relative:+.1%}, "
            f"p {lift.p_value:.2g})"
        )


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="A run folder: A/B its policies.")
    parser.add_argument("--a", default="logging", help="With --run: arm A's policy.")
    parser.add_argument("--b", default="oracle", help="With --run: arm B's policy.")
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--loop-sessions", type=int, default=2_000)
    parser.add_argument("--world", type=Path, default=None, help="An existing ShopWorld folder.")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/ab_speed"))
    return parser.parse_args()


def default_world(world: Path | None) -> Path:
    """``world``, or a default ShopWorld (no images) generated in a temporary folder."""
    if world is None:
        world = Path(tempfile.mkdtemp()) / "world"
        started = time.perf_counter()
        generate_world(ShopWorldConfig(images=False), 0, world)
        print(f"default ShopWorld (no images) generated in {time.perf_counter() - started:.1f} s")
    return world


def timed_ab(
    truth: HiddenTruth,
    sampler: QuerySampler,
    arms: tuple[ScoreTable, ScoreTable],
    args: argparse.Namespace,
    settings: SessionSettings,
    reformulate: Reformulator,
    judge: ShopWorldJudge,
) -> ABRun:
    """The batched A/B, timed beside the one-session-at-a-time loop; printed with its lifts."""
    started = time.perf_counter()
    run = run_ab(
        truth,
        sampler,
        arms[0],
        arms[1],
        args.sessions,
        1,
        names=("text", "oracle"),
        settings=settings,
        reformulate=reformulate,
        judge=judge,
    )
    total = time.perf_counter() - started
    started = time.perf_counter()
    one_session_at_a_time(truth, sampler, arms[0], args.loop_sessions, settings, reformulate, 2)
    loop = (time.perf_counter() - started) / args.loop_sessions * args.sessions * 2
    print(
        f"A/B, {args.sessions:,} sessions x 2 arms: simulation {run.seconds:.1f} s "
        f"(+ statistics {total - run.seconds:.1f} s); one session at a time: {loop:.0f} s "
        f"(timed on {args.loop_sessions:,} sessions, scaled); speed-up {loop / run.seconds:.0f}x"
    )
    for r in run.lifts:
        print(
            f"  {r.metric:>10}: A {r.mean_a:.4f}  B {r.mean_b:.4f}  lift {r.relative:+.1%}  "
            f"95% CI [{r.relative_ci_bootstrap[0]:+.1%}, {r.relative_ci_bootstrap[1]:+.1%}]  "
            f"p {r.p_value:.2g}  MDE {r.mde_relative:.2%}"
        )
    return run


def interleaving_against_ab(
    truth: HiddenTruth, sampler: QuerySampler, arms: tuple[ScoreTable, ScoreTable], sessions: int
) -> tuple[InterleavingResult, SessionsComparison]:
    """Team-draft interleaving of the arms, and the sessions it and a first-page A/B need
    to detect the effect; printed."""
    started = time.perf_counter()
    credits = simulate_interleaving(truth, sampler, arms[0], arms[1], sessions, 3)
    interleaving = summarize(credits)
    seconds = time.perf_counter() - started
    single = simulate_arms(
        truth,
        sampler,
        list(arms),
        sessions,
        4,
        SessionSettings(max_pages=1, max_reformulations=0),
    )
    diff = single[1].clicks - single[0].clicks
    comparison = sessions_comparison(
        diff.mean(),
        single[0].clicks.std(ddof=1),
        interleaving.preference,
        interleaving.preference_sd,
    )
    print(
        f"interleaving, {sessions:,} sessions in {seconds:.1f} s: oracle win rate "
        f"{interleaving.win_rate:.3f} [{interleaving.win_rate_ci[0]:.3f}, "
        f"{interleaving.win_rate_ci[1]:.3f}], ties {interleaving.ties / interleaving.n:.1%}"
    )
    print(
        f"sessions to detect the effect (first page, clicks, 80 % power): live A/B "
        f"{comparison.ab_sessions:,} per arm; interleaving {comparison.interleaving_sessions:,}"
        f" ({comparison.ratio:.1f}x fewer)"
    )
    return interleaving, comparison


def main() -> None:
    args = parse_args()
    if args.run is not None:
        policy_ab(args.run, (args.a, args.b), args.sessions)
        return
    world = default_world(args.world)
    truth = HiddenTruth.load(world / "truth")
    catalog = pd.read_parquet(world / "data" / "catalog.parquet")
    query_ids, pool, text = shopworld_pools(truth, catalog, 60, np.random.default_rng(0))
    grades = truth.relevance(truth.query_index(query_ids), pool).astype(np.float64)
    arm_a = ScoreTable(query_ids, pool, text, "text")
    arm_b = ScoreTable(query_ids, pool, grades + 0.01 * text, "oracle")
    sampler, judge = shopworld_traffic(truth), ShopWorldJudge(truth)
    reformulate, settings = shopworld_reformulation(truth), SessionSettings()
    judge.ideal_dcg(query_ids[:1], settings.ndcg_k)  # build the ideal DCGs outside the timing

    run = timed_ab(truth, sampler, (arm_a, arm_b), args, settings, reformulate, judge)
    interleaving, comparison = interleaving_against_ab(
        truth, sampler, (arm_a, arm_b), args.sessions
    )
    sequential = msprt(run.b.clicks - run.a.clicks)
    print(
        f"mSPRT on the A/B's click differences: stops after {sequential.stopped_at} of "
        f"{sequential.n:,} sessions (always-valid p {sequential.p_value:.2g})"
    )
    report = Report("Simulated A/B and interleaving on ShopWorld's hidden users")
    add_ab(report, {"hidden truth": run})
    add_interleaving(report, interleaving, ("text", "oracle"), comparison)
    print(f"report: {report.write(args.out)}")


if __name__ == "__main__":
    main()
