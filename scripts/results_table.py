"""Regenerate the README's "Results on ShopWorld" tables from a finished run.

Reads the run's ``evaluation/compare.json`` (the hidden users' and the fitted simulator's
figures) and ``manifest.json`` (stage timings) and, with ``--transfer``, the JSON of
``benchmarks/policy_transfer.py --json``; writes the markdown between the README's
``<!-- results:start -->`` and ``<!-- results:end -->`` markers (``--check``: only say
whether it is current).

    fusionrank demo && python scripts/results_table.py --run runs/shopworld
    python scripts/results_table.py --run runs/shopworld --transfer transfer.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- results:start -->", "<!-- results:end -->"
TRUTH, SIMULATOR = "hidden truth", "fitted simulator"
NAMES = {
    "logging": "logging",
    "default-order": "default order",
    "static-fusion": "best static fusion",
    "lambdamart": "LambdaMART (IPW)",
    "lambdamart-position": "LambdaMART (LightGBM position-debiased)",
    "ppo-fusion": "PPO fusion",
    "ppo-rerank": "PPO re-rank",
    "pg-joint": "PG joint fusion + re-rank",
    "oracle": "oracle (hidden truth)",
}


def _interval(low: float, high: float, percent: bool = False) -> str:
    return f"[{low:+.1%}, {high:+.1%}]" if percent else f"[{low:.3f}, {high:.3f}]"


def _estimate(entry: Mapping[str, Any] | None, digits: int = 3) -> str:
    if not entry:
        return "–"
    low, high = entry["ci"]
    return f"{entry['mean']:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _lift(lift: Mapping[str, Any] | None) -> str:
    if not lift or lift.get("relative") is None:
        return "–"
    return f"{lift['relative']:+.1%} {_interval(*lift['relative_ci_normal'], percent=True)}"


def _gap(row: Mapping[str, Any]) -> str:
    gap = (row.get("gap_closed") or {}).get("purchases")
    return "–" if gap is None else f"{gap:.0%}"


def world_table(compare: Mapping[str, Any], world: str) -> str:
    """One world's table: per policy the means with intervals, lifts and gap closed."""
    best = compare.get("best_supervised")
    header = ["policy", "purchases / session", "revenue / session", "CTR", "nDCG@10"]
    header += ["purchases vs logging", "gap closed"]
    header += [f"purchases vs {NAMES.get(best, best)}"] if best else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in (r for r in compare["rows"] if r["world"] == world):
        cells = [NAMES.get(row["policy"], row["policy"]), _estimate(row.get("purchases"))]
        cells += [_estimate(row.get("revenue"), 2), _estimate(row.get("ctr"))]
        cells += [_estimate(row.get("ndcg")), _lift((row.get("purchases") or {}).get("lift"))]
        cells.append(_gap(row))
        if best:
            cells.append("–" if row["policy"] == best else _lift(row.get("vs_best_supervised")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def foresight_table(compare: Mapping[str, Any]) -> str:
    """The simulator's predicted purchase lift over logging beside the true one."""
    header = ["policy", "predicted lift (95 % interval)", "true lift (95 % CI)", "error"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in (r for r in compare["rows"] if r["world"] == TRUTH):
        p = row.get("predicted_vs_true_lift")
        if not p or row["policy"] == compare.get("oracle"):
            continue
        predicted = f"{p['predicted']:+.1%} {_interval(*p['predicted_ci'], percent=True)}"
        true = f"{p['true']:+.1%} {_interval(*p['true_ci'], percent=True)}"
        lines.append(
            f"| {NAMES.get(row['policy'], row['policy'])} | {predicted} | {true} | "
            f"{p['error']:+.0%} |"
        )
    return "\n".join(lines)


def timings(manifest: Mapping[str, Any]) -> str:
    """``world 8 s, clip 108 s, ...`` and the total, from the manifest's stage records."""
    from fusionrank.pipeline import STAGES

    stages = manifest["stages"]
    order = [s.name for s in STAGES if s.name in stages]
    total = sum(stages[name]["seconds"] for name in order)
    parts = ", ".join(f"{name} {stages[name]['seconds']:.0f} s" for name in order)
    minutes, seconds = divmod(round(total), 60)
    return f"**{minutes} min {seconds:02d} s** of stages ({parts})"


def transfer_table(transfer: Mapping[str, Any]) -> str:
    """The transfer benchmark's headline per world, from its ``--json`` output."""
    header = [
        "world",
        "best supervised",
        "best RL (by the simulator)",
        "its hidden-user lift vs best supervised, per seed [95 % CI]",
        "gap closed",
        "max |lift error|",
        "interval coverage",
        "Kendall tau",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for world, t in transfer.items():
        targets = t["targets"]
        best = targets["best_rl_by_simulator"]
        cis = "; ".join(_interval(*ci, percent=True) for ci in t["rows"][best]["vs_best_ci"])
        cells = [
            world,
            t["best_supervised"],
            best,
            f"{t['rows'][best]['vs_best']:+.1%} ({cis})",
            f"{targets['gap_closed']:.0%}",
            f"{targets['max_abs_lift_error']:.0%}",
            f"{targets['coverage']:.0%}",
            f"{t['kendall_tau']:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def retrieval_table(metrics: Mapping[str, Any]) -> str:
    """Recall@10 per query intent and retrieval condition (``fusionrank retrieval eval``)."""
    intents = ["visual", "textual", "mixed", "broad", "all"]
    by_condition: dict[str, dict[str, float]] = {}
    for row in metrics["table"]:
        by_condition.setdefault(row["condition"], {})[row["intent"]] = row["recall@10"]
    lines = ["| | " + " | ".join(intents) + " |", "|---|" + "---|" * len(intents)]
    for condition, recall in by_condition.items():
        cells = [f"{recall[i]:.3f}" if i in recall else "–" for i in intents]
        lines.append(f"| {condition} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results(run: Path, transfer: Path | None) -> str:
    from fusionrank.runs import RunFolder

    folder = RunFolder(run)
    compare = json.loads(folder.evaluation.compare_json.read_text())
    manifest = json.loads(folder.manifest.path.read_text())
    parts = [
        f"Stage timings of this run: {timings(manifest)}.",
        "Hidden users (what matters):",
        world_table(compare, TRUTH),
        "The fitted simulator's verdict on the same policies and sessions:",
        world_table(compare, SIMULATOR),
        "Does the fitted simulator foresee the lifts? Its predicted purchase lift over "
        "logging (interval: sampling error plus the spread of a 5-simulator bootstrap "
        "ensemble) beside the hidden users' lift; Kendall tau between the two orders of "
        f"the policies: {compare['kendall_tau']:.3f}.",
        foresight_table(compare),
    ]
    metrics = folder.retrieval.metrics / "eval.json"
    if metrics.is_file():
        parts += [
            "First-stage retrieval on the same world (`fusionrank retrieval eval`; recall@10 "
            "against graded relevance, per query intent):",
            retrieval_table(json.loads(metrics.read_text())),
        ]
    if transfer is not None:
        parts += [
            "`benchmarks/policy_transfer.py` on the default world and two report worlds it "
            "was not tuned on (3 training seeds each; 20,000 sessions per policy):",
            transfer_table(json.loads(transfer.read_text())),
        ]
    return "\n\n".join(parts)


def replace_section(text: str, body: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{body}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "shopworld")
    parser.add_argument("--transfer", type=Path, default=None, help="policy_transfer --json")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="fail if the README differs")
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    new = replace_section(text, results(args.run, args.transfer))
    if args.check:
        print("README results are current" if new == text else "README results differ")
        return 0 if new == text else 1
    args.readme.write_text(new)
    print(f"wrote the results of {args.run} into {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
