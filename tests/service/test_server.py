"""A real uvicorn server on a loopback port: the endpoints over HTTP, and reloads while
requests keep coming without one failing."""

from __future__ import annotations

import threading
import time

import httpx


def test_endpoints_over_http(live_server: str, catalog_ids: list[str]) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        health = client.get("/healthz").json()
        version = health["policy_version"]
        ranked = client.post(
            "/rerank", json={"query": "red cotton shirt", "item_ids": catalog_ids[:100]}
        )
        assert ranked.status_code == 200, ranked.text
        assert ranked.json()["policy_version"] == version
        assert ranked.headers["x-policy-version"] == version
        found = client.post("/search", json={"query": "leather bag", "top_k": 3})
        assert found.status_code == 200 and len(found.json()["items"]) == 3
        bad = client.post("/rerank", json={"query": "x", "item_ids": ["a", "a"]})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "item_ids"
        assert (
            client.post(
                "/rerank", content=b"{", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
        assert "fusionrank_request_seconds_bucket" in client.get("/metrics").text
        assert client.get("/openapi.json").status_code == 200


def test_reload_under_load_fails_no_request(live_server: str, catalog_ids: list[str]) -> None:
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=live_server, timeout=30) as client:
            while not stop.is_set():
                response = client.post(
                    "/rerank", json={"query": "green wool sweater", "item_ids": catalog_ids[:50]}
                )
                version = (
                    response.json().get("policy_version", "") if response.status_code == 200 else ""
                )
                results.append((response.status_code, version))

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for worker in workers:
        worker.start()
    versions = set()
    with httpx.Client(base_url=live_server, timeout=60) as admin:
        for name in ("ppo-rerank-b", "ppo-rerank", "ppo-rerank-b", "ppo-rerank"):
            time.sleep(0.2)
            reloaded = admin.post("/admin/reload", json={"path": name})
            assert reloaded.status_code == 200, reloaded.text
            versions.add(reloaded.json()["policy_version"])
        time.sleep(0.2)
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    assert len(versions) == 2
    assert len(results) > 20
    assert all(status == 200 for status, _ in results), {s for s, _ in results}
    served = {v for _, v in results}
    assert served <= versions and len(served) == 2  # both policies answered, nothing else
