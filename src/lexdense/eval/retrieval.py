"""Retrieval tasks: each query has one relevant document among ``documents``.

An embedder is scored by cosine ranking; beside its figures the task reports BM25 and the
hybrid of both, ranked by :class:`lexdense.search.SearchIndex` exactly as ``lexdense search
--mode bm25|hybrid`` ranks (same tokenizer, BM25 parameters, candidate pool and weights), so
the eval says whether the hybrid beats both of its parts on every retrieval task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lexdense.eval.metrics import ndcg_at_k, rank_of_relevant, recall_at_k
from lexdense.eval.protocols import _dense, _normalize

DEPTH = 100  # ranks beyond a ranker's top 100 count as misses


def figures(ranks: np.ndarray, prefix: str = "") -> dict:
    """nDCG@10, recall@100 and MRR@10 of the 1-based ranks of the relevant documents."""
    return {f"{prefix}ndcg_at_10": ndcg_at_k(ranks, 10), f"{prefix}recall_at_100": recall_at_k(ranks, DEPTH),
            f"{prefix}mrr_at_10": float(np.where(ranks <= 10, 1.0 / ranks, 0.0).mean())}


def ranks_in(top: list[list[int]] | np.ndarray, relevant: np.ndarray, misses: int) -> np.ndarray:
    """1-based rank of each query's relevant document in its ranked list; ``misses`` when absent."""
    out = np.full(len(relevant), misses, np.int64)
    for query, rows in enumerate(top):
        found = np.flatnonzero(np.asarray(rows) == relevant[query])
        if len(found):
            out[query] = found[0] + 1
    return out


@dataclass
class Retrieval:
    """nDCG@10 (main score), recall@100 and MRR@10 of the cosine ranking of an encoder's
    vectors; for a dense encoder also ``bm25_*`` and ``hybrid_*`` (the hybrid fuses this
    encoder's cosines with BM25). A ranker (``search(queries, documents, k)``, the BM25
    baseline) is scored on its own top 100.
    """

    name: str
    queries: list[str]
    documents: list[str]
    relevant: np.ndarray
    kind: str = "retrieval"

    def run(self, encode) -> dict:
        relevant = np.asarray(self.relevant)
        misses = max(len(self.documents), DEPTH) + 1  # not in a top 100: no credit at 10 or 100
        search = getattr(encode, "search", None)
        if search is not None:
            ranks = ranks_in(np.asarray(search(self.queries, self.documents, DEPTH)), relevant, misses)
            return {"main_score": ndcg_at_k(ranks, 10), **figures(ranks)}
        queries, documents = _normalize(encode(self.queries)), _normalize(encode(self.documents))
        ranks = rank_of_relevant(_dense(queries @ documents.T), relevant)
        scores = {"main_score": ndcg_at_k(ranks, 10), **figures(ranks)}
        if isinstance(queries, np.ndarray):  # sparse vectors (TF-IDF) are lexical already: no hybrid
            scores.update(self.lexical_and_hybrid(queries, documents, relevant, misses))
        return scores

    def lexical_and_hybrid(self, query_vectors: np.ndarray, document_vectors: np.ndarray,
                           relevant: np.ndarray, misses: int) -> dict:
        """``bm25_*`` and ``hybrid_*`` figures from a SearchIndex of the documents' vectors
        (exact dense search, so the hybrid's dense half is the cosine ranking above)."""
        from lexdense.search import SearchIndex

        index = SearchIndex.build(self.documents, vectors=document_vectors, model=None,
                                  ann_threshold=len(self.documents) + 1)
        out = {}
        for mode in ("bm25", "hybrid"):
            hits = index.search(self.queries, k=DEPTH, mode=mode, columns=[], passages=False,
                                query_vectors=query_vectors if mode == "hybrid" else None)
            out.update(figures(ranks_in([[hit["row"] for hit in q] for q in hits], relevant, misses), f"{mode}_"))
        return out
