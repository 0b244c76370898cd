"""Load test of `lexdense serve` on loopback: N concurrent clients for T seconds, a mix of
/embed (1-8 short texts) and /search (hybrid) requests, from a bounded asyncio client (httpx).

    python benchmarks/load.py --clients 50 --seconds 60 --json benchmarks/results/load.json
    python benchmarks/load.py --clients 5 --seconds 3          # smoke size

The server runs in its own process (uvicorn, one worker) over an index of the 3,729
NewsArticles; client and server share the machine's 2 cores. Reported: requests, errors
(any non-2xx or transport error), throughput, p50/p99 latency per endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def client_loop(client, deadline: float, queries: list[str], texts: list[str], seed: int, out: list):
    rng = np.random.default_rng(seed)
    while time.perf_counter() < deadline:
        if rng.random() < 0.5:
            endpoint, body = "/embed", {"texts": [texts[i] for i in rng.integers(len(texts), size=int(rng.integers(1, 9)))]}
        else:
            endpoint, body = "/search", {"query": queries[int(rng.integers(len(queries)))], "k": 10, "mode": "hybrid"}
        start = time.perf_counter()
        try:
            response = await client.post(endpoint, json=body)
            ok, why = response.status_code == 200, str(response.status_code)
        except Exception as exc:  # transport errors count as errors too
            ok, why = False, type(exc).__name__
        out.append((endpoint, time.perf_counter() - start, ok, why))


async def run_load(base: str, clients: int, seconds: float, queries, texts) -> list:
    import httpx

    results: list = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits) as client:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*[client_loop(client, deadline, queries, texts, seed, results) for seed in range(clients)])
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    import httpx

    from lexdense.io import datasets
    from lexdense.search import SearchIndex

    news, tweets = datasets.news_articles(), datasets.health_tweets()
    with tempfile.TemporaryDirectory() as tmp:
        SearchIndex.build(news.texts, metadata={"outlet": news.labels, "title": news.titles}).save(Path(tmp) / "index")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "lexdense.cli", "serve", "--index", str(Path(tmp) / "index"),
                                   "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env={**os.environ, "LEXDENSE_TOKEN": ""})
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(base + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("server did not start: " + server.stderr.read().decode()[-2000:])
            start = time.perf_counter()
            results = asyncio.run(run_load(base, args.clients, args.seconds, news.titles, tweets.texts))
            wall = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = {"clients": args.clients, "seconds": wall, "requests": len(results),
              "errors": sum(not r[2] for r in results),
              "error_kinds": sorted({r[3] for r in results if not r[2]}), "requests_per_s": len(results) / wall, "endpoints": {}}
    for endpoint in ("/embed", "/search"):
        latencies = np.array([r[1] for r in results if r[0] == endpoint])
        if len(latencies):
            report["endpoints"][endpoint] = {"requests": int(len(latencies)),
                                             "p50_ms": float(np.percentile(latencies, 50) * 1000),
                                             "p99_ms": float(np.percentile(latencies, 99) * 1000)}
    print(f"{args.clients} clients for {wall:.0f} s: {report['requests']:,} requests, {report['errors']} errors, "
          f"{report['requests_per_s']:,.0f} requests/s" + (f" (errors: {', '.join(report['error_kinds'])})"
                                                             if report["errors"] else ""))
    for endpoint, r in report["endpoints"].items():
        print(f"  {endpoint:8s} {r['requests']:7,} requests  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
