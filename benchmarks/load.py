"""Load test of `lexdense serve` on loopback: N concurrent clients for T seconds, from a bounded
asyncio client (httpx), with a mix of

- POST /embed (1-8 short texts), 40 %;
- POST /search (hybrid, k=10), 35 %;
- POST /topics (2-4 labels of 1-3 keywords over 20-50 tweets), 20 %;
- oversized bodies to /embed (the server's limit + 64 KiB), 5 %, alternately with a
  Content-Length header and chunked (no Content-Length); both must get 413;

and, apart from the clients, a light prober in its own process that GETs /health every 50 ms
(its latencies are reported on their own). The server's RSS (VmRSS of its process) is read
every second.

    python benchmarks/load.py --clients 50 --seconds 60 --json benchmarks/results/load.json
    python benchmarks/load.py --clients 5 --seconds 3          # smoke size

The server runs in its own process (uvicorn, one worker, `lexdense serve --max-body-mb 8`)
over an index of the 3,729 NewsArticles; client, prober and server share the machine's cores.
Reported: requests, unexpected outcomes (``errors``: a non-200 answer to a well-formed request,
anything but 413 to an oversized one, or a transport error), the 5xx count (probes included),
transport errors, throughput, per endpoint the count, status codes and p50/p99/max latency,
/health p50/p99/max, and the server's RSS at the start, its maximum and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

MAX_BODY_MB = 8
OVERSIZED_BYTES = MAX_BODY_MB * 2**20 + 64 * 2**10
MIX = {"/embed": 0.40, "/search": 0.35, "/topics": 0.20, "oversized": 0.05}
PROBE_EVERY_S = 0.05
# Keyword-defined topics over health tweets: each /topics request takes 2-4 of these labels
# with 1-3 of their keywords.
TOPIC_KEYWORDS = {
    "vaccines": ["vaccine", "flu shot", "immunization"],
    "diet": ["diet", "calories", "healthy food"],
    "cancer": ["cancer", "tumor", "chemotherapy"],
    "mental health": ["depression", "anxiety", "stress"],
    "exercise": ["exercise", "workout", "fitness"],
    "health insurance": ["insurance", "obamacare", "medicaid"],
    "ebola": ["ebola", "outbreak", "epidemic"],
    "heart": ["heart disease", "blood pressure", "cholesterol"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class RssSampler(threading.Thread):
    """Reads the server's VmRSS every ``every`` seconds until stopped."""

    def __init__(self, pid: int, every: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples = pid, every, []
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            value = rss_mib(self.pid)
            if value is not None:
                self.samples.append(value)
            if self.done.wait(self.every):
                break

    def stop(self) -> list[float]:
        self.done.set()
        self.join()
        value = rss_mib(self.pid)
        if value is not None:
            self.samples.append(value)
        return self.samples


def probe(base: str, seconds: float, out: str) -> None:
    """The /health prober (its own process): one keep-alive connection, a GET every 50 ms."""
    import httpx

    records = []
    with httpx.Client(base_url=base, timeout=30.0) as client:
        client.get("/health")  # connect before the clock starts
        print("ready", flush=True)
        began = time.perf_counter()
        while time.perf_counter() < began + seconds:
            start = time.perf_counter()
            try:
                status = str(client.get("/health").status_code)
            except Exception as exc:
                status = type(exc).__name__
            records.append((time.perf_counter() - start, status, start - began))
            time.sleep(PROBE_EVERY_S)
    Path(out).write_text(json.dumps(records))


def topics_body(rng, texts: list[str]) -> dict:
    names = list(TOPIC_KEYWORDS)
    chosen = rng.choice(len(names), size=int(rng.integers(2, 5)), replace=False)
    keywords = {names[i]: list(rng.choice(TOPIC_KEYWORDS[names[i]], size=int(rng.integers(1, 4)), replace=False))
                for i in chosen}
    return {"keywords": keywords, "texts": [texts[i] for i in rng.integers(len(texts), size=int(rng.integers(20, 51)))]}


def oversized_body() -> bytes:
    return b'{"texts": ["' + b"x" * (OVERSIZED_BYTES - 16) + b'"]}'


async def chunks(body: bytes, size: int = 1 << 16):
    view = memoryview(body)
    for start in range(0, len(body), size):
        yield bytes(view[start:start + size])


async def client_loop(client, deadline: float, queries: list[str], texts: list[str], big: bytes, seed: int,
                      out: list):
    rng = np.random.default_rng(seed)
    kinds, shares = list(MIX), np.array(list(MIX.values()))
    oversized_sent = 0
    while time.perf_counter() < deadline:
        kind = kinds[int(rng.choice(len(kinds), p=shares / shares.sum()))]
        headers = {"content-type": "application/json"}
        if kind == "/embed":
            request = dict(url="/embed", json={"texts": [texts[i] for i in rng.integers(len(texts), size=int(rng.integers(1, 9)))]})
        elif kind == "/search":
            request = dict(url="/search", json={"query": queries[int(rng.integers(len(queries)))], "k": 10, "mode": "hybrid"})
        elif kind == "/topics":
            request = dict(url="/topics", json=topics_body(rng, texts))
        else:  # alternate the two ways of sending too much
            chunked = (seed + oversized_sent) % 2 == 1
            oversized_sent += 1
            kind = "oversized (chunked)" if chunked else "oversized (Content-Length)"
            request = dict(url="/embed", content=chunks(big) if chunked else big, headers=headers)
        start = time.perf_counter()
        try:
            response = await client.post(**request)
            status = str(response.status_code)
        except Exception as exc:  # transport errors are reported by name
            status = type(exc).__name__
        out.append((kind, time.perf_counter() - start, status))


async def run_load(base: str, clients: int, seconds: float, queries, texts) -> list:
    import httpx

    results: list = []
    big = oversized_body()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits) as client:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*[client_loop(client, deadline, queries, texts, big, seed, results)
                               for seed in range(clients)])
    return results


