"""``fusionrank demo --quick`` end to end, as a user runs it, and its stage reuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fusionrank.pipeline import STAGES

FUSIONRANK = Path(sys.executable).parent / "fusionrank"


def demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "120"}
    return subprocess.run(
        [str(FUSIONRANK), "demo", "--quick", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_quick_demo_runs_every_stage_then_reuses_them(tmp_path: Path) -> None:
    first = demo(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    run = tmp_path / "runs" / "shopworld-quick"
    for stage in STAGES:
        marker = json.loads((run / "stages" / f"{stage.name}.json").read_text())
        assert marker["stage"] == stage.name
    compare = json.loads((run / "evaluation" / "compare.json").read_text())
    policies = {row["policy"] for row in compare["rows"]}
    assert {"logging", "default-order", "lambdamart", "ppo-rerank", "oracle"} <= policies
    assert {row["world"] for row in compare["rows"]} == {"fitted simulator", "hidden truth"}
    report = (run / "report.html").read_text()
    assert "hidden truth" in report and "ppo-rerank" in report
    assert "fusionrank serve --run" in first.stdout

    again = demo(tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.count("reused (finished before") == len(STAGES)
