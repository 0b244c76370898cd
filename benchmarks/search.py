"""Search benchmark: ANN recall against exact search, query latency, and dense / BM25 / hybrid
quality on NewsArticles title -> article, all in one run.

    python benchmarks/search.py --rows 100000 --json benchmarks/results/search.json
    python benchmarks/search.py --rows 5000 --queries 100      # smoke size (CI)

The corpus is every packaged text (20NG, healthtweets, fortunes, Reuters, election tweets,
NewsArticles, Debian descriptions) embedded with lexdense-base; queries are 1,000 of those texts
held out of the index.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def corpus_texts(limit: int) -> list[str]:
    from lexdense.io import datasets

    texts: list[str] = []
    loaders = [lambda: datasets.health_tweets().texts, lambda: datasets.newsgroups("train").texts,
               lambda: datasets.newsgroups("test").texts, lambda: datasets.reuters("train").texts,
               lambda: datasets.election_tweets().texts, lambda: datasets.fortunes().texts,
               lambda: datasets.debian_descriptions()]
    for load in loaders:
        try:
            texts.extend(load())
        except Exception:  # a missing optional source only makes the corpus smaller
            continue
        if len(texts) >= limit:
            break
    return list(dict.fromkeys(t for t in texts if t.strip()))[:limit]


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q) * 1000)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args(argv)

    from lexdense import LexDense
    from lexdense.eval.metrics import ndcg_at_k, recall_at_k
    from lexdense.io import datasets
    from lexdense.search import SearchIndex

    model = LexDense.load("lexdense-base")
    texts = corpus_texts(args.rows + args.queries)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))
    query_texts = [texts[i] for i in order[: args.queries]]
    doc_texts = [texts[i] for i in order[args.queries:]]
    start = time.perf_counter()
    vectors = model.encode(doc_texts, batch_size=4096)
    embed_s = time.perf_counter() - start
    index = SearchIndex.build(doc_texts, vectors=vectors, model=model, ann_threshold=0, bm25=False)
    start = time.perf_counter()
    index._grow_ann()
    hnsw_s = time.perf_counter() - start
    query_vectors = model.encode(query_texts)

    exact = index.search(query_vectors, k=10, exact=True)
    approx = index.search(query_vectors, k=10, exact=False)
    recall = float(np.mean([len({h["row"] for h in a} & {h["row"] for h in e}) / max(len(e), 1)
                            for a, e in zip(approx, exact)]))

    latency = {}
    for name, exact_flag in (("exact", True), ("ann", False)):
        samples = []
        for q in query_texts[:300]:
            t0 = time.perf_counter()
            index.search(q, k=10, exact=exact_flag, columns=[])
            samples.append(time.perf_counter() - t0)
        latency[name] = {"p50_ms": percentile_ms(samples, 50), "p99_ms": percentile_ms(samples, 99)}

    news = datasets.news_articles()
    news_index = SearchIndex.build(news.texts, model=model)
    quality = {}
    for mode in ("dense", "bm25", "hybrid"):
        hits = news_index.search(news.titles, k=100, mode=mode, columns=[])
        ranks = np.array([next((r for r, h in enumerate(hs, 1) if h["row"] == i), len(news.texts) + 1)
                          for i, hs in enumerate(hits)])
        quality[mode] = {"ndcg_at_10": ndcg_at_k(ranks, 10), "recall_at_100": recall_at_k(ranks, 100)}

    result = {"rows": len(doc_texts), "queries": len(query_texts), "dim": int(vectors.shape[1]),
              "embed_s": embed_s, "hnsw_build_s": hnsw_s, "ann_recall_at_10": recall, "latency": latency,
              "news_title_retrieval": quality}
    print(f"index: {len(doc_texts):,} docs embedded in {embed_s:.1f} s, HNSW (usearch, M=16, ef 128) built in {hnsw_s:.1f} s")
    print(f"ANN recall@10 against exact search over {len(query_texts):,} held-out queries: {recall:.3f}")
    for name, value in latency.items():
        print(f"{name:5s} query latency (embed + search, one query): p50 {value['p50_ms']:.2f} ms, p99 {value['p99_ms']:.2f} ms")
    print("NewsArticles title -> article (3,729 articles):")
    for mode, value in quality.items():
        print(f"  {mode:6s} nDCG@10 {value['ndcg_at_10']:.3f}  recall@100 {value['recall_at_100']:.3f}")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
