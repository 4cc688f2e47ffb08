"""Web app under load: 200 concurrent stance requests on loopback, several rounds, no errors allowed.

Claim measured: the stance API answers a burst of 200 concurrent requests with no errors, and
how its latency under that burst compares with the same requests sent one at a time (the
baseline, measured in the same run: ``p50_ratio_vs_sequential``). The server is the real app
(uvicorn, one worker process of its own, on 127.0.0.1) with a real TF-IDF stance detector trained on the claim-graph
demo's built-in messages; each request carries 3 messages.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/web_load.py
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

from quartet.infopattern.graph.demo import builtin_messages
from quartet.infopattern.stance import TfidfStance
from quartet.web.app import create_app
from quartet.web.services import DetectorStance, Services

CONCURRENT = 200
ROUNDS = 3


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def one(client: httpx.AsyncClient, url: str, i: int) -> tuple[float, int]:
    body = {"messages": [f"The river plant is dumping chemicals, report {i}.", "Fuel taxes fund the bus lines.",
                         "The inspection was paid for by the owners."]}
    started = time.perf_counter()
    response = await client.post(url, json=body)
    ok = response.status_code == 200 and len(response.json()["results"]) == 3
    return time.perf_counter() - started, 0 if ok else 1


async def load(url: str) -> dict:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        sequential = [await one(client, url, i) for i in range(CONCURRENT)]
        burst: list[tuple[float, int]] = []
        wall = 0.0
        for r in range(ROUNDS):
            started = time.perf_counter()
            burst += await asyncio.gather(*(one(client, url, r * CONCURRENT + i) for i in range(CONCURRENT)))
            wall += time.perf_counter() - started
    seq_ms = [1000 * t for t, _ in sequential]
    burst_ms = [1000 * t for t, _ in burst]
    return {
        "requests": len(burst), "errors": sum(e for _, e in burst) + sum(e for _, e in sequential),
        "concurrent_p50_ms": round(percentile(burst_ms, 0.5), 1), "concurrent_p95_ms": round(percentile(burst_ms, 0.95), 1),
        "concurrent_max_ms": round(max(burst_ms), 1), "concurrent_requests_per_s": round(len(burst) / wall, 1),
        "sequential_p50_ms": round(statistics.median(seq_ms), 2),
        "sequential_p95_ms": round(percentile(seq_ms, 0.95), 2),
        "sequential_requests_per_s": round(len(sequential) / (sum(seq_ms) / 1000), 1),
        "p50_ratio_vs_sequential": round(percentile(burst_ms, 0.5) / statistics.median(seq_ms), 1),
    }


def serve(port: int, data_dir: str) -> None:
    """The server process: the real app with a TF-IDF stance detector (its own process, so the load
    generator does not share a GIL with it)."""
    detector = TfidfStance().fit(builtin_messages(), [m.community for m in builtin_messages()])
    services = Services(stance=DetectorStance(detector), data_dir=Path(data_dir))
    uvicorn.run(create_app(services=services), host="127.0.0.1", port=port, log_level="warning", backlog=2048)


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = multiprocessing.get_context("spawn").Process(target=serve, args=(port, tmp), daemon=True)
        server.start()
        try:
            end = time.time() + 120
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/api/pages", timeout=1.0)
                    break
                except httpx.TransportError:
                    if time.time() > end or not server.is_alive():
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.2)
            result = asyncio.run(load(f"http://127.0.0.1:{port}/api/infopattern/stance"))
        finally:
            server.terminate()
            server.join(timeout=10)
    print(json.dumps({"benchmark": "web_load", "concurrency": CONCURRENT, "rounds": ROUNDS, **result}))


if __name__ == "__main__":
    main()
