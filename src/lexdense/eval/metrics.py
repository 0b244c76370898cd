"""Metrics computed as MTEB computes its main scores (binary relevance where noted)."""

from __future__ import annotations

import numpy as np


def rank_of_relevant(similarities: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """1-based rank of each query's single relevant document (ties count against it).

    Parameters
    ----------
    similarities
        (n_queries, n_docs) scores, higher = better.
    relevant
        (n_queries,) index of the relevant document.
    """
    target = similarities[np.arange(len(relevant)), relevant]
    return (similarities > target[:, None]).sum(axis=1) + 1


def ndcg_at_k(ranks: np.ndarray, k: int = 10) -> float:
    """nDCG@k with one relevant document per query: mean of 1/log2(rank+1) for rank <= k."""
    ranks = np.asarray(ranks, dtype=np.float64)
    gains = np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)
    return float(gains.mean()) if gains.size else 0.0


def recall_at_k(ranks: np.ndarray, k: int = 100) -> float:
    ranks = np.asarray(ranks)
    return float((ranks <= k).mean()) if ranks.size else 0.0
