"""Near-duplicate detection by embedding similarity.

    from lexdense.dedup import near_duplicates
    result = near_duplicates(texts, threshold=0.98)
    result.keep        # bool mask: one document per duplicate group
    result.group       # group id per document (the row of the document kept for it)

Identical vectors (exact copies) are grouped first, in linear memory; between the distinct
vectors, pairs above the cosine ``threshold`` are found exactly (blocked matrix products) below
``ann_threshold`` rows and with the usearch HNSW graph (``k`` neighbours each) above it. Groups
are the connected components of those pairs (so A~B and B~C put A and C together), and each
group keeps its first document (or its longest, ``keep="longest"``).

Memory stays linear in the corpus however large a group is: each document contributes at
most ``max(k, 64)`` pairs on the exact path (its most similar ones) and ``k`` on the HNSW
path, and every copy of an identical vector contributes one pair (to its first copy); a
group of 10,000 copies is 9,999 pairs, not 50 million.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lexdense import neighbors
from lexdense.errors import InputError
from lexdense.model import DEFAULT_MODEL, as_encoder, unit_rows


@dataclass
class Duplicates:
    """The result of :func:`near_duplicates`, one row per document of the corpus."""

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
        """How many documents are not kept."""
        return int((~self.keep).sum())


def similar_pairs(vectors: np.ndarray, threshold: float, k: int = 10, ann_threshold: int = neighbors.ANN_THRESHOLD,
                  block: int = 2048, max_per_row: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of rows whose cosine is at least ``threshold``, and their cosines.

    Each row keeps at most ``max_per_row`` partners (default ``max(k, 64)``; its most similar
    ones) on the exact path and ``k`` on the HNSW path, so memory is linear in the rows."""
    v = unit_rows(vectors)
    n = len(v)
    cap = max(k, 64) if max_per_row is None else max_per_row
    if n < 2:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    if n < ann_threshold:
        rows, cols, scores = [], [], []
        for start in range(0, n, block):
            sims = v[start:start + block] @ v.T
            local = np.arange(len(sims))
            sims[local, local + start] = -np.inf  # not a pair with itself
            above = sims >= threshold
            counts = above.sum(axis=1)
            if counts.max(initial=0) > cap:  # crowded rows keep their `cap` nearest partners
                crowded = np.nonzero(counts > cap)[0]
                top = np.argpartition(-sims[crowded], cap - 1, axis=1)[:, :cap]
                above[crowded] = False
                above[crowded[:, None], top] = True
            i, j = np.nonzero(above)
            rows.append(i + start)
            cols.append(j)
            scores.append(sims[i, j])
        i, j, s = np.concatenate(rows), np.concatenate(cols), np.concatenate(scores)
    else:
        index = neighbors.hnsw(v.shape[1], expansion_search=max(64, 2 * k))
        neighbors.add(index, v)
        keys, sims = neighbors.search(index, v, min(k + 1, n), n)
        i = np.repeat(np.arange(n), keys.shape[1])
        j, s = keys.ravel(), sims.ravel()
        good = (j < n) & (j != i) & (s >= threshold)
        i, j, s = i[good], j[good], s[good]
    if not len(i):
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    a, b = np.minimum(i, j), np.maximum(i, j)
    pairs, first = np.unique(np.stack([a, b], axis=1), axis=0, return_index=True)
    return pairs.astype(np.int64), s[first].astype(np.float32)


def _collapse_copies(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the first copy of each distinct vector (in row order), and each row's index
    into them. Zero vectors (empty texts) are never copies of each other: their cosine is 0."""
    n = len(vectors)
    raw = np.ascontiguousarray(vectors)
    keys = raw.view(np.dtype((np.void, raw.dtype.itemsize * raw.shape[1]))).ravel()
    _, index, inverse = np.unique(keys, return_index=True, return_inverse=True)
    leader = index[inverse.ravel()]          # first row holding the same vector
    zero = ~np.any(raw, axis=1)
    leader[zero] = np.nonzero(zero)[0]
    firsts = np.nonzero(leader == np.arange(n))[0]
    position = np.full(n, -1, np.int64)
    position[firsts] = np.arange(len(firsts))
    return firsts, position[leader]


def near_duplicates(texts: Sequence[str] | None = None, vectors: np.ndarray | None = None,
                    threshold: float = 0.98, model=DEFAULT_MODEL, keep: str = "first", k: int = 10,
                    ann_threshold: int = neighbors.ANN_THRESHOLD) -> Duplicates:
    """Group near-duplicate documents; see the module docstring.

    Parameters
    ----------
    texts
        documents (embedded with ``model``) unless ``vectors`` are given.
    threshold
        cosine at or above which two documents are duplicates. 0.98 had the best
        F1 on benchmarks/dedup.py (planted casing, whitespace and dropped-sentence copies of
        news and newsgroup posts); lower it for looser paraphrases, at a cost in precision.
    keep
        "first" (lowest row) or "longest" (needs texts) is kept of each group.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not -1.0 <= threshold <= 1.0:
        raise InputError(f"threshold must be a cosine in [-1, 1], got {threshold}")
    if keep not in ("first", "longest"):
        raise InputError(f"unknown keep '{keep}': expected first or longest")
    if vectors is None:
        if texts is None:
            raise InputError("pass texts or vectors")
        vectors = as_encoder(model).encode(list(texts))
    vectors = unit_rows(vectors)
    n = len(vectors)
    if n:
        firsts, copy_of = _collapse_copies(vectors)
        pairs, scores = similar_pairs(vectors[firsts], threshold, k=k, ann_threshold=ann_threshold)
        pairs = firsts[pairs] if len(pairs) else pairs
        copies = np.nonzero(firsts[copy_of] != np.arange(n))[0]
        if len(copies):  # each later copy pairs with the first copy of its vector
            pairs = np.concatenate([pairs, np.stack([firsts[copy_of[copies]], copies], axis=1)])
            scores = np.concatenate([scores, np.ones(len(copies), np.float32)])
            order = np.lexsort((pairs[:, 1], pairs[:, 0]))
            pairs, scores = pairs[order], scores[order]
    else:
        pairs, scores = np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    if keep == "longest":
        if texts is None:
            raise InputError('keep="longest" needs the texts')
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
