"""A real uvicorn server on a loopback port: the endpoints over HTTP; a small load and
fault test (unique queries, cached ones and invalid requests while good and corrupted
policies are reloaded); and load shedding (503 with Retry-After, /healthz still fast)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from fusionrank.service.app import create_app
from fusionrank.service.config import ServiceConfig

from .conftest import ADMIN, corrupt_model_copy, free_port, wait_healthy


def test_endpoints_over_http(live_server: str, catalog_ids: list[str]) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        health = client.get("/healthz").json()
        version = health["policy_version"]
        assert health["text_encoder"] == "onnx" and health["admin"]
        ranked = client.post(
            "/rerank", json={"query": "red cotton shirt", "item_ids": catalog_ids[:100]}
        )
        assert ranked.status_code == 200, ranked.text
        assert ranked.json()["policy_version"] == version
        assert ranked.headers["x-policy-version"] == version
        found = client.post("/search", json={"query": "leather bag", "top_k": 3})
        assert found.status_code == 200 and len(found.json()["items"]) == 3
        assert "fusionrank_request_seconds_bucket" in client.get("/metrics").text
        assert client.get("/openapi.json").status_code == 200


def _traffic(url: str, catalog_ids: list[str], stop: threading.Event, out: list) -> None:
    """Unique queries, a cached one and invalid requests, until ``stop``."""
    n = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            n += 1
            kind = ("unique", "cached", "invalid")[n % 3]
            query = f"green wool sweater {threading.get_ident()} {n}"
            body = {
                "unique": {"query": query, "item_ids": catalog_ids[:50]},
                "cached": {"query": "green wool sweater", "item_ids": catalog_ids[:50]},
                "invalid": {"query": "x", "item_ids": ["a", "a"]},
            }[kind]
            response = client.post("/rerank", json=body)
            version = response.json().get("policy_version", "")
            out.append((kind, response.status_code, version))


@pytest.mark.slow
def test_load_with_reloads_of_good_and_corrupted_policies(
    live_server: str, service_run: Path, catalog_ids: list[str], tmp_path: Path
) -> None:
    results: list[tuple[str, int, str]] = []
    stop = threading.Event()
    workers = [
        threading.Thread(target=_traffic, args=(live_server, catalog_ids, stop, results))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    corrupt = corrupt_model_copy(
        service_run / "policies" / "lambdamart", service_run / "policies" / "lambdamart-cut"
    )
    versions, failed = set(), 0
    try:
        with httpx.Client(base_url=live_server, timeout=300, headers=ADMIN) as admin:
            for name in ("ppo-rerank-b", corrupt.name, "ppo-rerank"):
                time.sleep(0.5)
                reloaded = admin.post("/admin/reload", json={"path": name})
                if name == corrupt.name:
                    assert reloaded.status_code == 422 and "crashed" in reloaded.text
                    failed += 1
                else:
                    assert reloaded.status_code == 200, reloaded.text
                    versions.add(reloaded.json()["policy_version"])
            time.sleep(0.5)
    finally:
        stop.set()
        shutil.rmtree(corrupt)  # the run folder is shared with other tests
    for worker in workers:
        worker.join(timeout=60)
    assert len(versions) == 2 and failed == 1 and len(results) > 30
    statuses = {(kind, status) for kind, status, _ in results}
    # 503 is a right answer under load (a reload also empties the query cache); nothing
    # else is, and a bad request is refused as bad even then.
    allowed = {("unique", 200), ("cached", 200), ("unique", 503), ("cached", 503)}
    assert statuses <= allowed | {("invalid", 422)}, statuses
    served = {v for kind, status, v in results if status == 200}
    assert served <= versions and len(served) == 2  # both policies answered, nothing else


@pytest.fixture(scope="module")
def small_server(service_run: Path) -> Iterator[str]:
    """A server that admits 2 re-ranks at once on 1 worker thread."""
    port = free_port()
    config = ServiceConfig(
        policy="ppo-rerank", workers=1, max_pending=2, max_queue_ms=50.0, retry_after_s=2
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service_run, config), host="127.0.0.1", port=port, log_config=None
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, thread.is_alive)
    yield url
    server.should_exit = True
    thread.join(timeout=30)


@pytest.mark.slow
def test_overload_answers_503_with_retry_after_and_healthz_stays_fast(
    small_server: str, catalog_ids: list[str]
) -> None:
    answers: list[httpx.Response] = []
    invalid: list[httpx.Response] = []
    health: list[float] = []

    def burst(i: int) -> None:
        body = {"query": f"blue striped dress {i}", "item_ids": catalog_ids[:100]}
        with httpx.Client(base_url=small_server, timeout=60) as client:
            answers.append(client.post("/rerank", json=body))
            if i % 10 == 0:  # a bad request is refused as bad, never shed
                bad = {"query": f"new query {i}", "item_ids": ["a", "a"]}
                invalid.append(client.post("/rerank", json=bad))

    def probe() -> None:
        with httpx.Client(base_url=small_server, timeout=60) as client:
            for _ in range(10):
                start = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                health.append(time.perf_counter() - start)

    threads = [threading.Thread(target=burst, args=(i,)) for i in range(40)]
    threads.append(threading.Thread(target=probe))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 503} and 503 in statuses and 200 in statuses, statuses
    shed = next(a for a in answers if a.status_code == 503)
    assert shed.headers["retry-after"] == "2"
    assert "overloaded" in shed.json()["detail"][0]["message"]
    assert max(health) < 2.0, health  # /healthz never waits behind the re-ranks
    assert [r.status_code for r in invalid] == [422] * 4
