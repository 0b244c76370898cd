"""Hybrid ranking: a weighted sum of dense and BM25 scores over a candidate pool from both.

For one query the pool is the union of each retriever's top ``depth`` documents (100 by
default); every document of the pool gets both scores (its cosine, its BM25 score, 0 when it
shares no query word), each min-max scaled over the pool to [0, 1], and

    hybrid score = weight * dense' + (1 - weight) * bm25'

so a hybrid score is in [0, 1]: 1 is the best document of the pool on both counts, 0 the
worst. Scores rank the documents of one query; they are not comparable across queries.

The weight, :data:`DENSE_WEIGHT` = 0.5, was chosen on data the eval does not report: the
training halves of BBC news (title -> article) and of the Wikipedia leads (description ->
lead) and 2,000 posts of 20 Newsgroups *train* (first half -> second half), with
lexdense-base. Of 0.3, 0.4, 0.5, 0.6 and 0.7, 0.5 was best on all three; every weight in
0.3..0.7 beat both dense and BM25 on each of them (benchmarks/search.py --tune reruns this).
Reciprocal-rank fusion (the previous hybrid) throws the scores away and, with one retriever
much better than the other, scored below BM25 alone (0.765 against 0.830 nDCG@10 on
NewsArticles title -> article).
"""

from __future__ import annotations

import numpy as np

DENSE_WEIGHT = 0.5
DEPTH = 100


def scale(scores: np.ndarray) -> np.ndarray:
    """Min-max scaled to [0, 1]; equal scores give 1 when positive (all match), else 0."""
    scores = np.asarray(scores, dtype=np.float32)
    if not len(scores):
        return scores
    low, high = float(scores.min()), float(scores.max())
    if high > low:
        return (scores - low) / (high - low)
    return np.full(len(scores), float(high > 0), np.float32)


def fuse(dense: np.ndarray, bm25: np.ndarray, weight: float = DENSE_WEIGHT) -> np.ndarray:
    """Hybrid scores of one query's pool from its documents' cosines and BM25 scores."""
    return (weight * scale(dense) + (1.0 - weight) * scale(bm25)).astype(np.float32)


def pool(dense_rows: np.ndarray, bm25_rows: np.ndarray) -> np.ndarray:
    """The candidate rows: each retriever's top rows, once each, in ascending order."""
    return np.union1d(np.asarray(dense_rows, np.int64), np.asarray(bm25_rows, np.int64))


def top(rows: np.ndarray, dense: np.ndarray, bm25: np.ndarray, k: int,
        weight: float = DENSE_WEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best rows of a pool and their hybrid scores, best first (ties: lower row)."""
    fused = fuse(dense, bm25, weight)
    order = np.lexsort((rows, -fused))[:k]
    return np.asarray(rows, np.int64)[order], fused[order]


def top_rows(scores: np.ndarray, depth: int) -> np.ndarray:
    """Rows of the ``depth`` highest ``scores``, in no particular order."""
    depth = min(depth, len(scores))
    if not depth:
        return np.zeros(0, np.int64)
    best = np.argpartition(-scores, depth - 1)[:depth]
    return best.astype(np.int64)
