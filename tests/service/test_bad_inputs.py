"""Every bad input the service must refuse, against a real uvicorn server: a table of
(request, status, field, message), where no answer is a 5xx and the server keeps
serving; and a request body that stalls, which must get 408 within the body timeout."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

# The live server: max_candidates=200, max_query_chars=1000 (default), body 1 MB (default),
# body_timeout_s=1.


@dataclass(frozen=True)
class Bad:
    """One bad request: ``body`` is JSON-encoded unless it is bytes."""

    name: str
    body: Any
    status: int
    field: str
    message: str
    path: str = "/rerank"
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})


def ids(n: int) -> list[str]:
    return [f"item-{i}" for i in range(n)]


def rows(n_rows: int, width: int, value: float = 0.0) -> list[list[float]]:
    return [[value] * width for _ in range(n_rows)]


# F = 10 features for the tiny run (text, lexical x 3, coverage, log_price, price_z, fused).
F = 10
TABLE = [
    Bad("no candidates", {"query": "x", "item_ids": []}, 422, "item_ids", "empty"),
    Bad("too many", {"query": "x", "item_ids": ids(201)}, 422, "item_ids", "limit of 200"),
    Bad("repeats", {"query": "x", "item_ids": ["a", "a"]}, 422, "item_ids", "duplicate"),
    Bad("unknown id", {"query": "x", "item_ids": ["nope"]}, 422, "item_ids", "not in the catalog"),
    Bad("ids not strings", {"query": "x", "item_ids": [1, 2]}, 422, "item_ids[0]", "valid string"),
    Bad("empty query", {"query": "", "item_ids": ["a"]}, 422, "query", "at least 1 character"),
    Bad("blank query", {"query": "   ", "item_ids": ["a"]}, 422, "query", "is empty"),
    Bad("no query", {"item_ids": ["a"]}, 422, "query", "required"),
    Bad("query not a string", {"query": 5, "item_ids": ["a"]}, 422, "query", "valid string"),
    Bad(
        "query over the cap",
        {"query": "red " * 251, "item_ids": ["a"]},
        422,
        "query",
        "1004 characters, over the limit of 1000",
    ),
    Bad(
        "900 KB query",
        {"query": "q" * 900_000, "item_ids": ["a"]},
        422,
        "query",
        "over the limit of 1000 (service.max_query_chars)",
    ),
    Bad("top_k 0", {"query": "x", "item_ids": ["a"], "top_k": 0}, 422, "top_k", "greater than"),
    Bad("top_k string", {"query": "x", "item_ids": ["a"], "top_k": "2"}, 422, "top_k", "integer"),
    Bad("top_k bool", {"query": "x", "item_ids": ["a"], "top_k": True}, 422, "top_k", "integer"),
    Bad("top_k float", {"query": "x", "item_ids": ["a"], "top_k": 2.5}, 422, "top_k", "integer"),
    Bad(
        "5,000-digit top_k",
        b'{"query": "x", "item_ids": ["a"], "top_k": ' + b"9" * 5000 + b"}",
        422,
        "body",
        "too many digits",
    ),
    Bad(
        "1e400 feature",
        b'{"query": "x", "item_ids": ["a"], "features": [[1e400' + b", 0" * (F - 1) + b"]]}",
        422,
        "features[0][0]",
        "finite number",
    ),
    Bad(
        "NaN feature",
        b'{"query": "x", "item_ids": ["a"], "features": [[NaN' + b", 0" * (F - 1) + b"]]}",
        422,
        "features[0][0]",
        "finite number",
    ),
    Bad(
        "feature beyond float32",
        {"query": "x", "item_ids": ["a"], "features": rows(1, F, 4e38)},
        422,
        "features[0]",
        "as float32",
    ),
    Bad(
        "feature row of +-3e38: non-finite scores",
        {
            "query": "x",
            "item_ids": ["ok-0", "huge", "ok-1"],
            "features": [[0.1] * F, [3e38, -3e38] * (F // 2), [0.2] * F],
        },
        422,
        "features",
        "rows [1] (item ids ['huge']) get a non-finite score",
    ),
    Bad(
        "features not numbers",
        {"query": "x", "item_ids": ["a"], "features": [["1"] * F]},
        422,
        "features[0][0]",
        "valid number",
    ),
    Bad(
        "feature width",
        {"query": "x", "item_ids": ["a"], "features": rows(1, 2)},
        422,
        "features",
        "rows have 2",
    ),
    Bad(
        "feature rows",
        {"query": "x", "item_ids": ["a"], "features": rows(2, F)},
        422,
        "features",
        "give 1 rows",
    ),
    Bad(
        "unknown feature name",
        {"query": "x", "item_ids": ["a"], "features": rows(1, 1), "feature_names": ["nope"]},
        422,
        "feature_names",
        "unknown ['nope']",
    ),
    Bad(
        "first-stage length",
        {"query": "x", "item_ids": ["a"], "features": rows(1, F), "first_stage_scores": [1, 2]},
        422,
        "first_stage_scores",
        "one number per candidate",
    ),
    Bad(
        "modality width",
        {"query": "x", "item_ids": ["a"], "features": rows(1, F), "modality_scores": [[1.0]]},
        422,
        "modality_scores",
        "rows have 1 values",
    ),
    Bad("extra field", {"query": "x", "item_ids": ["a"], "more": 1}, 422, "more", "not permitted"),
    Bad("invalid JSON", b'{"query": "x", ', 422, "body", "is not valid JSON (Expecting"),
    Bad("not UTF-8", b'{"query": "\xff\xfe"}', 422, "body", "could not be parsed"),
    Bad("nested too deeply", b"[" * 200_000, 422, "body", "nested too deeply"),
    Bad("not an object", [1, 2], 422, "body", "valid dictionary"),
    Bad(
        "not JSON at all",
        b"query=x",
        422,
        "body",
        "valid dictionary",
        headers={"content-type": "text/plain"},
    ),
    Bad("body over 1 MB", {"query": "x", "item_ids": ids(80_000)}, 413, "body", "max_body_bytes"),
    Bad("search k 0", {"query": "x", "k": 0}, 422, "k", "greater than", path="/search"),
    Bad("search k huge", {"query": "x", "k": 10**30}, 422, "k", "is over 200", path="/search"),
    Bad("search k string", {"query": "x", "k": "5"}, 422, "k", "integer", path="/search"),
    Bad(
        "search query over the cap",
        {"query": "x" * 1001},
        422,
        "query",
        "over the limit",
        path="/search",
    ),
    Bad("reload path not a string", {"path": 7}, 422, "path", "valid string", path="/admin/reload"),
]


def _send(client: httpx.Client, bad: Bad) -> httpx.Response:
    content = bad.body if isinstance(bad.body, bytes) else json.dumps(bad.body).encode()
    headers = dict(bad.headers)
    if bad.path.startswith("/admin"):
        from .conftest import ADMIN

        headers |= ADMIN
    return client.post(bad.path, content=content, headers=headers)


@pytest.mark.parametrize("bad", TABLE, ids=[b.name for b in TABLE])
def test_bad_input_table(live_server: str, bad: Bad) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        response = _send(client, bad)
        assert response.status_code < 500, response.text
        assert response.status_code == bad.status, response.text
        body = response.json()
        assert bad.field in [d["field"] for d in body["detail"]], body
        assert bad.message in json.dumps(body), body
        assert len(body["policy_version"]) == 12 and body["request_id"]
        assert client.get("/healthz").status_code == 200  # still serving


def test_a_stalled_body_gets_408_within_the_timeout(live_server: str) -> None:
    port = int(live_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /rerank HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: 999000\r\n\r\n" + b'{"query": "x", "item'
        )
        start = time.monotonic()
        answer = sock.recv(65536).decode("latin-1")
        waited = time.monotonic() - start
    assert answer.startswith("HTTP/1.1 408"), answer
    assert "service.body_timeout_s" in answer and 0.5 < waited < 5
    assert httpx.get(f"{live_server}/healthz", timeout=5).status_code == 200
