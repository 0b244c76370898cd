"""Nearest neighbours by cosine: the one place that sets up the approximate (usearch HNSW)
graph that search indexes and near-duplicate detection share. Exact search stays a matrix
product in each caller (it is a line of numpy there, with the caller's own filtering)."""

from __future__ import annotations

import numpy as np

ANN_THRESHOLD = 20_000  # below this many rows, exact search is faster than building a graph


def hnsw(ndim: int, expansion_search: int = 128):
    """An empty usearch HNSW index over unit float32 vectors (cosine), with the settings both
    workflows were tuned with: 16 links a node, 128 candidates when adding."""
    from usearch.index import Index

    return Index(ndim=int(ndim), metric="cos", dtype="f32", connectivity=16, expansion_add=128,
                 expansion_search=int(expansion_search))


def add(index, vectors: np.ndarray, first_key: int = 0) -> None:
    """Add rows as keys ``first_key, first_key + 1, ...`` (all cores)."""
    keys = np.arange(first_key, first_key + len(vectors), dtype=np.uint64)
    index.add(keys, np.ascontiguousarray(vectors, dtype=np.float32), threads=0)


def search(index, queries: np.ndarray, k: int, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cosine similarities), each (queries, k), best first; rows >= ``n_rows`` are
    usearch's padding where fewer than ``k`` neighbours were found (callers drop them)."""
    matches = index.search(np.ascontiguousarray(queries, dtype=np.float32), int(k), threads=0)
    rows = np.atleast_2d(matches.keys).astype(np.int64)
    rows[rows < 0] = n_rows  # a missing result's sentinel key, whatever its sign after the cast
    return rows, 1.0 - np.atleast_2d(matches.distances)
