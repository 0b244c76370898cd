"""What the word-pair lookup in the kernel's hot loop costs (issue 13).

The shipped model keeps no word pairs (``use_bigrams: false``: distill writes it only when it
kept pairs), so turning the lookup on changes no vector, only the time. Both settings run on
the same model and texts in one process, alternating, median of ``--repeats`` passes.

Usage: python benchmarks/pair_lookups.py [--repeats 7] [--json FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np


def main() -> None:
    from lexdense import LexDense
    from lexdense.sources import datasets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    model = LexDense.load()
    texts = datasets.news_articles().texts
    model.encode(texts[:64])
    seconds: dict[bool, list[float]] = {False: [], True: []}
    vectors = {}
    for _ in range(args.repeats):
        for pairs in (False, True):
            model.featurizer.use_bigrams = pairs
            start = time.perf_counter()
            vectors[pairs] = model.encode(texts)
            seconds[pairs].append(time.perf_counter() - start)
    result = {
        "texts": f"NewsArticles, {len(texts):,} articles",
        "docs_per_s_without_pair_lookups": round(len(texts) / float(np.median(seconds[False]))),
        "docs_per_s_with_pair_lookups": round(len(texts) / float(np.median(seconds[True]))),
        "same_vectors": bool(np.array_equal(vectors[False], vectors[True])),
        "repeats": args.repeats,
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    }
    result["speedup"] = round(result["docs_per_s_without_pair_lookups"] / result["docs_per_s_with_pair_lookups"], 3)
    print(result)
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, result)


if __name__ == "__main__":
    main()
