"""Search benchmark: ANN recall against exact search, query latency, and dense / BM25 / hybrid
quality on NewsArticles title -> article, all in one run.

    python benchmarks/search.py --rows 100000 --json benchmarks/results/search.json
    python benchmarks/search.py --rows 5000 --queries 100      # smoke size (CI)

The corpus is every packaged text (20NG, healthtweets, fortunes, Reuters, election tweets,
NewsArticles, Debian descriptions) embedded with lexdense-base; queries are 1,000 of those texts
held out of the index.

Two more parts, each on its own:

    python benchmarks/search.py --tune --json benchmarks/results/search_tune.json
    python benchmarks/search.py --retrieval --json benchmarks/results/search_retrieval.json

``--tune`` chooses the hybrid's dense weight (lexdense.search.fusion.DENSE_WEIGHT) on data no
eval task reports: the training halves of BBC news (title -> article) and of the Wikipedia
leads (description -> lead), and 2,000 posts of 20 Newsgroups train (first half -> second
half). ``--retrieval`` reports dense, BM25 and hybrid nDCG@10 on every retrieval task of
``lexdense eval`` (their evaluation data) with the shipped weight.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def corpus_texts(limit: int) -> list[str]:
    from lexdense.sources import datasets

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
    parser.add_argument("--tune", action="store_true", help="only: choose the hybrid weight on training halves")
    parser.add_argument("--retrieval", action="store_true", help="only: dense, BM25, hybrid on the eval's retrieval tasks")
    args = parser.parse_args(argv)
    if args.tune or args.retrieval:
        result = tune_report() if args.tune else retrieval_report()
        return save(result, args.json)

    from lexdense import LexDense
    from lexdense.eval.metrics import ndcg_at_k, recall_at_k
    from lexdense.search import SearchIndex
    from lexdense.sources import datasets

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
    return save(result, args.json)


def save(result: dict, path: str | None) -> dict:
    """Write ``result`` with the command that made it (when a path is given)."""
    import sys

    if path:
        from lexdense.io.atomic import write_json

        write_json(path, {"command": " ".join(["python", "benchmarks/search.py", *sys.argv[1:]]), **result})
    return result


WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)


def tuning_sets():
    """(name, queries, documents, relevant) of the training halves: data no eval task reports."""
    from collections import Counter

    from lexdense.eval.tasks import _halves
    from lexdense.sources import corpora, datasets

    bbc = corpora.bbc_news("train")
    yield "bbc-train-title", bbc.titles, bbc.texts, np.arange(len(bbc.texts))
    leads = corpora.wiki_leads("train")
    counts = Counter(d.lower() for d in leads.descriptions)
    unique = [i for i, d in enumerate(leads.descriptions) if d and counts[d.lower()] == 1]
    yield "wiki-train-description", [leads.descriptions[i] for i in unique], leads.texts, np.asarray(unique)
    train = datasets.newsgroups("train")
    candidates = [i for i, t in enumerate(train.texts) if len(t.split()) >= 40]
    chosen = np.sort(np.random.default_rng(3).choice(candidates, 2000, replace=False))
    halves = [_halves(train.texts[i]) for i in chosen]
    yield "20ng-train-halves", [h[0] for h in halves], [h[1] for h in halves], np.arange(len(chosen))


def weight_ndcg(dense: np.ndarray, lexical: list, relevant: np.ndarray, weight: float) -> float:
    """nDCG@10 of the hybrid with ``weight`` (the pool and fusion of SearchIndex's hybrid)."""
    from lexdense.eval.metrics import ndcg_at_k
    from lexdense.eval.retrieval import DEPTH, ranks_in
    from lexdense.search import fusion

    ranked = []
    for q, scores in enumerate(lexical):
        scores = np.zeros(dense.shape[1], np.float32) if scores is None else scores
        bm25_top = fusion.top_rows(scores, DEPTH)
        rows = fusion.pool(fusion.top_rows(dense[q], DEPTH), bm25_top[scores[bm25_top] > 0])
        ranked.append(fusion.top(rows, dense[q, rows], scores[rows], DEPTH, weight)[0])
    return ndcg_at_k(ranks_in(ranked, relevant, dense.shape[1] + DEPTH + 1), 10)


def tune_report(model_name: str = "lexdense-base") -> dict:
    """nDCG@10 of dense, BM25 and each weight in WEIGHTS on the tuning sets; the best mean wins."""
    from lexdense import LexDense
    from lexdense.search import SearchIndex

    model = LexDense.load(model_name)
    sets = {}
    for name, queries, documents, relevant in tuning_sets():
        query_vectors, document_vectors = model.encode(list(queries)), model.encode(list(documents))
        index = SearchIndex.build(documents, vectors=document_vectors, model=None)
        lexical = index._bm25_scores(list(queries), None)
        dense = query_vectors @ index.vectors.T
        row = {"queries": len(queries), "documents": len(documents),
               "dense": weight_ndcg(dense, lexical, relevant, 1.0), "bm25": weight_ndcg(dense, lexical, relevant, 0.0)}
        row.update({f"weight_{w}": weight_ndcg(dense, lexical, relevant, w) for w in WEIGHTS})
        sets[name] = row
        print(name, " ".join(f"{k} {v:.4f}" for k, v in row.items() if not isinstance(v, int)), flush=True)
    means = {w: float(np.mean([row[f"weight_{w}"] for row in sets.values()])) for w in WEIGHTS}
    best = max(WEIGHTS, key=lambda w: means[w])
    print(f"best dense weight {best} (mean nDCG@10 {means[best]:.4f})")
    return {"model": model_name, "ndcg_at_10": sets, "mean_by_weight": means, "best_weight": best}


def retrieval_report(model_name: str = "lexdense-base") -> dict:
    """Dense, BM25 and hybrid (the shipped weight) on every retrieval task of lexdense eval."""
    from lexdense import LexDense
    from lexdense.eval import evaluate
    from lexdense.eval.tasks import GROUPS
    from lexdense.search import DENSE_WEIGHT
    from lexdense.sources.datasets import DatasetUnavailable

    model = LexDense.load(model_name)
    tasks, skipped = {}, {}
    for name in [n for n in GROUPS["core"] if n.endswith("-retrieval")]:
        try:
            scores = evaluate(model, tasks=[name])["tasks"][name]
        except DatasetUnavailable as error:
            skipped[name] = str(error)
            print(f"{name}: skipped ({error})")
            continue
        tasks[name] = {part: {"ndcg_at_10": scores[f"{prefix}ndcg_at_10"], "recall_at_100": scores[f"{prefix}recall_at_100"]}
                       for part, prefix in (("dense", ""), ("bm25", "bm25_"), ("hybrid", "hybrid_"))}
        ndcg = {part: value["ndcg_at_10"] for part, value in tasks[name].items()}
        tasks[name]["hybrid_beats_both"] = ndcg["hybrid"] >= max(ndcg["dense"], ndcg["bm25"])
        print(f"{name:28s} nDCG@10 dense {ndcg['dense']:.3f}  bm25 {ndcg['bm25']:.3f}  hybrid {ndcg['hybrid']:.3f}")
    return {"model": model_name, "dense_weight": DENSE_WEIGHT, "tasks": tasks, "skipped": skipped}


if __name__ == "__main__":
    main()
