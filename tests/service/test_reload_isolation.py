"""Reloads against a server in its own process, for faults that kill a process: a
LightGBM model cut short (with a ``policy.json`` that matches it) crashes the check's
child process, never the server; the old policy keeps serving."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fusionrank.service.config import ServiceConfig

from .conftest import ADMIN, ServerProcess, corrupt_model_copy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder listed in ``service.reload_dirs``."""
    return tmp_path_factory.mktemp("staging")


@pytest.fixture(scope="module")
def server(
    service_run: Path, staging: Path, token_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    config = ServiceConfig(
        policy="ppo-rerank",
        admin_token_file=str(token_file),
        reload_dirs=[str(staging)],
    )
    process = ServerProcess(service_run, config, tmp_path_factory.mktemp("log") / "server.log")
    yield process
    process.stop()


def _reload(url: str, path: str) -> httpx.Response:
    return httpx.post(f"{url}/admin/reload", json={"path": path}, headers=ADMIN, timeout=300)


def _serves(url: str, ids: list[str]) -> str:
    """The version that answers a catalog-id re-rank and a search (both must answer)."""
    ranked = httpx.post(f"{url}/rerank", json={"query": "leather bag", "item_ids": ids}, timeout=30)
    assert ranked.status_code == 200, ranked.text
    found = httpx.post(f"{url}/search", json={"query": "red cotton shirt", "top_k": 3}, timeout=30)
    assert found.status_code == 200, found.text
    return str(ranked.json()["policy_version"])


def test_a_truncated_lightgbm_model_cannot_kill_the_server(
    server: ServerProcess, service_run: Path, staging: Path, catalog_ids: list[str]
) -> None:
    before = _serves(server.url, catalog_ids[:40])
    corrupt = corrupt_model_copy(service_run / "policies" / "lambdamart", staging / "cut")
    response = _reload(server.url, str(corrupt))
    assert response.status_code == 422, response.text
    message = response.json()["detail"][0]["message"]
    assert "crashed the process that checked it" in message and "old policy keeps" in message
    assert server.alive(), server.log.read_text()[-2000:]
    assert _serves(server.url, catalog_ids[:40]) == before  # the old policy serves
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'fusionrank_reloads_total{outcome="failed"} 1.0' in metrics


def test_a_good_policy_from_a_reload_folder_keeps_the_retriever(
    server: ServerProcess, service_run: Path, staging: Path, catalog_ids: list[str]
) -> None:
    good = staging / "lambdamart"
    shutil.copytree(service_run / "policies" / "lambdamart", good)
    response = _reload(server.url, str(good))
    assert response.status_code == 200, response.text
    assert response.json()["policy_kind"] == "lambdamart" and response.json()["search"]
    assert _serves(server.url, catalog_ids[:40]) == response.json()["policy_version"]
    back = _reload(server.url, "ppo-rerank")  # a name in the run's policies/
    assert back.status_code == 200 and back.json()["policy_name"] == "ppo-rerank"


def test_a_policy_whose_run_has_no_retriever_is_refused(
    server: ServerProcess, service_run: Path, staging: Path, catalog_ids: list[str]
) -> None:
    lonely = staging / "other-run" / "policies" / "lambdamart"
    shutil.copytree(service_run / "policies" / "lambdamart", lonely)
    before = _serves(server.url, catalog_ids[:20])
    response = _reload(server.url, str(lonely))
    assert response.status_code == 422 and "holds no retriever index" in response.text
    outside = _reload(server.url, str(service_run.parent))
    assert outside.status_code == 403 and "outside the folders" in outside.text
    assert _serves(server.url, catalog_ids[:20]) == before
