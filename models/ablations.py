"""Ablations behind lexdense-base's recipe, on a smaller budget, same corpus and seed.

Each variant changes one setting of the base recipe (20,000 passages, 4 epochs) and is
scored by benchmarks/quality.py's tasks. Teacher vectors come from the shared cache, so
after `make model` this takes minutes. Writes models/ablations.md.

Usage: python models/ablations.py [--passages 20000] [--epochs 4]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BASE = dict(n_words=32000, n_bigrams=0, oov_rate=0.15, loss="cosine", d_hidden=256, teacher_words=True)
VARIANTS = {
    "base recipe": {},
    "no training (teacher word vectors, SIF-weighted)": {"epochs": 0},
    "loss: Gram-KL (tau=3), Luxical's": {"loss": "gram-kl"},
    "loss: cosine + Gram-KL": {"loss": "cosine+gram-kl"},
    "loss: cosine + in-batch contrastive": {"loss": "cosine+contrastive"},
    "with 10,000 word pairs (zero-initialised rows)": {"n_bigrams": 10000},
    "character n-grams untrained (oov_rate 0)": {"oov_rate": 0.0},
    "no teacher whole words in vocabulary": {"teacher_words": False},
    "hidden layer 1024 wide": {"d_hidden": 1024},
    "hidden layer 2048 wide": {"d_hidden": 2048},
    "learning rate 1e-2": {"lr": 1e-2},
    "60,000 corpus words, 16,384 character rows": {"n_words": 60000, "n_buckets": 16384},
    "plus 3,000 long passages (80-160 words)": {"long_passages": 3000},
    "token rows 384 wide, 16,384 character rows": {"d_embed": 384, "n_buckets": 16384},
}


def load_quality():
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--only", nargs="*", help="names of variants to run")
    args = parser.parse_args()

    from recipe import corpus

    from lexdense.distill import distill

    quality = load_quality()
    tasks = quality.load_tasks()
    documents, _ = corpus()
    rows = []
    for name, change in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        settings = {**BASE, "epochs": args.epochs, **change}
        start = time.perf_counter()
        model = distill("sentence-transformers/all-MiniLM-L6-v2", documents, None, max_passages=args.passages,
                        cache_dir=ROOT / ".cache" / "lexdense", show_progress=False, **settings)
        seconds = time.perf_counter() - start
        scores = quality.evaluate(lambda t: model.encode(t), tasks)
        mean = sum(scores.values()) / len(scores)
        log = model.config["distillation"]
        val = log["log"][-1]["validation_cosine"] if log["log"] else log["validation_cosine_untrained"]
        rows.append((name, scores, mean, val, seconds))
        print(f"{name:55s} " + " ".join(f"{v:.3f}" for v in scores.values()) + f" mean {mean:.3f} val {val:.3f}"
              f" {seconds:.0f}s", flush=True)
    path = ROOT / "models" / "ablations.md"
    table: dict[str, str] = {}
    if args.only and path.is_file():  # keep the rows of variants not rerun
        for line in path.read_text().splitlines():
            if line.startswith("| ") and not line.startswith("| variant"):
                table[line.split(" | ")[0][2:]] = line
    for name, scores, mean, val, seconds in rows:
        table[name] = (f"| {name} | {scores['20ng']:.3f} | {scores['r8']:.3f} | {scores['news-retrieval']:.3f} "
                       f"| {mean:.3f} | {val:.3f} | {seconds:.0f} |")
    lines = ["# Ablations", "", f"`python models/ablations.py --passages {args.passages} --epochs {args.epochs}`: "
             "one setting changed from the base recipe per row; same corpus, seed 0.", "",
             "| variant | 20ng acc | r8 acc | news nDCG@10 | mean | val. cosine to teacher | time (s) |",
             "|---|---|---|---|---|---|---|"]
    lines += [table[name] for name in VARIANTS if name in table]
    path.write_text("\n".join(lines) + "\n")

if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    main()
