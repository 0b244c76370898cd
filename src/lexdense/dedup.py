"""Near-duplicate detection by embedding similarity.

    from lexdense.dedup import near_duplicates
    result = near_duplicates(texts, threshold=0.98)
    result.keep        # bool mask: one document per duplicate group
    result.group       # group id per document (the row of the document kept for it)

Pairs above the cosine ``threshold`` are found exactly (blocked matrix products) below
``ann_threshold`` rows and with the usearch HNSW graph (``k`` neighbours each) above it; groups
are the connected components of those pairs (so A~B and B~C put A and C together), and each
group keeps its first document (or its longest, ``keep="longest"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lexdense.model import as_encoder, unit_rows


@dataclass
class Duplicates:
    group: np.ndarray        # (n,) row of the kept document of each document's group
    keep: np.ndarray         # (n,) True for documents to keep
    similarity: np.ndarray   # (n,) cosine to the kept document (1 for kept ones)
    pairs: np.ndarray        # (m, 2) rows i < j with cosine >= threshold
    pair_scores: np.ndarray  # (m,)

    @property
    def n_groups(self) -> int:
        """Groups with at least two documents."""
        return int(np.sum(np.bincount(self.group, minlength=len(self.group)) > 1))

    @property
    def n_removed(self) -> int:
        return int((~self.keep).sum())


def similar_pairs(vectors: np.ndarray, threshold: float, k: int = 10, ann_threshold: int = 20_000,
                  block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of rows whose cosine is at least ``threshold``, and their cosines."""
    v = unit_rows(vectors)
    n = len(v)
    rows, cols, scores = [], [], []
    if n < ann_threshold:
        for start in range(0, n, block):
            sims = v[start:start + block] @ v.T
            i, j = np.nonzero(sims >= threshold)
            i = i + start
            upper = j > i
            rows.append(i[upper]); cols.append(j[upper]); scores.append(sims[i[upper] - start, j[upper]])
    else:
        from usearch.index import Index

        index = Index(ndim=v.shape[1], metric="cos", dtype="f32", connectivity=16, expansion_add=128,
                      expansion_search=max(64, 2 * k))
        index.add(np.arange(n, dtype=np.uint64), v, threads=0)
        matches = index.search(v, min(k + 1, n), threads=0)
        keys = np.atleast_2d(matches.keys).astype(np.int64)
        sims = 1.0 - np.atleast_2d(matches.distances)
        i = np.repeat(np.arange(n), keys.shape[1])
        j, s = keys.ravel(), sims.ravel()
        good = (j < n) & (j != i) & (s >= threshold)
        i, j, s = i[good], j[good], s[good]
        a, b = np.minimum(i, j), np.maximum(i, j)
        pairs, first = np.unique(np.stack([a, b], axis=1), axis=0, return_index=True)
        return pairs, s[first].astype(np.float32)
    if not rows:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    pairs = np.stack([np.concatenate(rows), np.concatenate(cols)], axis=1).astype(np.int64)
    return pairs, np.concatenate(scores).astype(np.float32)


def near_duplicates(texts: Sequence[str] | None = None, vectors: np.ndarray | None = None,
                    threshold: float = 0.98, model="lexdense-base", keep: str = "first", k: int = 10,
                    ann_threshold: int = 20_000) -> Duplicates:
    """Group near-duplicate documents; see the module docstring.

    :param texts: documents (embedded with ``model``) unless ``vectors`` are given.
    :param threshold: cosine at or above which two documents are duplicates. 0.98 had the best
        F1 on benchmarks/dedup.py (planted casing, whitespace and dropped-sentence copies of
        news and newsgroup posts); lower it for looser paraphrases, at a cost in precision.
    :param keep: "first" (lowest row) or "longest" (needs texts) is kept of each group.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a cosine in [-1, 1], got {threshold}")
    if keep not in ("first", "longest"):
        raise ValueError(f"unknown keep '{keep}': expected first or longest")
    if vectors is None:
        if texts is None:
            raise ValueError("pass texts or vectors")
        vectors = as_encoder(model).encode(list(texts))
    vectors = unit_rows(vectors)
    n = len(vectors)
    pairs, scores = similar_pairs(vectors, threshold, k=k, ann_threshold=ann_threshold)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    if keep == "longest":
        if texts is None:
            raise ValueError('keep="longest" needs the texts')
        priority = -np.asarray([len(t or "") for t in texts])
    else:
        priority = np.zeros(n)
    order = np.lexsort((np.arange(n), priority, component))  # by component, then priority, then row
    leaders = np.full(component.max() + 1 if n else 0, -1, dtype=np.int64)
    for row in order:
        if leaders[component[row]] < 0:
            leaders[component[row]] = row
    group = leaders[component] if n else np.zeros(0, np.int64)
    keep_mask = group == np.arange(n)
    similarity = np.einsum("ij,ij->i", vectors, vectors[group]) if n else np.zeros(0, np.float32)
    return Duplicates(group=group, keep=keep_mask, similarity=similarity.astype(np.float32),
                      pairs=pairs, pair_scores=scores)
