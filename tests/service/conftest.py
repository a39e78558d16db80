"""A tiny served run: the tiny ShopWorld's retriever (text + lexical), a PPO re-rank
policy (the agents' real network, standardised on real candidate features, untrained) and
a LambdaMART baseline trained on the logged pages; and a real uvicorn server."""

from __future__ import annotations

import socket
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
from fusionrank.agents.ppo import PPOFusionPolicy, PPORerankPolicy
from fusionrank.datasets import load_catalog, load_logs, logs_to_pages
from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.retrieval.retriever import Retriever
from fusionrank.service.app import create_app
from fusionrank.service.config import ServiceConfig
from fusionrank.types import Query

QUERIES = ("red cotton shirt", "blue striped dress", "leather bag", "green wool sweater")


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
    ).save(run / "policies" / "ppo-fusion")
    pages = logs_to_pages(load_logs(tiny_world / "data" / "logs.parquet", catalog), catalog)
    pages = pages.subset(np.arange(min(len(pages), 400)))
    lambdamart = LambdaMART.fit(
        retriever, None, pages, LambdaMARTConfig(ipw=False, n_estimators=20), seed=0
    )
    lambdamart.save(run / "policies" / "lambdamart")
    return run


@pytest.fixture(scope="session")
def catalog_ids(service_run: Path, tiny_world: Path) -> list[str]:
    return [str(i) for i in load_catalog(tiny_world / "data" / "catalog.parquet").item_ids]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(service_run: Path) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; shut down cleanly."""
    port = free_port()
    config = ServiceConfig(port=port, policy="ppo-rerank", max_candidates=200)
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
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the uvicorn server did not start")
        time.sleep(0.05)
    assert httpx.get(f"{url}/healthz").status_code == 200
    yield url
    server.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive(), "the uvicorn server did not shut down"
