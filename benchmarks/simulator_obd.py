"""Position bias of the Open Bandit Dataset's three slots, from its random-policy logs.

Under the uniformly random logging policy every item is equally likely in every slot, so
the click-through rate of slot r divided by that of slot 1 estimates e_r / e_1 directly
(with a Poisson bootstrap for its 95 % interval). The PBM fitted by EM on the same logs
(per (campaign, item) attractiveness, per-slot examination) must agree with it. The
sample is small (about 40 clicks per campaign), hence the pooled row over the three
campaigns, which share the slots.

    python benchmarks/simulator_obd.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.simulator.click_models import PBM
from fusionrank.types import LoggedPages

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "obd"
CAMPAIGNS = ("all", "men", "women")


def load(data: Path, campaigns: tuple[str, ...]) -> LoggedPages:
    """The random-policy logs of the campaigns, as one set of pages (query = campaign)."""
    from fusionrank.datasets import load_obd, logs_to_pages

    frames = [load_obd(data, policy="random", campaign=c) for c in campaigns]
    for frame, campaign in zip(frames, campaigns, strict=True):
        frame["session_id"] = campaign + "-" + frame["session_id"].astype(str)
    return logs_to_pages(pd.concat(frames, ignore_index=True))


def ratio_estimate(
    pages: LoggedPages, rng: np.random.Generator, n_boot: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """CTR of each slot over slot 1's, and its 95 % Poisson-bootstrap interval (2, L)."""
    shown, clicks = pages.shown.astype(np.float64), pages.clicks.astype(np.float64)
    weights = rng.poisson(1.0, size=(n_boot, len(pages))).astype(np.float64)
    ctr = (weights @ clicks) / np.maximum(weights @ shown, 1.0)
    ratios = ctr / ctr[:, :1]
    point = clicks.sum(0) / shown.sum(0)
    return point / point[0], np.nanpercentile(ratios, [2.5, 97.5], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"OBD data not found at {args.data}; pass --data")
    rng = np.random.default_rng(0)
    print(
        f"{'campaign':>8} {'rows':>6} {'clicks':>6}  slot CTR / slot-1 CTR [95% CI]"
        "                      PBM e_r / e_1"
    )
    for campaign in (*CAMPAIGNS, "pooled"):
        pages = load(args.data, CAMPAIGNS if campaign == "pooled" else (campaign,))
        ratio, interval = ratio_estimate(pages, rng)
        pbm = PBM(prior=(0.01, 0.02), n_iterations=500).fit(pages)
        e = pbm.examination / pbm.examination[0]
        cells = " ".join(
            f"{r:.3f} [{lo:.2f}, {hi:.2f}]" for r, lo, hi in zip(ratio, *interval, strict=True)
        )
        print(
            f"{campaign:>8} {len(pages):6d} {int(pages.clicks.sum()):6d}  {cells}   "
            + " ".join(f"{v:.3f}" for v in e)
        )


if __name__ == "__main__":
    main()
