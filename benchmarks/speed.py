"""Throughput of lexdense against the embedders people use, on the same texts in one run.

Long texts: NewsArticles (3,729 news articles, ~3.6 kB each). Short texts: healthtweets
(63,326 tweets, ~100 B). Every contender runs with its default threading on this machine.
Baselines (named in every ratio):
- the bare bert-base-uncased WordPiece tokenizer (HF `tokenizers`, batch, no truncation):
  the floor of any pipeline that calls it (Luxical and the teacher do);
- model2vec potion-base-8M (`--potion DIR`);
- the Luxical-One architecture (bert-base-uncased tokens, 1..5-grams, 2M n-gram vocabulary
  mined from the texts, 2M->96->3072->3072->192) with random weights, via `luxical`;
- the teacher, all-MiniLM-L6-v2 through sentence-transformers (on a subsample).

Usage: python benchmarks/speed.py [--model lexdense-base] [--potion DIR] [--luxical] [--teacher]
       [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def load_texts(quick: bool) -> dict[str, list[str]]:
    from lexdense.sources import datasets

    long_texts = datasets.news_articles().texts
    short_texts = datasets.health_tweets().texts
    if quick:
        long_texts, short_texts = long_texts[:300], short_texts[:5000]
    return {"long": long_texts, "short": short_texts}


def timed(function, texts: list[str], limit: int | None = None, repeats: int = 2) -> dict:
    """Best of ``repeats`` passes over ``texts[:limit]`` after a warm-up call."""
    sample = texts[:limit] if limit else texts
    function(sample[:64])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(sample)
        best = min(best, time.perf_counter() - start)
    size = sum(len(t.encode("utf-8")) for t in sample)
    return {"docs": len(sample), "seconds": best, "docs_per_s": len(sample) / best,
            "mib_per_s": size / best / 2**20}


def profile_lexdense(model, texts: list[str]) -> dict:
    """Split lexdense's time into packing (Python), the compiled gather-sum, and the MLP."""
    from lexdense.text import kernels
    from lexdense.text.featurizer import pack

    f = model.featurizer
    stages = {"pack_utf8_s": 0.0, "featurize_gather_sum_s": 0.0, "dense_layers_s": 0.0}
    for start in range(0, len(texts), 1024):
        batch = texts[start : start + 1024]
        t0 = time.perf_counter()
        buf, offsets = pack(batch)
        t1 = time.perf_counter()
        out = np.empty((len(batch), model._token_rows.shape[1]), np.float32)
        kernels.embed_sum(buf, offsets, f.keys, f.values, model._token_rows, model._char_rows,
                          f.ngram_range[0], f.ngram_range[1], f.use_bigrams, out)
        t2 = time.perf_counter()
        x = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        h = np.maximum(x @ model._hidden_w + model._hidden_b, 0)
        y = (x + h @ model._back_w) @ model._out_w + model._out_b
        y /= np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
        t3 = time.perf_counter()
        stages["pack_utf8_s"] += t1 - t0
        stages["featurize_gather_sum_s"] += t2 - t1
        stages["dense_layers_s"] += t3 - t2
    total = sum(stages.values())
    return {k: round(v / total, 3) for k, v in stages.items()} | {"total_s": round(total, 3)}


