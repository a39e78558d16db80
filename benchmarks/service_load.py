"""The open-loop load generator of ``service_latency.py``: a minimal asyncio HTTP/1.1
client (keep-alive connections, no parsing beyond the status line and
``Content-Length``), light enough that the client does not eat the CPU the server is
measured on.

Request ``i`` of a row is due at ``t0 + i / rate``; its latency runs from that due time
to the last byte of the answer (so a client or server that falls behind is charged for
it, as wrk2 does). Run as a process of its own::

    python benchmarks/service_load.py SPEC.json OUT.json

``SPEC`` is ``{"port", "rate", "seconds", "warmup_s", "timeout_s", "warmup": [[path, body,
kind], ...], "requests": [...], "probe": {"path", "rate"} | null}``; requests are sent in
order, cycling; the warm-up's answers are not recorded.
``OUT`` gets ``{"rows": [{"status", "ms", "kind"}...], "probe": [...], "elapsed_s"}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any


class Connections:
    """Keep-alive connections to ``127.0.0.1:port``, opened on demand."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, method: str, path: str, body: bytes) -> int:
        """Send one request; return its status (0 for a failed connection). A kept-alive
        connection the server closed meanwhile is retried once on a new one."""
        if self.idle:
            status = await self._send(*self.idle.pop(), method, path, body)
            if status:
                return status
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return await self._send(reader, writer, method, path, body)

    async def _send(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        body: bytes,
    ) -> int:
        head = (
            f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json"
            f"\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    close = True
            await reader.readexactly(length)
            status = int(status_line.split()[1])
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            writer.close()
            return 0
        if close:
            writer.close()
        else:
            self.idle.append((reader, writer))
        return status


async def _open_loop(
    connections: Connections,
    requests: list[tuple[str, bytes, str]],
    rate: float,
    seconds: float,
    timeout_s: float,
    out: list[dict[str, Any]] | None,
) -> None:
    """Send ``rate`` requests/s for ``seconds``; record each answer in ``out``."""
    tasks = []
    t0 = time.perf_counter()
    n = int(rate * seconds)

    async def one(i: int, due: float) -> None:
        method, path, body, kind = "POST", *requests[i % len(requests)]
        if path in ("/healthz", "/metrics"):
            method = "GET"
        try:
            status = await asyncio.wait_for(
                connections.request(method, path, body), timeout=timeout_s
            )
        except TimeoutError:
            status = -1
        if out is not None:
            out.append({"status": status, "ms": (time.perf_counter() - due) * 1e3, "kind": kind})

    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    requests = [(p, json.dumps(b).encode(), k) for p, b, k in spec["requests"]]
    warmup = [(p, json.dumps(b).encode(), k) for p, b, k in spec["warmup"]] or requests
    connections = Connections(spec["port"])
    timeout = spec.get("timeout_s", 10.0)
    await _open_loop(connections, warmup, spec["rate"], spec["warmup_s"], timeout, None)
    rows: list[dict[str, Any]] = []
    probe: list[dict[str, Any]] = []
    jobs = [_open_loop(connections, requests, spec["rate"], spec["seconds"], timeout, rows)]
    if spec.get("probe"):
        health = Connections(spec["port"])
        pings = [(spec["probe"]["path"], b"", "probe")]
        rate = spec["probe"]["rate"]
        jobs.append(_open_loop(health, pings, rate, spec["seconds"], timeout, probe))
    start = time.perf_counter()
    await asyncio.gather(*jobs)
    return {"rows": rows, "probe": probe, "elapsed_s": time.perf_counter() - start}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    Path(argv[1]).write_text(json.dumps(asyncio.run(run(spec))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
