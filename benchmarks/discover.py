"""Topic discovery benchmark on 20 Newsgroups: lexdense TopicDiscovery on lexdense-base and
on teacher embeddings, and the `bertopic` package on the same precomputed lexdense vectors,
one run; then the time for 100k documents end to end.

    python benchmarks/discover.py --teacher --scale 100000 --json benchmarks/results/discover.json
    python benchmarks/discover.py --quick

Data: the 7,532 20NG test posts (labels used only for scoring). Every pipeline: UMAP (15
neighbours, 5 dimensions, cosine, seed 0), HDBSCAN (min cluster size 15), reduced to 20
topics. Scores: NMI and adjusted Rand index against the 20 newsgroups (outliers count as
one more cluster), topic diversity (unique share of the topics' top-10 keywords), outlier
share. lexdense is run with both outlier policies; BERTopic gets English stop words removed
from its keywords (its documented advice; its default keeps them).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent


def scores(truth, labels, diversity: float, outliers: float, seconds: float) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"nmi": float(normalized_mutual_info_score(truth, labels)), "ari": float(adjusted_rand_score(truth, labels)),
            "diversity": float(diversity), "outliers": float(outliers), "seconds": float(seconds),
            "topics": int(len(set(labels) - {-1}))}


def run_bertopic(texts, vectors, seed: int = 0) -> tuple[np.ndarray, float]:
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    model = BERTopic(embedding_model=None, umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0,
                                                           metric="cosine", random_state=seed),
                     hdbscan_model=HDBSCAN(min_cluster_size=15, prediction_data=True), nr_topics=20,
                     vectorizer_model=CountVectorizer(stop_words="english"),  # as BERTopic's docs advise
                     calculate_probabilities=False, verbose=False)
    labels, _ = model.fit_transform(texts, embeddings=vectors)
    info = model.get_topics()
    words = [w for t, kws in info.items() if t != -1 for w, _ in kws[:10]]
    return np.asarray(labels), len(set(words)) / max(len(words), 1)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--teacher", action="store_true")
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--scale", type=int, default=0, help="also time this many documents end to end")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from lexdense import LexDense
    from lexdense.discover import TopicDiscovery
    from lexdense.sources import datasets

    data = datasets.newsgroups("test")
    texts, truth = data.texts, data.labels
    if args.quick:
        index = np.random.default_rng(0).permutation(len(texts))[:1500]
        texts, truth = [texts[i] for i in index], [truth[i] for i in index]
    model = LexDense.load("lexdense-base")
    start = time.perf_counter()
    vectors = model.encode(texts)
    embed_s = time.perf_counter() - start
    embeddings = {"lexdense-base": (vectors, embed_s)}
    if args.teacher:
        import sys

        sys.path.insert(0, str(ROOT))
        from anomaly import CachedTeacher

        start = time.perf_counter()
        embeddings["all-MiniLM-L6-v2"] = (CachedTeacher().encode(texts), time.perf_counter() - start)
    rows = {}
    for name, (x, seconds) in embeddings.items():
        for policy in ("keep", "reassign"):
            start = time.perf_counter()
            fitted = TopicDiscovery(model=None, n_topics=20, outliers=policy).fit(texts, vectors=x)
            rows[f"lexdense discover on {name} ({policy})"] = scores(
                truth, fitted.labels_, fitted.topic_diversity(), fitted.outlier_share_["final"],
                seconds + time.perf_counter() - start)
    if not args.no_bertopic:
        start = time.perf_counter()
        labels, diversity = run_bertopic(texts, vectors)
        rows["BERTopic on lexdense-base"] = scores(truth, labels, diversity, float((labels < 0).mean()),
                                                   embed_s + time.perf_counter() - start)
    print(f"20 Newsgroups test, {len(texts):,} posts, 20 labels")
    print(f"  {'pipeline':48s} {'NMI':>6s} {'ARI':>6s} {'divers.':>7s} {'outliers':>8s} {'topics':>6s} {'s':>6s}")
    for name, r in rows.items():
        print(f"  {name:48s} {r['nmi']:6.3f} {r['ari']:6.3f} {r['diversity']:7.3f} {r['outliers']:8.1%} "
              f"{r['topics']:6d} {r['seconds']:6.1f}")
    result = {"documents": len(texts), "rows": rows}
    if args.scale:
        sys_path = str(ROOT)
        import sys

        if sys_path not in sys.path:
            sys.path.insert(0, sys_path)
        from search import corpus_texts

        big = corpus_texts(args.scale)
        start = time.perf_counter()
        fitted = TopicDiscovery(model=model, n_topics=50, outliers="reassign").fit(big)
        seconds = time.perf_counter() - start
        result["scale"] = {"documents": len(big), "seconds": seconds, "topics": int(len(fitted.topic_vectors_)),
                           "outliers_clustering": fitted.outlier_share_["clustering"],
                           "outliers_final": fitted.outlier_share_["final"]}
        print(f"{len(big):,} documents end to end (embed, UMAP, HDBSCAN, 50 topics, keywords): {seconds:.0f} s")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