def luxical_one(tokenizer_file: Path, texts: list[str]):
    """The Luxical-One shape with random weights, built through luxical's own API."""
    import numba
    from luxical.embedder import Embedder
    from luxical.ngrams import build_ngram_hash_to_idx_map, space_saving_ngram_summary
    from luxical.sparse_to_dense_neural_nets import SparseToDenseEmbedder
    from luxical.tokenization import load_arrow_tokenizer_from_file
    from numba.typed import Dict as NumbaTypedDict

    tokenizer = load_arrow_tokenizer_from_file(tokenizer_file)
    tokens = tokenizer.tokenize(__import__("pyarrow").array(texts), add_special_tokens=False)
    summary = space_saving_ngram_summary(tokens.to_numpy(zero_copy_only=False), 5, 2_000_000)
    ngrams = summary.ngrams
    if ngrams.shape[0] < 2_000_000:  # pad the vocabulary to Luxical-One's 2M rows
        extra = np.random.default_rng(0).integers(0, 30000, size=(2_000_000 - ngrams.shape[0], 5))
        ngrams = np.vstack([ngrams, extra.astype(ngrams.dtype)])
    table = NumbaTypedDict.empty(key_type=numba.int64, value_type=numba.uint32)
    build_ngram_hash_to_idx_map(ngrams, table)
    idf = np.random.default_rng(0).uniform(1, 10, ngrams.shape[0]).astype(np.float32)
    network = SparseToDenseEmbedder.create([ngrams.shape[0], 96, 3072, 3072, 192])
    return Embedder(tokenizer=tokenizer, recognized_ngrams=ngrams, ngram_hash_to_ngram_idx=table,
                    idf_values=idf, bow_to_dense_embedder=network)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lexdense-base")
    parser.add_argument("--potion", type=Path)
    parser.add_argument("--luxical", action="store_true")
    parser.add_argument("--teacher", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from lexdense import LexDense
    from lexdense.distill.teacher import resolve_teacher

    texts = load_texts(args.quick)
    teacher_dir = Path(resolve_teacher("sentence-transformers/all-MiniLM-L6-v2"))
    results: dict[str, dict] = {}

    def record(name, kind, result):
        results.setdefault(name, {})[kind] = result
        print(f"{name:28s} {kind:5s} {result['docs_per_s']:10,.0f} docs/s {result['mib_per_s']:7.2f} MiB/s",
              flush=True)

    model = LexDense.load(args.model)
    for kind, batch in texts.items():
        record("lexdense", kind, timed(lambda t: model.encode(t, batch_size=2048, show_progress_bar=False), batch, repeats=3))
    profile = {kind: profile_lexdense(model, batch) for kind, batch in texts.items()}

    from tokenizers import Tokenizer

    wordpiece = Tokenizer.from_file(str(teacher_dir / "tokenizer.json"))
    wordpiece.no_truncation()
    wordpiece.no_padding()
    for kind, batch in texts.items():
        record("wordpiece tokenizer alone", kind,
               timed(lambda t: wordpiece.encode_batch_fast(t, add_special_tokens=False), batch, repeats=3))
    if args.potion:
        from model2vec import StaticModel

        potion = StaticModel.from_pretrained(str(args.potion))
        for kind, batch in texts.items():
            record("potion-base-8M", kind, timed(lambda t: potion.encode(t, batch_size=2048, show_progress_bar=False), batch, repeats=3))
    if args.luxical:
        lux = luxical_one(teacher_dir / "tokenizer.json", texts["long"] + texts["short"])
        for kind, batch in texts.items():
            limit = 600 if kind == "long" else 10000
            record("Luxical-One shape (random)", kind, timed(lambda t: lux(t, batch_size=2000), batch,
                                                             limit=limit, repeats=1))
        del lux
    if args.teacher:
        from sentence_transformers import SentenceTransformer

        teacher = SentenceTransformer(str(teacher_dir), device="cpu")
        for kind, batch in texts.items():
            limit = 100 if kind == "long" else 1000
            record("all-MiniLM-L6-v2 (teacher)", kind,
                   timed(lambda t: teacher.encode(t, batch_size=64), batch, limit=limit, repeats=1))

    ratios = {}
    for name, kinds in results.items():
        if name == "lexdense":
            continue
        ratios[f"lexdense / {name}"] = {k: round(results["lexdense"][k]["docs_per_s"] / v["docs_per_s"], 2)
                                        for k, v in kinds.items()}
    print("\nratios (docs/s of lexdense over each baseline, same texts, same run):")
    for name, values in ratios.items():
        print(f"  {name:40s} " + "  ".join(f"{k}: {v:.2f}x" for k, v in values.items()))
    print("\nwhere lexdense's time goes (share of encode time):")
    for kind, shares in profile.items():
        print(f"  {kind}: " + ", ".join(f"{k}={v}" for k, v in shares.items()))
    report = {"quick": args.quick, "results": results, "ratios": ratios, "lexdense_profile": profile,
              "machine": {"cpus": __import__("os").cpu_count()}}
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
