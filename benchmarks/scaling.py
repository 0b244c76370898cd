"""Core scaling of `lexdense embed`, end to end (read, embed, write Parquet), each run a fresh
process: one file with 1 and 2 numba threads, and the same text as a directory of 8 shards
with 1 and 2 worker processes (one thread each); then `encode` alone (texts in memory) in 1
and in 2 processes at once, to separate the kernel's scaling from the I/O around it; docs/s
in total and per core, and the cost per billion documents this implies.

    python benchmarks/scaling.py --size-mib 256 --json benchmarks/results/scaling.json
    python benchmarks/scaling.py --size-mib 8          # smoke size

Input: NewsArticles lines repeated to the size asked (as benchmarks/memory.py). End to end:
reading, embedding and writing Parquet, as a user runs it. The cost line multiplies the
measured per-core rate out to 10^9 documents of this length at a price per core-hour you
pass (--price, default $0.04, a typical on-demand price of one vCPU; change it to yours).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


KERNEL = """
import os, sys, time
from lexdense import LexDense
from lexdense.io import datasets
model = LexDense.load("lexdense-base")
texts = datasets.news_articles().texts * int(sys.argv[1])
model.encode(texts[:100])
start = time.perf_counter()
model.encode(texts, batch_size=1024)
print(len(texts) / (time.perf_counter() - start))
"""


def kernel_rates(processes: int, repeat: int) -> list[float]:
    """docs/s of ``encode`` alone (texts in memory, one thread) in each of ``processes`` at once."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    jobs = [subprocess.Popen([sys.executable, "-c", KERNEL, str(repeat)], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(processes)]
    return [float(job.communicate()[0].strip().splitlines()[-1]) for job in jobs]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--price", type=float, default=0.04, help="price of one core-hour")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from memory import build_corpus

    result: dict = {"size_mib": args.size_mib, "threads": {}, "workers": {}}

    def run(source: Path, out: Path, threads: int, extra: list[str]) -> float:
        env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
               "OPENBLAS_NUM_THREADS": str(threads)}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lexdense.cli", "embed", str(source), "--out", str(out), *extra],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        docs = build_corpus(corpus, args.size_mib << 20)
        result["documents"] = docs
        shards = Path(tmp) / "shards"
        shards.mkdir()
        lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
        for k in range(8):
            (shards / f"part-{k}.txt").write_text("".join(lines[k::8]), encoding="utf-8")
        del lines
        for threads in (1, 2):
            seconds = run(corpus, Path(tmp) / f"out-{threads}.parquet", threads, [])
            result["threads"][threads] = {"seconds": seconds, "docs_per_s": docs / seconds,
                                          "docs_per_s_per_core": docs / seconds / threads}
        for workers in (1, 2):
            seconds = run(shards, Path(tmp) / f"dir-{workers}", 1, ["--workers", str(workers)])
            result["workers"][workers] = {"seconds": seconds, "docs_per_s": docs / seconds,
                                          "docs_per_s_per_core": docs / seconds / workers}
    repeat = max(1, args.size_mib // 32)
    single, pair = kernel_rates(1, repeat), kernel_rates(2, repeat)
    result["kernel"] = {"one_process": single[0], "two_processes": sum(pair),
                        "per_core_efficiency": sum(pair) / 2 / single[0]}
    one, two = result["threads"][1], result["threads"][2]
    result["speedup_2_threads"] = two["docs_per_s"] / one["docs_per_s"]
    result["per_core_efficiency"] = two["docs_per_s_per_core"] / one["docs_per_s_per_core"]
    w1, w2 = result["workers"][1], result["workers"][2]
    result["speedup_2_workers"] = w2["docs_per_s"] / w1["docs_per_s"]
    result["per_core_efficiency_workers"] = w2["docs_per_s_per_core"] / w1["docs_per_s_per_core"]
    core_hours = 1e9 / max(one["docs_per_s_per_core"], w1["docs_per_s_per_core"]) / 3600
    result["per_billion"] = {"core_hours": core_hours, "price_per_core_hour": args.price,
                             "cost": core_hours * args.price, "mean_doc_bytes": (args.size_mib << 20) / docs}
    print(f"{docs:,} documents ({args.size_mib} MiB, {result['per_billion']['mean_doc_bytes']:,.0f} B each), end to end:")
    for threads, r in result["threads"].items():
        print(f"  {threads} thread(s): {r['docs_per_s']:,.0f} docs/s, {r['docs_per_s_per_core']:,.0f} docs/s per core")
    print(f"  2 threads: {result['speedup_2_threads']:.2f}x, per-core efficiency {result['per_core_efficiency']:.0%}")
    for workers, r in result["workers"].items():
        print(f"  8 shards, {workers} worker process(es): {r['docs_per_s']:,.0f} docs/s, "
              f"{r['docs_per_s_per_core']:,.0f} docs/s per core")
    print(f"  2 workers: {result['speedup_2_workers']:.2f}x, per-core efficiency "
          f"{result['per_core_efficiency_workers']:.0%}")
    k = result["kernel"]
    print(f"  encode alone (texts in memory, 1 thread): 1 process {k['one_process']:,.0f} docs/s, 2 processes "
          f"{k['two_processes']:,.0f} docs/s ({k['per_core_efficiency']:.0%} per core)")
    print(f"  10^9 such documents: {core_hours:,.0f} core-hours, ${result['per_billion']['cost']:,.0f} at "
          f"${args.price}/core-hour")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
