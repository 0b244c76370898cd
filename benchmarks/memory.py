"""Peak memory of `lexdense embed` on a large input (default 1 GiB of news text).

Builds a .txt corpus (one NewsArticles article per line, repeated with a line number so no
two lines are equal) in a temporary directory, runs `lexdense embed` on it in a child
process, and reports the child's peak resident memory (ru_maxrss) against the input size.

Usage: python benchmarks/memory.py [--size-mib 1024] [--json FILE]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_corpus(path: Path, size_bytes: int) -> int:
    from lexdense.sources import datasets

    articles = [" ".join(t.split()) for t in datasets.news_articles().texts]
    written, lines = 0, 0
    with path.open("w", encoding="utf-8") as handle:
        while written < size_bytes:
            for article in articles:
                line = f"{lines} {article}\n"
                handle.write(line)
                written += len(line.encode("utf-8"))
                lines += 1
                if written >= size_bytes:
                    break
    return lines


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--model", default="lexdense-base")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lexdense-memory-") as tmp:
        source, out = Path(tmp) / "corpus.txt", Path(tmp) / "out.parquet"
        lines = build_corpus(source, args.size_mib * 2**20)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lexdense.cli", "embed", str(source), "--out", str(out),
                        "--model", args.model], check=True, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        report = {"input_mib": round(source.stat().st_size / 2**20, 1), "documents": lines,
                  "seconds": round(seconds, 1), "docs_per_s": round(lines / seconds),
                  "mib_per_s": round(source.stat().st_size / 2**20 / seconds, 1),
                  "peak_rss_mib": round(peak_mib, 1), "output_mib": round(out.stat().st_size / 2**20, 1)}
    print(report)
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
