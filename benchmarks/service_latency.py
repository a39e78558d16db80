"""Latency and faults of the re-ranker service under real query traffic, each row beside
the service's own ``/noop`` (the same body parsed, no re-ranking) measured in the same run.

Rows (catalog-id ``POST /rerank`` with K = 100, the retriever's top 100 of each query):

* ``unique``: every request a query never seen before (each one encoded and searched),
  at ``--unique-rate`` (target: 100 req/s, p99 < 50 ms, no errors);
* ``cached``: 50 queries, cached after the warm-up, at ``--cached-rate`` (target: 200
  req/s, p99 < 10 ms);
* ``overload``: unique queries at twice ``--unique-rate``, with ``/healthz`` probed at
  20/s beside them (target: answers, 503s included, p99 < 200 ms; ``/healthz`` p99 < 20 ms);
* ``faults``: unique and cached queries mixed with invalid requests (a third of them) at
  ``--fault-rate`` while the driver reloads a good copy of a policy, one whose LightGBM
  model was cut short (with a matching ``policy.json``), and the original back: every
  answer must be 200, 422 or 503, the cut policy refused, the server alive.

Then the in-process ``Reranker`` with K = 100 (target: p99 < 1 ms from features, < 25 ms
for a new query). The server runs in its own process (``python -m
fusionrank.service.server``) and the load generator in another
(``benchmarks/service_load.py``, an open-loop asyncio client). Nothing is written into
the run folder: the ONNX exports, the request bodies, the policy copies and the server
log go to a temporary folder.

Usage::

    .venv/bin/python benchmarks/service_latency.py --run runs/shopworld-quick
    .venv/bin/python benchmarks/service_latency.py --run runs/NAME --policy ppo-rerank \\
        --set encode_wait_ms=0 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from service_bench_data import Traffic, corrupt_copy, make_traffic  # noqa: E402


def start_server(run: Path, config: dict[str, Any], tmp: Path, token: str) -> subprocess.Popen:
    """``python -m fusionrank.service.server`` on ``config["port"]``; waits for /healthz."""
    import httpx

    env = {**os.environ, "FUSIONRANK_ADMIN_TOKEN": token, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "fusionrank.service.server", str(run), json.dumps(config)]
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited; see {tmp / 'server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{config['port']}/healthz", timeout=1).is_success:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("the server did not start in 600 s")


SERVER_PID: list[int] = []


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_counts(port: int) -> tuple[float, float]:
    """``(micro-batches, queries in them)`` of new queries so far, from ``/metrics``."""
    import httpx

    values = {}
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("fusionrank_context_batches", "fusionrank_context_queries"):
            values[name] = float(value)
    return values.get("fusionrank_context_batches", 0.0), values.get(
        "fusionrank_context_queries", 0.0
    )


def load(tmp: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load generator on ``spec``; return its answers and the server's CPU
    seconds while it ran (``server_cpu_s``, warm-up included)."""
    spec_file, out = tmp / f"{name}.spec.json", tmp / f"{name}.out.json"
    spec_file.write_text(json.dumps(spec))
    command = [sys.executable, str(HERE / "service_load.py"), str(spec_file), str(out)]
    before, batches = cpu_seconds(SERVER_PID[0]), batch_counts(spec["port"])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the load generator failed:\n{done.stderr}")
    result = json.loads(out.read_text())
    result["server_cpu_s"] = cpu_seconds(SERVER_PID[0]) - before
    after = batch_counts(spec["port"])
    result["mean_batch"] = (after[1] - batches[1]) / max(after[0] - batches[0], 1)
    return result


