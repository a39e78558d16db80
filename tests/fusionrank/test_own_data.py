"""``fusionrank demo -c myshop.yaml --quick`` on a user's own shop, end to end, for every
log shape the validator accepts; then ``fusionrank serve`` answers ``/rerank`` with the
shop's ids.

The own shop (:mod:`tests.datasets.ownshop`) has string ids, no images, no propensities,
unicode titles, NaN descriptions and extra columns. The first test runs the command as a
user does (a subprocess, in the shop's folder); the edge shapes run in this process (one
import of torch and one load of the text model for all), with tiny training budgets.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from fusionrank.pipeline import STAGES
from fusionrank.service import Reranker
from fusionrank.service.config import ServiceConfig
from tests.datasets.ownshop import SHAPE_BY_NAME, SHAPES, LogShape, write_own_shop

FUSIONRANK = Path(sys.executable).parent / "fusionrank"
TINY = [
    "agents.total_steps={fusion: 256, rerank: 256, session: 256}",
    "agents.n_envs=8",
    "agents.n_steps=16",
    "agents.batch_size=64",
    "agents.n_epochs=1",
    "agents.eval_every=256",
    "agents.eval_pages=64",
    "evaluation.n_sessions=300",
    "evaluation.n_bootstrap=100",
    "simulator.em_iterations=5",
    "simulator.feature_rounds=1",
    "simulator.report_repeats=1",
    "simulator.report_models=[pbm, ubm]",
    "baselines.lambdamart.n_estimators=10",
    "baselines.grid_step=0.5",
]
OWN_SHOP = SHAPE_BY_NAME["no-reformulations"]


def tiny_options() -> list[str]:
    return [part for override in TINY for part in ("--set", override)]


def check_run(run: Path) -> dict:
    """Every stage finished; the evaluation has the fitted simulator's verdict only."""
    manifest = json.loads((run / "manifest.json").read_text())
    assert set(manifest["stages"]) == {stage.name for stage in STAGES}
    assert manifest["inputs"]["own_data"] is True
    compare = json.loads((run / "evaluation" / "compare.json").read_text())
    assert {row["world"] for row in compare["rows"]} == {"fitted simulator"}
    policies = {row["policy"] for row in compare["rows"]}
    assert {"logging", "default-order", "lambdamart", "ppo-rerank", "ppo-fusion"} <= policies
    report = (run / "report.html").read_text()
    assert "There is no hidden truth for these logs" in report
    assert "oracle" not in report and "gap closed" not in report
    assert "Retrieval modalities: text, lexical." in report
    return compare


@pytest.mark.slow
def test_own_shop_demo_then_rerank_answers_with_its_ids(tmp_path: Path) -> None:
    shop = write_own_shop(tmp_path, OWN_SHOP, seed=1, name="myshop")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "120"}
    done = subprocess.run(
        [str(FUSIONRANK), "demo", "-c", shop.config.name, "--quick", *tiny_options()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    run = tmp_path / "runs" / "myshop"
    check_run(run)
    assert "world generate" not in done.stdout

    logs = pd.read_parquet(shop.logs)
    query, shown = logs["query_text"].iloc[0], list(logs["item_ids"].iloc[0])[:6]
    reranker = Reranker.load(run, ServiceConfig(policy="ppo-rerank"))
    result = reranker.rerank(query, shown)
    assert sorted(result.item_ids) == sorted(shown)
    with served(run, "lambdamart", env, tmp_path) as url:
        answer = httpx.post(
            f"{url}/rerank", json={"query": query, "item_ids": shown, "top_k": 4}, timeout=60
        )
        assert answer.status_code == 200, answer.text
        ranked = [item["item_id"] for item in answer.json()["items"]]
        assert len(ranked) == 4 and set(ranked) <= set(shown)
        assert all(i.startswith("SKU-") for i in ranked)
        body = {"query": query, "item_ids": ["SKU-99999-Z"]}
        assert httpx.post(f"{url}/rerank", json=body, timeout=60).status_code == 422


@contextlib.contextmanager
def served(run: Path, policy: str, env: dict, tmp_path: Path) -> Iterator[str]:
    """``fusionrank serve`` on a free loopback port, as a user starts it; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "serve.log").open("w")
    command = [str(FUSIONRANK), "serve", "--run", str(run), "--policy", policy]
    server = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    from fusionrank.cli import register_commands

    register_commands()
    return CliRunner()


EDGE_SHAPES = [s for s in SHAPES if s is not OWN_SHOP]


@pytest.mark.slow
@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=[s.name for s in EDGE_SHAPES])
def test_every_accepted_log_shape_runs_every_stage(
    runner: CliRunner, tmp_path: Path, shape: LogShape
) -> None:
    from fusionrank.cli import app

    shop = write_own_shop(tmp_path, shape, seed=2)
    config = tmp_path / "absolute.yaml"
    config.write_text(
        f"name: {shape.name}\nruns_dir: {tmp_path / 'runs'}\n"
        f"data:\n  catalog: {shop.catalog}\n  logs: {shop.logs}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["demo", "-c", str(config), "--quick", *tiny_options()])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output[-4000:]
    check_run(tmp_path / "runs" / shape.name)
