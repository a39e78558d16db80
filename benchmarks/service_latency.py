"""Latency of the re-ranker service: ``/rerank`` with K=100 against the service's own
``/noop`` floor (same body parsed, no re-ranking), over loopback at a fixed request rate,
and the in-process ``Reranker.rerank`` call.

The server is ``fusionrank serve`` in its own process; the load generator is a second
process (an open-loop httpx/asyncio client: request ``i`` is sent at ``t0 + i / rate``,
bounded by ``--requests`` and ``--max-seconds``). Each endpoint gets a warm-up, then the
measured run; latency is send-to-last-byte per request.

Usage::

    .venv/bin/python benchmarks/service_latency.py                    # builds a bench run
    .venv/bin/python benchmarks/service_latency.py --run runs/NAME --policy ppo-rerank

Without ``--run`` it builds ``/tmp/fusionrank-service-bench``: a ShopWorld of
``--n-items`` items, its retriever (text + lexical), and the agents' re-rank network
(``CandidateScorer``, hidden 64, input statistics of real candidates, untrained; its
latency is a trained one's: same graph, other weights).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

QUERIES = ("red cotton shirt", "blue striped dress", "leather bag", "green wool sweater")
BENCH_RUN = Path("/tmp/fusionrank-service-bench")


def build_run(folder: Path, n_items: int, seed: int) -> Path:
    """A run with a retriever and an untrained ppo-rerank policy (skipped when present)."""
    import torch

    from fusionrank.agents.networks import CandidateScorer
    from fusionrank.agents.ppo import PPORerankPolicy
    from fusionrank.datasets import load_catalog
    from fusionrank.datasets.shopworld.config import ShopWorldConfig
    from fusionrank.datasets.shopworld.world import generate_world
    from fusionrank.retrieval.config import RetrievalConfig
    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.types import Query

    if (folder / "policies" / "ppo-rerank" / "policy.json").is_file():
        return folder
    world = ShopWorldConfig(n_items=n_items, n_needs=60, n_pages=2000, image_size=32)
    generate_world(world, seed, folder / "world")
    catalog = load_catalog(folder / "world" / "data" / "catalog.parquet")
    retriever = Retriever.build(catalog, RetrievalConfig(image=False), folder / "retrieval")
    retriever.save(folder / "retrieval")
    torch.manual_seed(seed)
    dq = len(retriever.query_feature_names)
    net = CandidateScorer(len(retriever.feature_names), dq, 64, 0)
    queries = [Query(str(i), q) for i, q in enumerate(QUERIES)]
    batch = retriever.search(queries, 100)
    net.item_norm.fit(batch.features[batch.mask])
    net.query_norm.fit(retriever.query_features(queries))
    PPORerankPolicy(
        net,
        name="ppo-rerank",
        modality_names=retriever.modality_names,
        feature_names=retriever.feature_names,
        query_feature_dim=dq,
    ).save(folder / "policies" / "ppo-rerank")
    return folder


def request_bodies(run: Path, policy: str | None, k: int) -> list[dict]:
    """/rerank bodies of K candidates: catalog ids with their features (as a search stack
    that computes its own features would send), one per query."""
    from fusionrank.service import Reranker, ServiceConfig
    from fusionrank.types import Query

    reranker = Reranker.load(run, ServiceConfig(policy=policy))
    assert reranker.retriever is not None
    bodies = []
    for text in QUERIES:
        found = reranker.retriever.search([Query("q", text)], k)
        ids = [str(reranker.retriever.item_ids[i]) for i in found.item_index[0][found.mask[0]]]
        features = np.round(found.features[0][found.mask[0]], 5).tolist()
        bodies.append({"query": text, "item_ids": ids, "features": features})
    return bodies


# ------------------------------------------------------------------ load generator
async def _load(url: str, bodies: list[dict], rate: float, n: int, max_s: float) -> dict:
    import httpx

    payloads = [json.dumps(b).encode() for b in bodies]
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def one(i: int) -> None:
            nonlocal errors
            start = time.perf_counter()
            try:
                response = await client.post(
                    url, content=payloads[i % len(payloads)],
                    headers={"content-type": "application/json"},
                )  # fmt: skip
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start)
            errors += not ok

        for i in range(min(50, n)):  # warm-up, not measured
            await one(i)
        latencies.clear()
        errors = 0
        tasks = []
        t0 = time.perf_counter()
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() - t0 > max_s:
                break
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    ms = np.asarray(latencies) * 1e3
    return {
        "requests": len(ms),
        "errors": errors,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "throughput_rps": len(ms) / elapsed,
    }


def client_main(args: argparse.Namespace) -> None:
    bodies = json.loads(Path(args.bodies).read_text())
    result = asyncio.run(_load(args.client, bodies, args.rate[0], args.requests, args.max_seconds))
    print(json.dumps(result))


# ------------------------------------------------------------------------ driver
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(run: Path, policy: str | None, port: int, log: Path) -> subprocess.Popen:
    import httpx

    entry = "from fusionrank.cli import main; main()"
    command = [sys.executable, "-c", entry, "serve", "--run", str(run), "--port", str(port)]
    if policy:
        command += ["--policy", policy]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
        if server.poll() is not None:
            raise RuntimeError(f"the server exited; see {log}")
    server.kill()
    raise RuntimeError(f"the server did not start in 180 s; see {log}")


def run_client(url: str, bodies: Path, rate: float, args: argparse.Namespace) -> dict:
    command = [
        sys.executable, __file__, "--client", url, "--bodies", str(bodies),
        "--rate", str(rate), "--requests", str(args.requests),
        "--max-seconds", str(args.max_seconds),
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the load generator failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _timed(call: object, n: int) -> dict:
    """p50/p99 in ms of ``n`` calls after 50 warm-up calls."""
    times = []
    for i in range(n + 50):
        start = time.perf_counter()
        call(i)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    ms = np.asarray(times[50:]) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def in_process(run: Path, policy: str | None, bodies: list[dict], n: int) -> dict:
    """``Reranker.rerank`` of K candidates: features as numpy (a caller that holds them),
    as JSON-style lists, and catalog ids (features computed here; query features cached)."""
    from fusionrank.service import Reranker, ServiceConfig

    reranker = Reranker.load(run, ServiceConfig(policy=policy))
    arrays = [np.asarray(b["features"], dtype=np.float32) for b in bodies]

    def pick(i: int) -> dict:
        return bodies[i % len(bodies)]

    return {
        "engine": reranker.engine,
        "features as numpy": _timed(
            lambda i: reranker.rerank(
                pick(i)["query"], pick(i)["item_ids"], features=arrays[i % len(arrays)]
            ),
            n,
        ),
        "features as lists": _timed(
            lambda i: reranker.rerank(pick(i)["query"], pick(i)["item_ids"], pick(i)["features"]),
            n,
        ),
        "catalog ids": _timed(lambda i: reranker.rerank(pick(i)["query"], pick(i)["item_ids"]), n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=None)
    parser.add_argument("--policy", default=None)
    parser.add_argument("--n-items", type=int, default=2000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument(
        "--rate", type=float, nargs="+", default=[200.0], help="Offered req/s (one or more)."
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--in-process", type=int, default=2000)
    parser.add_argument("--client", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run = args.run or build_run(BENCH_RUN, args.n_items, 0)
    bodies = request_bodies(run, args.policy, args.k)
    body_file = run / "service" / "bench_bodies.json"
    body_file.parent.mkdir(parents=True, exist_ok=True)
    body_file.write_text(json.dumps(bodies))
    port = free_port()
    server = start_server(run, args.policy, port, run / "service" / "bench_server.log")
    try:
        rows = {
            (ep, rate): run_client(f"http://127.0.0.1:{port}{ep}", body_file, rate, args)
            for rate in args.rate
            for ep in ("/noop", "/rerank")
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    local = in_process(run, args.policy, bodies, args.in_process)
    k = len(bodies[0]["item_ids"])
    print(f"run {run}, K={k}, up to {args.requests} requests per row")
    header = ("offered", "p50 ms", "p99 ms", "max ms", "req/s", "errors")
    print(f"{'endpoint':<10}" + "".join(f"{h:>9}" for h in header))
    for (ep, rate), r in rows.items():
        print(
            f"{ep:<10}{rate:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.2f}"
            f"{r['throughput_rps']:>9.1f}{r['errors']:>8d}"
        )
    for rate in args.rate:
        ratio = rows[("/rerank", rate)]["p50_ms"] / rows[("/noop", rate)]["p50_ms"]
        print(f"at {rate:.0f} req/s: /rerank p50 = {ratio:.2f} x the /noop floor")
    print(f"in process ({local.pop('engine')} engine):")
    for label, r in local.items():
        print(f"  rerank, {label:<20} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms")


if __name__ == "__main__":
    main()
