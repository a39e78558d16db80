"""``fusionrank demo --quick`` end to end, as a user runs it, and its stage reuse."""

from __future__ import annotations

import json
import os
import shutil
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
        timeout=1200,
        check=False,
    )


def statuses(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Stage -> ran / reused, from the demo's final table."""
    found = {}
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 3 and cells[0] in {s.name for s in STAGES}:
            found[cells[0]] = cells[1]
    return found


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_quick_demo_runs_every_stage_then_reuses_what_did_not_change(tmp_path: Path) -> None:
    first = demo(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    run = tmp_path / "runs" / "shopworld-quick"
    manifest = json.loads((run / "manifest.json").read_text())
    assert set(manifest["stages"]) == {s.name for s in STAGES}
    assert manifest["inputs"]["own_data"] is False
    assert statuses(first) == {s.name: "ran" for s in STAGES}
    compare_bytes = (run / "evaluation" / "compare.json").read_bytes()
    compare = json.loads(compare_bytes)
    policies = {row["policy"] for row in compare["rows"]}
    assert {"logging", "default-order", "lambdamart", "ppo-rerank", "oracle"} <= policies
    assert {row["world"] for row in compare["rows"]} == {"fitted simulator", "hidden truth"}
    report = (run / "report.html").read_text()
    assert "hidden truth" in report and "ppo-rerank" in report
    assert "fusionrank serve --run" in first.stdout

    again = demo(tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert statuses(again) == {s.name: "reused" for s in STAGES}

    # A deleted output re-runs its stage; training is deterministic, so the policy comes
    # back byte-identical and nothing after it needs to run again.
    policy = run / "policies" / "ppo-fusion"
    version = json.loads((policy / "policy.json").read_text())["version"]
    shutil.rmtree(policy)
    third = demo(tmp_path)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    expected = {s.name: "reused" for s in STAGES} | {"ppo-fusion": "ran"}
    assert statuses(third) == expected
    assert json.loads((policy / "policy.json").read_text())["version"] == version
    assert (run / "evaluation" / "compare.json").read_bytes() == compare_bytes