def summary(answers: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    ms = np.asarray([a["ms"] for a in answers]) if answers else np.zeros(1)
    statuses: dict[int, int] = {}
    for a in answers:
        statuses[a["status"]] = statuses.get(a["status"], 0) + 1
    return {
        "n": len(answers),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "rps": len(answers) / max(elapsed, 1e-9),
        "statuses": dict(sorted(statuses.items())),
    }


def row(
    tmp: Path, port: int, name: str, bodies: list, warmup: list, rate: float, args: Any, probe=None
) -> dict[str, Any]:
    """One measured row and its ``/noop`` floor at the same rate."""
    results = {}
    for path in ("/noop", "/rerank"):
        requests = [[path, b, "ok"] for b in bodies]
        warm = [[path, b, "ok"] for b in warmup]
        spec = {
            "port": port, "rate": rate, "seconds": args.seconds, "warmup_s": args.warmup,
            "warmup": warm, "requests": requests, "probe": probe if path == "/rerank" else None,
        }  # fmt: skip
        out = load(tmp, f"{name}{path.replace('/', '-')}", spec)
        results[path] = summary(out["rows"], out["elapsed_s"])
        sent = int(rate * args.warmup) + len(out["rows"]) + len(out["probe"])
        results[path]["cpu_ms"] = 1e3 * out["server_cpu_s"] / max(sent, 1)
        results[path]["batch"] = out["mean_batch"]
        if out["probe"]:
            results["/healthz"] = summary(out["probe"], out["elapsed_s"])
    return results


def fault_row(
    tmp: Path, port: int, traffic: Traffic, run: Path, policy: str, args: Any, token: str
):
    """Mixed traffic while the driver reloads a good, a cut and the original policy."""
    import httpx

    from fusionrank.runs import RunFolder

    good = tmp / "staging" / "good"
    lambdamart = RunFolder(run).policies.of("lambdamart")
    shutil.copytree(lambdamart, good)
    cut = corrupt_copy(lambdamart, tmp / "staging" / "cut")
    reloads: list[tuple[str, int, float]] = []

    def admin() -> None:
        time.sleep(args.warmup + 1)
        with httpx.Client(timeout=600, headers={"authorization": f"Bearer {token}"}) as client:
            for target in (str(good), str(cut), policy):
                start = time.perf_counter()
                answer = client.post(f"http://127.0.0.1:{port}/admin/reload", json={"path": target})
                reloads.append((Path(target).name, answer.status_code, time.perf_counter() - start))
                time.sleep(1.0)

    thread = threading.Thread(target=admin)
    thread.start()
    spec = {
        "port": port, "rate": args.fault_rate, "seconds": args.seconds * 2,
        "warmup_s": args.warmup, "warmup": traffic.fault_warmup, "requests": traffic.faults,
    }  # fmt: skip
    out = load(tmp, "faults", spec)
    thread.join()
    by_kind: dict[str, dict[int, int]] = {}
    for a in out["rows"]:
        by_kind.setdefault(a["kind"], {}).setdefault(a["status"], 0)
        by_kind[a["kind"]][a["status"]] += 1
    return summary(out["rows"], out["elapsed_s"]), by_kind, reloads


def in_process(run: Path, policy: str | None, tmp: Path, traffic: Traffic, n: int) -> dict:
    """``Reranker.rerank`` p50/p99 (ms) with K = 100: from features of a cached query,
    catalog ids of a cached query, catalog ids of a new query."""
    from fusionrank.service import Reranker, ServiceConfig

    config = ServiceConfig(policy=policy, exports_dir=str(tmp / "exports"))
    reranker = Reranker.load(run, config)
    cached = traffic.cached_bodies
    arrays = [np.asarray(b["features"], dtype=np.float32) for b in traffic.feature_bodies]
    for body in cached:
        reranker.rerank(body["query"], body["item_ids"])

    def timed(call: Any, count: int) -> dict[str, float]:
        times = []
        for i in range(count):
            start = time.perf_counter()
            call(i)
            times.append((time.perf_counter() - start) * 1e3)
        return {"p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99))}

    fb = traffic.feature_bodies
    new = traffic.inproc_unique
    return {
        "engine": reranker.engine,
        "from features (cached query)": timed(
            lambda i: reranker.rerank(fb[i % len(fb)]["query"], fb[i % len(fb)]["item_ids"],
                                      features=arrays[i % len(arrays)]), n),
        "catalog ids, cached query": timed(
            lambda i: reranker.rerank(cached[i % len(cached)]["query"],
                                      cached[i % len(cached)]["item_ids"]), n),
        "catalog ids, new query": timed(
            lambda i: reranker.rerank(new[i]["query"], new[i]["item_ids"]), len(new)),
    }  # fmt: skip


def measure_rows(tmp: Path, port: int, traffic: Traffic, args: Any) -> dict:
    """The ``unique``, ``cached`` and ``overload`` rows of ``args.rows``."""
    plan = {
        "unique": (args.unique_rate, traffic.unique[0], traffic.unique_warmup[0], None),
        "cached": (args.cached_rate, traffic.cached, traffic.cached, None),
        "overload": (
            2 * args.unique_rate,
            traffic.unique[1],
            traffic.unique_warmup[1],
            {"path": "/healthz", "rate": 20},
        ),
    }
    rows = {}
    for name, (rate, bodies, warmup, probe) in plan.items():
        if name in args.rows:
            rows[name] = (rate, row(tmp, port, name, bodies, warmup, rate, args, probe))
    return rows


def report(rows: dict, faults: tuple, local: dict, args: Any, load_avg: tuple) -> None:
    print(f"load average before the run: {load_avg[0]:.1f} {load_avg[1]:.1f} {load_avg[2]:.1f}"
          f" on {os.cpu_count()} cores; {args.seconds:.0f} s per row")  # fmt: skip
    print(f"{'row':<10}{'endpoint':<10}{'offered':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'req/s':>8}{'cpu ms':>8}{'batch':>6}  statuses")  # fmt: skip
    for name, (rate, result) in rows.items():
        for endpoint, r in result.items():
            offered = 20 if endpoint == "/healthz" else rate
            cpu = f"{r['cpu_ms']:>8.2f}" if "cpu_ms" in r else f"{'':>8}"
            cpu += f"{r['batch']:>6.1f}" if r.get("batch") else f"{'':>6}"
            print(f"{name:<10}{endpoint:<10}{offered:>8.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
                  f"{r['max']:>9.1f}{r['rps']:>8.1f}{cpu}  {r['statuses']}")  # fmt: skip
        ratio = result["/rerank"]["p99"] / max(result["/noop"]["p99"], 1e-9)
        print(f"{'':<10}/rerank p99 = {ratio:.1f} x the /noop p99 at the same rate")
    total, by_kind, reloads = faults
    print(f"faults at {args.fault_rate:.0f} req/s: p50 {total['p50']:.1f} ms, p99 "
          f"{total['p99']:.1f} ms, statuses by kind {by_kind}")  # fmt: skip
    for target, status, seconds in reloads:
        print(f"  reload {target}: HTTP {status} in {seconds:.1f} s")
    print(f"in process ({local.pop('engine')} engine), K = 100:")
    for label, r in local.items():
        print(f"  {label:<30} p50 {r['p50']:.3f} ms  p99 {r['p99']:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/shopworld-quick"))
    parser.add_argument("--policy", default="ppo-rerank")
    parser.add_argument("--logs", type=Path, default=None, help="Logs parquet of the queries.")
    parser.add_argument("--unique-rate", type=float, default=100.0)
    parser.add_argument("--cached-rate", type=float, default=200.0)
    parser.add_argument("--fault-rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=15.0, help="Measured seconds a row.")
    parser.add_argument("--warmup", type=float, default=3.0, help="Warm-up seconds a row.")
    parser.add_argument("--in-process", type=int, default=2000)
    parser.add_argument("--rows", nargs="+", default=["unique", "cached", "overload", "faults"])
    parser.add_argument("--set", nargs="*", default=[], help="ServiceConfig overrides k=v.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_avg = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="fusionrank-service-bench-"))
    traffic = make_traffic(args.run, args.logs, tmp, args)
    port = _free_port()
    overrides = {k: json.loads(v) if v[:1] in "0123456789[{tf" else v
                 for k, v in (s.split("=", 1) for s in args.set)}  # fmt: skip
    config = {"port": port, "policy": args.policy, "exports_dir": str(tmp / "exports"),
              "reload_dirs": [str(tmp / "staging")], **overrides}  # fmt: skip
    token = secrets.token_hex(16)
    server = start_server(args.run, config, tmp, token)
    SERVER_PID.append(server.pid)
    faults: tuple = ({"p50": 0, "p99": 0}, {}, [])
    try:
        rows = measure_rows(tmp, port, traffic, args)
        if "faults" in args.rows:
            faults = fault_row(tmp, port, traffic, args.run, args.policy, args, token)
        alive = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=60)
    local = in_process(args.run, args.policy, tmp, traffic, args.in_process)
    print(f"run {args.run}, policy {args.policy}, server alive after the faults: {alive}")
    report(rows, faults, local, args, load_avg)
    shutil.rmtree(tmp, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
