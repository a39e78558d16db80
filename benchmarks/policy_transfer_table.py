"""The tables of ``policy_transfer.py``: per world, every policy's figures over the
training seeds, and the issue's targets checked on them."""

from __future__ import annotations

from typing import Any

import numpy as np

LEARNED_PREFIXES = ("ppo-", "pg-", "residual-", "belief-")
TARGET_GAP = 0.5
TARGET_LIFT_ERROR = 0.2
TARGET_COVERAGE = 0.8
TARGET_TAU = 0.8


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _pct(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{100 * x:+.1f}%"


def with_held_out(seed: dict) -> dict:
    """Widen each cached predicted interval by the held-out simulator's disagreement
    (:func:`fusionrank.evaluation.transfer.widen`) when the cache predates it."""
    from fusionrank.evaluation.transfer import widen

    rows = seed["policies"]
    base = rows.get("logging", {}).get("validation", float("nan"))
    for row in rows.values():
        q = row.get("predicted")
        if not q or "held_out" in q or not np.isfinite(base) or base <= 0:
            continue
        other = row["validation"] / base - 1.0
        width = widen((q["predicted_ci"][1] - q["predicted_ci"][0]) / 2, q["predicted"], other)
        q["predicted_ci"] = [q["predicted"] - width, q["predicted"] + width]
        q["held_out"] = other
        q["covered"] = bool(q["predicted_ci"][0] <= q["true"] <= q["predicted_ci"][1])
    return seed


def policy_rows(seeds: dict[Any, dict]) -> dict[str, dict[str, Any]]:
    """Per policy, the figures averaged over seeds (and each seed's lift interval)."""
    seeds = {k: with_held_out(v) for k, v in seeds.items()}
    names = list(next(iter(seeds.values()))["policies"])
    rows = {}
    for name in names:
        per = [s["policies"][name] for s in seeds.values() if name in s["policies"]]
        truth_vs = [p["truth"].get("vs_best") for p in per if p["truth"].get("vs_best")]
        pred = [p.get("predicted") for p in per if p.get("predicted")]
        rows[name] = {
            "sim": _mean([p["sim"]["mean"] for p in per]),
            "validation": _mean([p.get("validation", float("nan")) for p in per]),
            "truth": _mean([p["truth"]["mean"] for p in per]),
            "gap_closed": _mean([p["truth"].get("gap_closed") for p in per]),
            "sim_gap_closed": _mean([p["sim"].get("gap_closed") for p in per]),
            "vs_best": _mean([v["relative"] for v in truth_vs]),
            "vs_best_ci": [[v["ci"][0], v["ci"][1]] for v in truth_vs],
            "vs_best_positive": sum(v["ci"][0] > 0 for v in truth_vs),
            "sim_vs_best": _mean(
                [p["sim"]["vs_best"]["relative"] for p in per if p["sim"].get("vs_best")]
            ),
            "predicted": _mean([q["predicted"] for q in pred]),
            "true_lift": _mean([q["true"] for q in pred]),
            "lift_error": _mean([q["error"] for q in pred]),
            "covered": sum(bool(q["covered"]) for q in pred),
            "n_pred": len(pred),
            "seeds": len(per),
        }
    return rows


def world_table(name: str, role: str, seeds: dict[Any, dict]) -> dict[str, Any]:
    rows = policy_rows(seeds)
    best = next(iter(seeds.values()))["best_supervised"]
    tau = _mean([s["kendall_tau"] for s in seeds.values()])
    print(f"\n## {name} ({role} world; {len(seeds)} training seed(s); best supervised: {best})\n")
    header = (
        "| policy | simulator | held-out sim | hidden users | gap closed"
        " | lift vs best supervised [95% CI per seed]"
        " | predicted lift | true lift | lift error | covered |"
    )
    print(header)
    print("|" + "---|" * 10)
    for policy, r in rows.items():
        cis = "; ".join(f"[{_pct(lo)}, {_pct(hi)}]" for lo, hi in r["vs_best_ci"]) or "–"
        print(
            f"| {policy} | {r['sim']:.4f} | {r['validation']:.4f} | {r['truth']:.4f} "
            f"| {_pct(r['gap_closed'])} "
            f"| {_pct(r['vs_best'])} {cis} | {_pct(r['predicted'])} | {_pct(r['true_lift'])} "
            f"| {_pct(r['lift_error'])} | {r['covered']}/{r['n_pred']} |"
        )
    print(f"\nKendall tau (simulated vs true order, policies but the oracle): {tau:.3f}")
    return {"role": role, "best_supervised": best, "kendall_tau": tau, "rows": rows}


def targets(world: dict[str, Any]) -> dict[str, Any]:
    """The issue's "Done when" checks on one world's rows."""
    rows = world["rows"]
    learned = {p: r for p, r in rows.items() if p.startswith(LEARNED_PREFIXES)}

    # The best RL policy is chosen by its value in the validation simulator (fitted on the
    # held-out logs), else in the fitted simulator; never on the truth.
    def score(p: str) -> float:
        r = learned[p]
        return r["validation"] if np.isfinite(r["validation"]) else r["sim"]

    pick = max(learned, key=score) if learned else None
    real = {p: r for p, r in rows.items() if p != "oracle" and np.isfinite(r["lift_error"])}
    errors = [abs(r["lift_error"]) for r in real.values()]
    covered = sum(r["covered"] for r in real.values())
    total = sum(r["n_pred"] for r in real.values())
    out: dict[str, Any] = {"best_rl_by_simulator": pick}
    if pick is not None:
        r = learned[pick]
        out["beats_best_supervised_all_seeds"] = r["vs_best_positive"] == r["seeds"]
        out["gap_closed"] = r["gap_closed"]
        out["gap_target"] = r["gap_closed"] >= TARGET_GAP
    out["max_abs_lift_error"] = max(errors) if errors else float("nan")
    out["lift_error_target"] = bool(errors) and max(errors) <= TARGET_LIFT_ERROR
    out["coverage"] = covered / total if total else float("nan")
    out["tau_target"] = world["kendall_tau"] >= TARGET_TAU
    return out


def print_tables(results: dict[str, dict], roles: dict[str, str]) -> dict[str, Any]:
    """Print every world's table and the targets; return the data printed."""
    tables = {}
    for name, seeds in results.items():
        if not seeds:
            print(f"\n## {name}: no results cached yet")
            continue
        tables[name] = world_table(name, roles[name], seeds)
        tables[name]["targets"] = checks = targets(tables[name])
        print(
            f"targets: best RL by simulator = {checks.get('best_rl_by_simulator')}; beats best "
            f"supervised on every seed: {checks.get('beats_best_supervised_all_seeds')}; gap "
            f"closed {_pct(checks.get('gap_closed', float('nan')))} (>= 50 %: "
            f"{checks.get('gap_target')}); max |lift error| "
            f"{_pct(checks['max_abs_lift_error'])} (<= 20 %: {checks['lift_error_target']}); "
            f"coverage {checks['coverage']:.0%}; tau >= 0.8: {checks['tau_target']}"
        )
    return tables
