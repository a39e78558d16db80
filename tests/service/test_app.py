"""The HTTP service through FastAPI's TestClient: every endpoint, reload, the admin
rules, metrics and the per-request log line. (The table of bad inputs runs against a real
server in ``test_bad_inputs.py``.)"""

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

from .conftest import ADMIN, ADMIN_TOKEN

LOOPBACK = ("127.0.0.1", 50_000)


@pytest.fixture(scope="module")
def app_run(service_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A private copy: reload tests change which policy serves and add policies.
    run = tmp_path_factory.mktemp("app") / "run"
    shutil.copytree(service_run, run)
    return run


@pytest.fixture(scope="module")
def client(app_run: Path, token_file: Path) -> Iterator[TestClient]:
    config = ServiceConfig(
        policy="ppo-rerank",
        max_candidates=60,
        max_body_bytes=20_000,
        admin_token_file=str(token_file),
    )
    with TestClient(create_app(app_run, config), client=LOOPBACK) as test_client:
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


def test_reload_swaps_and_a_bad_policy_keeps_the_old(client: TestClient, app_run: Path) -> None:
    before = client.get("/healthz").json()["policy_version"]
    bad = app_run / "policies" / "bad"
    bad.mkdir()
    (bad / "policy.json").write_text("{not json")
    response = client.post("/admin/reload", json={"path": "bad"}, headers=ADMIN)
    assert response.status_code == 422 and _fields(response) == ["path"]
    assert "not valid JSON" in response.text
    assert client.get("/healthz").json()["policy_version"] == before
    swapped = client.post("/admin/reload", json={"path": "ppo-rerank-b"}, headers=ADMIN)
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["policy_name"] == "ppo-rerank-b"
    assert swapped.json()["policy_version"] != before
    back = client.post("/admin/reload", headers=ADMIN)  # the configured policy, re-read
    assert back.json()["policy_version"] == before
    metrics = client.get("/metrics").text
    assert 'fusionrank_reloads_total{outcome="failed"} 1.0' in metrics
    assert 'fusionrank_reloads_total{outcome="ok"} 2.0' in metrics


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "outside the folders a reload may read"),
        ("/proc/self/environ", "outside the folders a reload may read"),
        ("../../../../etc", "outside the folders a reload may read"),
        ("../retrieval", "outside the folders a reload may read"),
    ],
)
def test_reload_outside_the_allowed_folders_is_403(
    client: TestClient, path: str, message: str
) -> None:
    response = client.post("/admin/reload", json={"path": path}, headers=ADMIN)
    assert response.status_code == 403, response.text
    assert _fields(response) == ["path"] and message in response.text


def test_reload_of_a_copy_outside_the_run_is_403_even_when_valid(
    client: TestClient, app_run: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "lambdamart"
    shutil.copytree(app_run / "policies" / "lambdamart", outside)
    response = client.post("/admin/reload", json={"path": str(outside)}, headers=ADMIN)
    assert response.status_code == 403 and "service.reload_dirs" in response.text
    link = app_run / "policies" / "linked"
    link.symlink_to(outside, target_is_directory=True)  # inside by name, outside in fact
    linked = client.post("/admin/reload", json={"path": "linked"}, headers=ADMIN)
    assert linked.status_code == 403 and "outside the folders" in linked.text
    assert client.get("/healthz").json()["search"]


@pytest.mark.parametrize(
    ("headers", "status", "rule"),
    [
        ({}, 401, "token rule: no bearer token"),
        ({"authorization": "Basic abc"}, 401, "token rule: no bearer token"),
        ({"authorization": "Bearer wrong-token-0123456789"}, 403, "token rule: the bearer"),
        ({"authorization": f"Bearer {ADMIN_TOKEN}x"}, 403, "token rule: the bearer"),
        ({**ADMIN, "x-forwarded-for": "203.0.113.9"}, 403, "loopback rule: the request came"),
        ({**ADMIN, "forwarded": "for=203.0.113.9"}, 403, "loopback rule: the request came"),
    ],
)
def test_admin_rules_refuse_with_the_rule_named(
    client: TestClient, headers: dict, status: int, rule: str
) -> None:
    response = client.post("/admin/reload", json={"path": "ppo-rerank"}, headers=headers)
    assert response.status_code == status, response.text
    assert rule in response.text and _fields(response) == ["authorization"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_admin_from_a_remote_host_is_refused(app_run: Path, token_file: Path) -> None:
    config = ServiceConfig(policy="ppo-rerank", admin_token_file=str(token_file))
    with TestClient(create_app(app_run, config), client=("203.0.113.9", 1234)) as remote:
        response = remote.post("/admin/reload", headers=ADMIN)
        assert response.status_code == 403
        assert (
            "loopback rule: admin is allowed from a loopback address only; this request "
            "came from 203.0.113.9" in response.text
        )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"admin": False}, "admin endpoints are off (service.admin is false)"),
        (
            {"admin_token_env": "FUSIONRANK_TEST_UNSET"},
            "admin is off: no admin token is configured",
        ),
    ],
)
def test_admin_off_says_so(app_run: Path, config: dict, message: str) -> None:
    settings = ServiceConfig(policy="ppo-rerank", **config)
    with TestClient(create_app(app_run, settings), client=LOOPBACK) as off:
        response = off.post("/admin/reload", headers=ADMIN)
        assert response.status_code == 403 and f"switch rule: {message}" in response.text
        assert off.get("/healthz").json()["admin"] is False


def test_noop_parses_the_body_and_names_the_policy(client: TestClient) -> None:
    ok = client.post("/noop", json={"query": "x", "item_ids": ["a"]})
    assert ok.status_code == 200 and len(ok.json()["policy_version"]) == 12
    assert client.post("/noop", json={"query": "x"}).status_code == 422
