"""The HTTP service through FastAPI's TestClient: every endpoint, the error table,
reload, metrics and the per-request log line."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fusionrank.service.app import create_app
from fusionrank.service.config import ServiceConfig


@pytest.fixture(scope="module")
def client(service_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # A private copy: reload tests change which policy serves.
    run = tmp_path_factory.mktemp("app") / "run"
    shutil.copytree(service_run, run)
    config = ServiceConfig(policy="ppo-rerank", max_candidates=60, max_body_bytes=20_000)
    with TestClient(create_app(run, config)) as test_client:
        yield test_client


def test_healthz_names_the_policy(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["engine"] == "onnx" and body["search"]
    assert body["policy_name"] == "ppo-rerank" and len(body["policy_version"]) == 12
    assert response.headers["x-policy-version"] == body["policy_version"]


def test_rerank_catalog_ids(client: TestClient, catalog_ids: list[str]) -> None:
    response = client.post(
        "/rerank",
        json={"query": "red cotton shirt", "item_ids": catalog_ids[:40], "top_k": 10},
        headers={"x-request-id": "abc-123"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["request_id"] == "abc-123" == response.headers["x-request-id"]
    assert body["n_candidates"] == 40 and len(body["items"]) == 10
    assert [i["rank"] for i in body["items"]] == list(range(1, 11))
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert set(body["fusion_weights"]) == set(client.get("/healthz").json()["modality_names"])
    assert body["policy_version"] == response.headers["x-policy-version"]


def test_rerank_unseen_items_with_features(client: TestClient) -> None:
    names = client.get("/healthz").json()["feature_names"]
    rng = np.random.default_rng(0)
    features = rng.normal(size=(5, len(names))).round(4).tolist()
    ids = [f"new-{i}" for i in range(5)]
    response = client.post("/rerank", json={"query": "bag", "item_ids": ids, "features": features})
    assert response.status_code == 200, response.text
    assert sorted(i["item_id"] for i in response.json()["items"]) == ids


def test_search(client: TestClient) -> None:
    response = client.post("/search", json={"query": "blue striped dress", "k": 20, "top_k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["items"]) == 5 and body["n_candidates"] == 20
    assert body["fusion_weights"] is not None


def _fields(response: object) -> list[str]:
    return [d["field"] for d in response.json()["detail"]]  # type: ignore[attr-defined]


ERRORS = [
    # (body, status, field, words in the message)
    ({"query": "x", "item_ids": []}, 422, "item_ids", "empty"),
    ({"query": "x", "item_ids": [f"i{n}" for n in range(61)]}, 422, "item_ids", "limit of 60"),
    ({"query": "x", "item_ids": ["a", "a"], "features": [[0], [0]]}, 422, "item_ids", "duplicate"),
    ({"query": "x", "item_ids": ["nope"]}, 422, "item_ids", "not in the catalog"),
    ({"query": "x", "item_ids": ["a"], "features": [[1.0, 2.0]]}, 422, "features", "rows have 2"),
    ({"query": "x", "item_ids": ["a"], "features": [[1.0], [2.0]]}, 422, "features", "1 rows"),
    ({"query": "", "item_ids": ["a"]}, 422, "query", "at least 1 character"),
    ({"item_ids": ["a"]}, 422, "query", "required"),
    ({"query": "x", "item_ids": ["a"], "top_k": 0}, 422, "top_k", "greater than or equal"),
    ({"query": "x", "item_ids": ["a"], "surprise": 1}, 422, "surprise", "not permitted"),
]


@pytest.mark.parametrize(("body", "status", "field", "message"), ERRORS)
def test_error_table(client: TestClient, body: dict, status: int, field: str, message: str) -> None:
    response = client.post("/rerank", json=body)
    assert response.status_code == status, response.text
    assert field in _fields(response)
    assert message in json.dumps(response.json())
    assert response.json()["policy_version"] == client.get("/healthz").json()["policy_version"]


def test_nan_features_are_refused(client: TestClient) -> None:
    names = client.get("/healthz").json()["feature_names"]
    row = ", ".join(["NaN"] + ["0"] * (len(names) - 1))
    raw = f'{{"query": "x", "item_ids": ["a"], "features": [[{row}]]}}'
    response = client.post("/rerank", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert _fields(response) == ["features[0][0]"]


def test_oversized_bodies_get_413(client: TestClient) -> None:
    body = {"query": "x", "item_ids": [f"item-{n:08d}" for n in range(3000)]}
    response = client.post("/rerank", json=body)
    assert response.status_code == 413
    assert _fields(response) == ["body"] and "max_body_bytes" in response.text

    def chunks() -> Iterator[bytes]:  # no content-length: the limit counts streamed bytes
        yield b'{"query": "x", "item_ids": ['
        for n in range(3000):
            yield f'"item-{n:08d}",'.encode()
        yield b'"last"]}'

    streamed = client.post(
        "/rerank", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert client.get("/healthz").status_code == 200  # still serving


def test_metrics_count_requests_and_errors(client: TestClient) -> None:
    client.post("/rerank", json={"query": "x", "item_ids": []})
    text = client.get("/metrics").text
    assert 'fusionrank_requests_total{endpoint="/rerank",status="422"}' in text
    assert 'fusionrank_request_seconds_bucket{endpoint="/rerank",le="0.005"}' in text
    assert 'fusionrank_errors_total{endpoint="/rerank",kind="validation"}' in text
    assert "fusionrank_policy_info{" in text


def test_one_structured_log_line_per_request(
    client: TestClient, catalog_ids: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="fusionrank.service.access"):
        client.post("/rerank", json={"query": "bag", "item_ids": catalog_ids[:7]})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("access")]
    assert len(lines) == 1
    line = lines[0]
    assert line["path"] == "/rerank" and line["status"] == 200 and line["k"] == 7
    assert len(line["policy_version"]) == 12 and line["latency_ms"] > 0 and line["request_id"]


def test_openapi_docs(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/rerank", "/search", "/healthz", "/admin/reload"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_reload_swaps_and_a_bad_policy_keeps_the_old(client: TestClient, tmp_path: Path) -> None:
    before = client.get("/healthz").json()["policy_version"]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "policy.json").write_text("{not json")
    response = client.post("/admin/reload", json={"path": str(bad)})
    assert response.status_code == 422 and _fields(response) == ["path"]
    assert "not valid JSON" in response.text
    assert client.get("/healthz").json()["policy_version"] == before
    swapped = client.post("/admin/reload", json={"path": "ppo-rerank-b"})
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["policy_name"] == "ppo-rerank-b"
    assert swapped.json()["policy_version"] != before
    back = client.post("/admin/reload")  # the configured policy, re-read
    assert back.json()["policy_version"] == before
    assert 'fusionrank_reloads_total{outcome="failed"} 1.0' in client.get("/metrics").text


def test_noop_parses_the_body_and_names_the_policy(client: TestClient) -> None:
    ok = client.post("/noop", json={"query": "x", "item_ids": ["a"]})
    assert ok.status_code == 200 and len(ok.json()["policy_version"]) == 12
    assert client.post("/noop", json={"query": "x"}).status_code == 422
