"""Near-duplicate benchmark: lexdense embeddings against MinHash LSH (`datasketch`) on planted
duplicates mixed into a real corpus, one run.

    python benchmarks/dedup.py --json benchmarks/results/dedup.json
    python benchmarks/dedup.py --quick

Corpus: 20 Newsgroups test posts and NewsArticles (seed 0). Planted: copies of randomly chosen
documents with >= 4 sentences, each lightly perturbed by one of: casing changed, whitespace
changed, one sentence dropped, or all three. Truth: each (original, copy) pair. A predicted
pair is any two documents put in one group; precision and recall are over pairs, so natural
duplicates already in the corpus (20NG cross-posts) count against both methods alike.
MinHash: 128 permutations over lowercased word 3-gram shingles, LSH at the Jaccard threshold.
"""

from __future__ import annotations

import argparse
import re
import time
from itertools import combinations

import numpy as np


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def perturb(text: str, how: str, rng: np.random.Generator) -> str:
    if how in ("drop", "all"):
        parts = sentences(text)
        del parts[int(rng.integers(len(parts)))]
        text = " ".join(parts)
    if how in ("case", "all"):
        text = text.upper() if rng.random() < 0.5 else text.lower()
    if how in ("space", "all"):
        words = text.split()
        text = "".join(w + ("\n" if rng.random() < 0.1 else "  " if rng.random() < 0.3 else " ") for w in words)
    return text


def planted_corpus(quick: bool, seed: int = 0):
    from lexdense.sources import datasets

    texts = datasets.newsgroups("test").texts + datasets.news_articles().texts
    texts = [t for t in dict.fromkeys(texts) if t.strip()]
    rng = np.random.default_rng(seed)
    if quick:
        texts = [texts[i] for i in np.sort(rng.choice(len(texts), 2000, replace=False))]
    eligible = [i for i, t in enumerate(texts) if len(sentences(t)) >= 4]
    chosen = rng.choice(eligible, 100 if quick else 1000, replace=False)
    kinds = ["case", "space", "drop", "all"]
    truth, planted = set(), []
    for k, original in enumerate(chosen):
        planted.append(perturb(texts[original], kinds[k % 4], rng))
        truth.add((int(original), len(texts) + k))
    return texts + planted, truth


def group_pairs(groups: np.ndarray) -> set:
    members: dict[int, list[int]] = {}
    for row, group in enumerate(groups.tolist()):
        members.setdefault(group, []).append(row)
    return {pair for rows in members.values() if len(rows) > 1 for pair in combinations(rows, 2)}


def score(predicted: set, truth: set) -> dict:
    hit = len(predicted & truth)
    precision = hit / len(predicted) if predicted else 1.0
    recall = hit / len(truth)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1, "pairs": len(predicted)}


def minhash_groups(texts: list[str], threshold: float, signatures=None):
    from datasketch import MinHash, MinHashLSH
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if signatures is None:
        signatures = []
        for text in texts:
            words = text.lower().split()
            shingles = {" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))}
            m = MinHash(num_perm=128, seed=1)
            m.update_batch([s.encode("utf-8") for s in shingles])
            signatures.append(m)
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    for i, m in enumerate(signatures):
        lsh.insert(i, m)
    a, b = [], []
    for i, m in enumerate(signatures):
        for j in lsh.query(m):
            if j > i and m.jaccard(signatures[j]) >= threshold:
                a.append(i)
                b.append(j)
    n = len(texts)
    _, component = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    return component, signatures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-minhash", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from lexdense import LexDense
    from lexdense.dedup import near_duplicates

    texts, truth = planted_corpus(args.quick)
    print(f"{len(texts):,} documents, {len(truth):,} planted near-duplicates")
    results: dict[str, dict] = {"documents": len(texts), "planted": len(truth), "lexdense": {}, "minhash": {}}
    model = LexDense.load("lexdense-base")
    start = time.perf_counter()
    vectors = model.encode(texts)
    embed_s = time.perf_counter() - start
    for threshold in (0.9, 0.95, 0.97, 0.98, 0.99):
        start = time.perf_counter()
        found = near_duplicates(vectors=vectors, threshold=threshold)
        seconds = embed_s + time.perf_counter() - start
        results["lexdense"][str(threshold)] = {**score(group_pairs(found.group), truth), "seconds": seconds}
    if not args.no_minhash:
        signatures = None
        sign_s = 0.0
        for threshold in (0.5, 0.7, 0.8, 0.9):
            start = time.perf_counter()
            groups, fresh = minhash_groups(texts, threshold, signatures)
            seconds = time.perf_counter() - start
            if signatures is None:
                signatures, sign_s = fresh, seconds
            else:
                seconds += sign_s
            results["minhash"][str(threshold)] = {**score(group_pairs(groups), truth), "seconds": seconds}
    print(f"{'method':10s} {'threshold':>9s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'pairs':>6s} {'seconds':>8s}")
    for method in ("lexdense", "minhash"):
        for threshold, r in results[method].items():
            print(f"{method:10s} {threshold:>9s} {r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:6.3f} "
                  f"{r['pairs']:6d} {r['seconds']:8.1f}")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