def summarize(latencies: list[float], statuses: list[str]) -> dict:
    ms = np.asarray(latencies) * 1000
    return {"requests": len(ms), "statuses": dict(sorted(Counter(statuses).items())),
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json")
    parser.add_argument("--probe", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)  # the prober process
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe[0], args.seconds, args.probe[1])
        return {}

    import httpx

    from lexdense.search import SearchIndex
    from lexdense.sources import datasets

    news, tweets = datasets.news_articles(), datasets.health_tweets()
    with tempfile.TemporaryDirectory() as tmp:
        SearchIndex.build(news.texts, metadata={"outlet": news.labels, "title": news.titles}).save(Path(tmp) / "index")
        port = free_port()
        log = open(Path(tmp) / "server.log", "wb")  # a file, not a pipe: a full pipe would stall the server
        server = subprocess.Popen([sys.executable, "-m", "lexdense.cli", "serve", "--index", str(Path(tmp) / "index"),
                                   "--port", str(port), "--max-body-mb", str(MAX_BODY_MB)],
                                  stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "LEXDENSE_TOKEN": ""})
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(base + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("server did not start: " + (Path(tmp) / "server.log").read_text()[-2000:])
            probe_out = Path(tmp) / "probe.json"
            prober = subprocess.Popen([sys.executable, __file__, "--seconds", str(args.seconds),
                                       "--probe", base, str(probe_out)], stdout=subprocess.PIPE, text=True)
            if prober.stdout.readline().strip() != "ready":
                raise RuntimeError("the /health prober did not start")
            sampler = RssSampler(server.pid)
            sampler.start()
            cpu_start, start = cpu_seconds(server.pid), time.perf_counter()
            results = asyncio.run(run_load(base, args.clients, args.seconds, news.titles, tweets.texts))
            wall = time.perf_counter() - start
            cpu_end = cpu_seconds(server.pid)
            rss = sampler.stop()
            prober.wait(timeout=60)
            probes = json.loads(probe_out.read_text())
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        server_log = (Path(tmp) / "server.log").read_text(errors="replace")

    def expected(kind: str, status: str) -> bool:
        return status == ("413" if kind.startswith("oversized") else "200")

    unexpected = [(kind, status) for kind, _, status in results if not expected(kind, status)]
    statuses = [status for _, _, status in results] + [p[1] for p in probes]
    report = {"clients": args.clients, "seconds": wall, "requests": len(results),
              "errors": len(unexpected), "error_kinds": sorted({f"{kind} {status}" for kind, status in unexpected}),
              "status_5xx": sum(s.startswith("5") for s in statuses),
              "transport_errors": sum(not s.isdigit() for s in statuses),
              "requests_per_s": len(results) / wall, "endpoints": {}, "topics": None,
              "oversized": {}, "health": None, "server_rss_mib": None,
              "server_cpu_s": None if None in (cpu_start, cpu_end) else cpu_end - cpu_start,
              "load_average_1m": os.getloadavg()[0]}
    # "endpoints" keeps its earlier meaning (/embed and /search); the other kinds have their own keys
    for kind in sorted({r[0] for r in results}):
        rows = [r for r in results if r[0] == kind]
        stats = summarize([r[1] for r in rows], [r[2] for r in rows])
        if kind in ("/embed", "/search"):
            report["endpoints"][kind] = stats
        elif kind == "/topics":
            report["topics"] = stats
        else:
            report["oversized"]["chunked" if "chunked" in kind else "content_length"] = stats
    if probes:
        report["health"] = {**summarize([p[0] for p in probes], [p[1] for p in probes]),
                            "every_ms": PROBE_EVERY_S * 1000,
                            "slowest_at_s": float(max(probes)[2])}  # seconds into the run
    if rss:
        report["server_rss_mib"] = {"start": rss[0], "max": max(rss), "end": rss[-1], "samples": len(rss)}
    if report["status_5xx"]:
        report["server_log_tail"] = server_log[-4000:]

    print(f"{args.clients} clients for {wall:.0f} s: {report['requests']:,} requests, {report['requests_per_s']:,.0f}/s; "
          f"{report['errors']} unexpected, {report['status_5xx']} 5xx, {report['transport_errors']} transport errors"
          + (f" ({', '.join(report['error_kinds'])})" if report["errors"] else ""))
    rows = {**report["endpoints"], **({"/topics": report["topics"]} if report["topics"] else {}),
            **{f"oversized {k}": v for k, v in report["oversized"].items()},
            **({"/health probe": report["health"]} if report["health"] else {})}
    for kind, r in rows.items():
        codes = " ".join(f"{code}:{n}" for code, n in r["statuses"].items())
        print(f"  {kind:28s} {r['requests']:7,}  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
              f"max {r['max_ms']:7.1f} ms  [{codes}]")
    if rss:
        m = report["server_rss_mib"]
        print(f"  server RSS: start {m['start']:.0f} MiB, max {m['max']:.0f} MiB, end {m['end']:.0f} MiB")
    if report["health"]:
        print(f"  slowest /health probe at {report['health']['slowest_at_s']:.1f} s into the run")
    if report["server_cpu_s"] is not None:
        print(f"  server CPU: {report['server_cpu_s']:.0f} s in {wall:.0f} s; load average (1 min) at the end "
              f"{report['load_average_1m']:.1f} on {os.cpu_count()} cores")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
