"""The HTML report: self-contained, with every figure's numbers in JSON beside it."""

from __future__ import annotations

import base64
import re

import numpy as np

from fusionrank.evaluation.ab import SessionSettings, run_ab
from fusionrank.evaluation.interleaving import simulate_interleaving, summarize
from fusionrank.evaluation.ope import Estimate
from fusionrank.evaluation.sections import add_ab, add_interleaving, add_ope
from fusionrank.io import read_json
from fusionrank.reports import Report, format_cell

PNG_MAGIC = b"\x89PNG"


def test_a_full_report_is_one_self_contained_file(world, tmp_path):
    settings = SessionSettings(batch_size=1000)
    runs = {
        seed_name: run_ab(
            world.truth,
            world.sampler,
            world.text(),
            world.oracle(),
            1500,
            seed,
            names=("text", "oracle"),
            settings=settings,
            judge=world.judge,
            n_bootstrap=200,
        )
        for seed_name, seed in (("hidden truth", 1), ("hidden truth, other seed", 2))
    }
    report = Report("A/B <text> & oracle")
    add_ab(report, runs)
    credits = simulate_interleaving(
        world.truth, world.sampler, world.text(), world.oracle(), 800, 3
    )
    add_interleaving(report, summarize(credits), ("text", "oracle"))
    estimate = Estimate("IPS", 0.1, (0.08, 0.12), 0.01, 100, 50, 40.0)
    add_ope(report, {"all": [estimate]}, {"all": 0.11})
    path = report.write(tmp_path / "out")
    text = path.read_text()
    assert "&lt;text&gt; &amp; oracle" in text  # titles are escaped
    assert not re.search(r'src="(?!data:)', text)  # nothing loaded from elsewhere
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 5
    assert all(base64.b64decode(image)[:4] == PNG_MAGIC for image in images)
    figures = read_json(tmp_path / "out" / "figures.json")
    assert set(figures["figures"]) == {
        "lift_bars",
        "metric_distributions",
        "cumulative_lift",
        "interleaving_win_rate",
        "ope_vs_truth",
    }
    lifts = figures["figures"]["lift_bars"]["groups"]["hidden truth"]
    clicks = runs["hidden truth"].lift("clicks")
    at = figures["figures"]["lift_bars"]["metrics"].index("clicks")
    assert np.isclose(lifts["relative_lift_pct"][at], 100 * clicks.relative)
    assert len(figures["tables"]["ab_lifts"]["rows"]) == 2 * len(runs["hidden truth"].lifts)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["figures.json", "report.html"]


def test_cells_are_formatted():
    assert format_cell(0.123456) == "0.1235"
    assert format_cell((0.1, 0.25)) == "[0.1, 0.25]"
    assert format_cell(1234567) == "1,234,567"
    assert format_cell(float("nan")) == "–"
