"""Core scaling of `lexdense embed`, end to end (read, embed, write Parquet), each run a fresh
process: one file with 1 and 2 numba threads, and the same text as a directory of 8 shards
with 1 and 2 worker processes (one thread each); then `encode` alone (texts in memory) in 1
and in 2 processes at once, to separate the kernel's scaling from the I/O around it; docs/s
in total and per core, and the cost per billion documents this implies.

    python benchmarks/scaling.py --size-mib 256 --json benchmarks/results/scaling.json
    python benchmarks/scaling.py --size-mib 8 --repeat 1   # smoke size

Each setting runs --repeat times, in rounds that alternate their order (a shared VM drifts);
figures are medians, and 2-vs-1 ratios are taken within a round. The fixed cost of a job
(interpreter, model load, worker processes) is measured on a tiny input and reported, with
the per-core rate past it: it is what a long job sees.

Input: NewsArticles lines repeated to the size asked (as benchmarks/memory.py). End to end:
reading, embedding and writing Parquet, as a user runs it. The cost line multiplies the
measured per-core rate out to 10^9 documents of this length at a price per core-hour you
pass (--price, default $0.04, a typical on-demand price of one vCPU; change it to yours).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


KERNEL = """
import os, sys, time
from lexdense import LexDense
from lexdense.sources import datasets
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


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(source: Path, out: Path, threads: int, extra: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `lexdense embed` in a fresh process."""
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads)}
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    cpu, start = children_cpu(), time.perf_counter()
    shards = ["--shards"] if source.is_dir() else []  # a folder of shards in, one shard out per file
    subprocess.run([sys.executable, "-m", "lexdense.cli", "embed", str(source), *shards, "--out", str(out), *extra],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, children_cpu() - cpu


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each round runs every setting once")
    parser.add_argument("--price", type=float, default=0.04, help="price of one core-hour")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from memory import build_corpus

    settings = [("threads", 1), ("threads", 2), ("file_workers", 2), ("workers", 1), ("workers", 2)]
    runs: dict = {key: [] for key in settings}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        docs = build_corpus(corpus, args.size_mib << 20)
        shards, tiny = Path(tmp) / "shards", Path(tmp) / "tiny"
        shards.mkdir()
        tiny.mkdir()
        lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
        for k in range(8):
            (shards / f"part-{k}.txt").write_text("".join(lines[k::8]), encoding="utf-8")
            (tiny / f"part-{k}.txt").write_text(lines[k], encoding="utf-8")
        del lines
        # The fixed cost of a job: start, load the model, and (2 workers) start the worker processes.
        startup = {n: min(run(tiny, Path(tmp) / "tiny-out", 1, ["--workers", str(n)])[0] for _ in range(2))
                   for n in (1, 2)}
        for round_ in range(args.repeat):
            # Alternate the order, so slow drift of a shared machine hits both sides alike.
            order = settings if round_ % 2 == 0 else settings[::-1]
            for kind, n in order:
                if kind == "threads":
                    wall, cpu = run(corpus, Path(tmp) / "out.parquet", n, [])
                elif kind == "file_workers":
                    wall, cpu = run(corpus, Path(tmp) / "out.parquet", 1, ["--workers", str(n)])
                else:
                    wall, cpu = run(shards, Path(tmp) / "out-dir", 1, ["--workers", str(n)])
                runs[(kind, n)].append((wall, cpu))
    result: dict = {"size_mib": args.size_mib, "documents": docs, "repeat": args.repeat,
                    "startup_s": {str(n): s for n, s in startup.items()}, "threads": {}, "file_workers": {},
                    "workers": {}}
    for (kind, n), values in runs.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        steady = wall - startup[1 if kind == "threads" else n]
        result[kind][n] = {"seconds": wall, "seconds_all": [w for w, _ in values], "cpu_seconds": cpu,
                           "cores_busy": cpu / wall, "docs_per_s": docs / wall, "docs_per_s_per_core": docs / wall / n,
                           # None where the fixed cost is most of the run (smoke sizes)
                           "steady_docs_per_s_per_core": docs / steady / n if steady > 0.5 * wall else None}
    for kind in ("threads", "file_workers", "workers"):
        key = "" if kind == "threads" else f"_{kind}"
        # One file: 2 threads or 2 workers against 1 thread; shards: 2 workers against 1.
        base = "workers" if kind == "workers" else "threads"
        one, two = result[base][1], result[kind][2]
        # Paired rounds: each round's 2-vs-1 ratio, then the median of those.
        ratios = [w1 / w2 for (w1, _), (w2, _) in zip(runs[(base, 1)], runs[(kind, 2)])]
        result[f"speedup_2_{kind}"] = statistics.median(ratios)
        result[f"per_core_efficiency{key}"] = statistics.median(ratios) / 2
        steady = (one["steady_docs_per_s_per_core"], two["steady_docs_per_s_per_core"])
        result[f"steady_per_core_efficiency{key}"] = steady[1] / steady[0] if all(steady) else None
    repeat = max(1, args.size_mib // 32)
    singles, pairs = [], []
    for _ in range(args.repeat):
        singles.append(kernel_rates(1, repeat)[0])
        pairs.append(sum(kernel_rates(2, repeat)))
    single, pair = statistics.median(singles), statistics.median(pairs)
    result["kernel"] = {"one_process": single, "two_processes": pair, "per_core_efficiency": pair / 2 / single,
                        "one_process_all": singles, "two_processes_all": pairs}
    one, w1 = result["threads"][1], result["workers"][1]
    core_hours = 1e9 / max(one["docs_per_s_per_core"], w1["docs_per_s_per_core"]) / 3600
    result["per_billion"] = {"core_hours": core_hours, "price_per_core_hour": args.price,
                             "cost": core_hours * args.price, "mean_doc_bytes": (args.size_mib << 20) / docs}
    print(f"{docs:,} documents ({args.size_mib} MiB, {result['per_billion']['mean_doc_bytes']:,.0f} B each), end to end, "
          f"median of {args.repeat} alternating rounds; fixed cost of a job: {startup[1]:.1f} s, "
          f"{startup[2]:.1f} s with 2 worker processes:")
    labels = (("threads", "one file, {n} numba thread(s)"), ("file_workers", "one file, {n} worker processes"),
              ("workers", "8 shards, {n} worker process(es)"))
    for kind, label in labels:
        for n, r in result[kind].items():
            steady = r["steady_docs_per_s_per_core"]
            print(f"  {label.format(n=n)}: {r['docs_per_s']:,.0f} docs/s, {r['docs_per_s_per_core']:,.0f} per core "
                  f"({r['cores_busy']:.2f} cores busy"
                  + (f"; {steady:,.0f} per core past the fixed cost)" if steady else ")"))
        key = "" if kind == "threads" else f"_{kind}"
        steady = result[f"steady_per_core_efficiency{key}"]
        short = {"threads": "one file, 2 threads", "file_workers": "one file, 2 workers",
                 "workers": "8 shards, 2 workers"}[kind]
        print(f"  {short} against 1: {result[f'speedup_2_{kind}']:.2f}x, per-core efficiency {result[f'per_core_efficiency{key}']:.0%} "
              "end to end" + (f", {steady:.0%} past the fixed cost" if steady else ""))
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
