"""A tiny served run: the tiny ShopWorld's retriever (text + lexical), a PPO re-rank
policy (the agents' real network, standardised on real candidate features, untrained) and
a LambdaMART baseline trained on the logged pages; a real uvicorn server in a thread, and
one in its own process (for faults that would kill a process)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
import uvicorn

from fusionrank.agents.baselines import LambdaMART, LambdaMARTConfig
from fusionrank.agents.networks import CandidateScorer, FusionNet
from fusionrank.agents.policy_files import POLICY_FILE, file_hashes, policy_version
from fusionrank.agents.ppo import PPOFusionPolicy, PPORerankPolicy
from fusionrank.datasets import load_catalog, load_logs, logs_to_pages
from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.retrieval.retriever import Retriever
from fusionrank.service.app import create_app
from fusionrank.service.config import ServiceConfig
from fusionrank.types import Query

QUERIES = ("red cotton shirt", "blue striped dress", "leather bag", "green wool sweater")
ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def ppo_policy(retriever: Retriever, seed: int, hidden: int = 32) -> PPORerankPolicy:
    """The agents' re-rank network with input statistics of real candidates."""
    torch.manual_seed(seed)
    dq = len(retriever.query_feature_names)
    net = CandidateScorer(len(retriever.feature_names), dq, hidden, 0)
    queries = [Query(str(i), q) for i, q in enumerate(QUERIES)]
    batch = retriever.search(queries, 20)
    net.item_norm.fit(batch.features[batch.mask])
    net.query_norm.fit(retriever.query_features(queries))
    return PPORerankPolicy(
        net,
        name="ppo-rerank",
        modality_names=retriever.modality_names,
        feature_names=retriever.feature_names,
        query_feature_dim=dq,
        default_fusion_weights=retriever.default_weights(1)[0],
    )


@pytest.fixture(scope="session")
def service_run(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``run/retrieval``, ``run/policies/{ppo-rerank,ppo-rerank-b,ppo-fusion,lambdamart}``."""
    run = tmp_path_factory.mktemp("service") / "run"
    catalog = load_catalog(tiny_world / "data" / "catalog.parquet")
    config = RetrievalConfig(image=False, k_per_modality=40, k=30, query_pca_dim=8, threads=1)
    retriever = Retriever.build(catalog, config, run / "retrieval")
    retriever.save(run / "retrieval")
    ppo_policy(retriever, 0).save(run / "policies" / "ppo-rerank")
    other = ppo_policy(retriever, 1)
    other.name = "ppo-rerank-b"
    other.save(run / "policies" / "ppo-rerank-b")
    torch.manual_seed(2)
    dq = len(retriever.query_feature_names)
    PPOFusionPolicy(
        FusionNet(dq, len(retriever.modality_names), (16,)),
        2.0,
        name="ppo-fusion",
        modality_names=retriever.modality_names,
        feature_names=retriever.feature_names,
        query_feature_dim=dq,
        default_fusion_weights=retriever.default_weights(1)[0],
    ).save(run / "policies" / "ppo-fusion")
    pages = logs_to_pages(load_logs(tiny_world / "data" / "logs.parquet", catalog), catalog)
    pages = pages.subset(np.arange(min(len(pages), 400)))
    lambdamart = LambdaMART.fit(
        retriever, None, pages, LambdaMARTConfig(ipw=False, n_estimators=20), seed=0
    )
    lambdamart.default_fusion_weights = retriever.default_weights(1)[0]
    lambdamart.save(run / "policies" / "lambdamart")
    return run


@pytest.fixture(scope="session")
def catalog_ids(service_run: Path, tiny_world: Path) -> list[str]:
    return [str(i) for i in load_catalog(tiny_world / "data" / "catalog.parquet").item_ids]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file holding :data:`ADMIN_TOKEN` (``service.admin_token_file``)."""
    path = tmp_path_factory.mktemp("admin") / "token"
    path.write_text(ADMIN_TOKEN + "\n")
    return path


def corrupt_model_copy(policy: Path, folder: Path, keep_bytes: int = 1000) -> Path:
    """A copy of a LambdaMART policy whose ``model.txt`` is cut to ``keep_bytes``, with
    ``policy.json`` rewritten to match (hashes and version): only loading it shows the
    damage (LightGBM crashes its process on this file)."""
    shutil.copytree(policy, folder)
    model = folder / "model.txt"
    model.write_bytes(model.read_bytes()[:keep_bytes])
    meta = json.loads((folder / POLICY_FILE).read_text())
    meta["files"] = file_hashes(folder)
    meta["version"] = policy_version(meta)
    (folder / POLICY_FILE).write_text(json.dumps(meta))
    return folder


def wait_healthy(url: str, alive: object, seconds: float = 180) -> None:
    """Poll ``/healthz`` until it answers 200; ``alive()`` False means the server died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive():  # type: ignore[operator]
            raise RuntimeError("the server exited before it answered /healthz")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /healthz in {seconds} s")


@pytest.fixture(scope="module")
def live_server(service_run: Path, token_file: Path) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; shut down cleanly."""
    port = free_port()
    config = ServiceConfig(
        port=port,
        policy="ppo-rerank",
        max_candidates=200,
        body_timeout_s=1.0,
        admin_token_file=str(token_file),
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service_run, config),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            log_config=None,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, thread.is_alive)
    yield url
    server.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive(), "the uvicorn server did not shut down"


class ServerProcess:
    """``python -m fusionrank.service.server`` in its own process.

    Args:
        source: The run or policy folder.
        config: The service settings (its port is set here).
        log: File for the server's stderr.
    """

    def __init__(self, source: Path, config: ServiceConfig, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = config.model_copy(update={"port": self.port}).model_dump_json()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        command = [sys.executable, "-m", "fusionrank.service.server", str(source), settings]
        self.log = log
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=log.open("w"), env=env
        )
        try:
            wait_healthy(self.url, lambda: self.process.poll() is None)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}") from None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
