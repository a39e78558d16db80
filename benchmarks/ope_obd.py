"""Off-policy estimators on the Open Bandit Dataset, beside Open Bandit Pipeline (obp).

Estimate the Random policy's CTR from the BTS logs and compare with the Random policy's
on-policy CTR, per campaign (all, men, women): the relative estimation error of each
estimator, mean ± sd over bootstrap runs of the BTS logs (the same rows for both sides).

    .venv/bin/python benchmarks/ope_obd.py [--runs 30] [--obp-python /tmp/obpenv/bin/python]
        [--campaigns all men women] [--reward-models logistic beta_binomial lightgbm]

DM, DR and SNDR are run once per reward model (default: logistic, beta_binomial, blend) and
labelled with it, e.g. ``DR (beta_binomial)``; each is compared with obp's estimator of the
same name (obp's reward model: its ``RegressionModel`` with logistic regression).

obp's side runs when ``--obp-python`` or ``$OBP_PYTHON`` names an interpreter with obp
0.5.7 installed (it needs Python < 3.11, so never the project's venv; see README.md), or
when obp imports here. Writes report.html and figures.json to ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fusionrank.evaluation import plots
from fusionrank.evaluation.ope.estimators import ESTIMATORS, Estimate
from fusionrank.evaluation.ope.obd import OBDValidation, bootstrap_rows, validate_on_obd
from fusionrank.evaluation.sections import add_ope
from fusionrank.reports import Report

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNS = ("all", "men", "women")
MODELLED = ("DM", "DR", "SNDR")
"""The estimators that use the reward model."""


def run_obp(python: str, data: Path, campaign: str, rows: np.ndarray, seed: int) -> dict:
    """Run benchmarks/ope_obd_obp.py under ``python`` on the same bootstrap rows."""
    with tempfile.TemporaryDirectory() as tmp:
        rows_file, out = Path(tmp) / "rows.npy", Path(tmp) / "obp.json"
        np.save(rows_file, rows)
        command = [
            python,
            str(ROOT / "benchmarks" / "ope_obd_obp.py"),
            "--data",
            str(data),
            "--campaign",
            campaign,
            "--rows",
            str(rows_file),
            "--out",
            str(out),
            "--seed",
            str(seed),
        ]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        subprocess.run(command, check=True, env=env, capture_output=True)
        return json.loads(out.read_text())


def obp_interpreter(option: str | None) -> str | None:
    if option or os.environ.get("OBP_PYTHON"):
        return option or os.environ["OBP_PYTHON"]
    return sys.executable if importlib.util.find_spec("obp") else None


def table_rows(ours: OBDValidation, peer: dict | None, model: str | None) -> list[list]:
    """One row per estimator: our value and error, then obp's, then the paired difference
    of errors (ours - obp) over the same runs with its 95 % normal interval. ``model``
    labels the reward model of DM, DR and SNDR."""
    rows = []
    summary = ours.summary()
    for i, name in enumerate(ours.estimators):
        s = summary[name]
        label = f"{name} ({model})" if model and name in MODELLED else name
        row = [ours.campaign, label, s["value"], s["relative_error_mean"], s["relative_error_sd"]]
        if peer is not None and name in peer["runs"]:
            errors = np.abs(np.asarray(peer["runs"][name]) - ours.on_policy) / ours.on_policy
            diff = ours.relative_errors[i] - errors
            half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
            row += [peer["full"][name], errors.mean(), errors.std(ddof=1), diff.mean(), half]
        elif peer is not None:
            row += [np.nan] * 5  # obp has no such estimator
        rows.append(row)
    return rows


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "obd")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reward-models",
        nargs="+",
        default=["logistic", "beta_binomial", "blend"],
        choices=("logistic", "lightgbm", "beta_binomial", "blend"),
    )
    parser.add_argument("--obp-python", default=None)
    parser.add_argument("--campaigns", nargs="+", default=list(CAMPAIGNS), choices=CAMPAIGNS)
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/ope_obd"))
    return parser.parse_args()


def validate_campaign(args: argparse.Namespace, campaign: str) -> list[OBDValidation]:
    """Our estimators on a campaign, once per reward model (all of them with the first,
    only the modelled ones with the others)."""
    results = []
    for i, model in enumerate(args.reward_models):
        names = ESTIMATORS if i == 0 else MODELLED
        results.append(
            validate_on_obd(
                args.data,
                campaign,
                n_runs=args.runs,
                seed=args.seed,
                reward_model=model,
                estimators=names,
            )
        )
    return results


def labelled_estimates(
    reward_models: list[str], results: list[OBDValidation]
) -> tuple[Estimate, ...]:
    """The full-data estimates of every run, DM, DR and SNDR labelled with their reward
    model when there are several."""
    several = len(reward_models) > 1
    return tuple(
        replace(e, estimator=f"{e.estimator} ({model})")
        if several and e.estimator in MODELLED
        else e
        for model, ours in zip(reward_models, results, strict=True)
        for e in ours.estimates
    )


def add_bars(
    bars: dict[str, dict[str, dict[str, tuple[float, float]]]],
    campaign: str,
    campaign_rows: list[list],
    peer: dict | None,
) -> None:
    """A campaign's error bars (mean, sd) of each estimator, ours and obp's where it ran."""
    for series in bars.values():
        series[campaign] = {}
    for row in campaign_rows:
        bars["fusionrank"][campaign][row[1]] = (row[3], row[4])
        if peer is not None and not np.isnan(row[6]):
            bars["obp 0.5.7"][campaign][row[1]] = (row[6], row[7])


def print_table(header: list[str], rows: list[list]) -> None:
    """The table of relative errors, one line a row."""
    print(" | ".join(f"{h:>16}" for h in header))
    for row in rows:
        print(" | ".join(f"{v:>16.4g}" if isinstance(v, float) else f"{v:>16}" for v in row))


def main() -> None:
    args = parse_args()
    python = obp_interpreter(args.obp_python)
    report = Report("Off-policy estimates on the Open Bandit Dataset")
    report.text(
        "The Random policy's CTR estimated from the BTS logs, against its on-policy CTR in "
        f"the Random logs; relative error over {args.runs} bootstrap runs of the BTS logs "
        f"(reward models: {', '.join(args.reward_models)}; 3-fold cross-fitting)."
    )
    rows: list[list] = []
    estimates, truth = {}, {}
    bars: dict[str, dict[str, dict[str, tuple[float, float]]]] = {"fusionrank": {}, "obp 0.5.7": {}}
    for campaign in args.campaigns:
        started = time.perf_counter()
        results = validate_campaign(args, campaign)
        ours_seconds = time.perf_counter() - started
        peer = None
        if python:
            runs = bootstrap_rows(results[0].estimates[0].n, args.runs, args.seed)
            peer = run_obp(python, args.data, campaign, runs, args.seed)
        several = len(args.reward_models) > 1
        campaign_rows = [
            row
            for model, ours in zip(args.reward_models, results, strict=True)
            for row in table_rows(ours, peer, model if several else None)
        ]
        rows += campaign_rows
        truth[campaign] = results[0].on_policy
        estimates[campaign] = labelled_estimates(args.reward_models, results)
        add_bars(bars, campaign, campaign_rows, peer)
        peer_time = f", obp {peer['seconds']:.1f} s" if peer else ""
        print(
            f"{campaign}: on-policy CTR {truth[campaign]:.5f}; ours {ours_seconds:.1f} s{peer_time}"
        )
    header = ["campaign", "estimator", "value", "rel.err mean", "rel.err sd"]
    if python:
        header += ["obp value", "obp rel.err mean", "obp rel.err sd", "ours - obp", "± (95%)"]
    print_table(header, rows)
    report.heading("Relative estimation error")
    report.table("relative_errors", header, rows)
    if not python:
        bars.pop("obp 0.5.7")
        report.text("obp was not run (no --obp-python / $OBP_PYTHON).", note=True)
    fig, data = plots.error_bars(bars, "Relative estimation error (mean ± sd)", "relative error")
    report.figure("relative_errors", fig, data, "Lower is better.")
    add_ope(report, estimates, truth, "Full-data estimates of the Random policy's CTR")
    print(f"report: {report.write(args.out)}")


if __name__ == "__main__":
    main()
