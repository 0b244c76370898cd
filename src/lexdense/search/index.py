"""The index users meet: :class:`SearchIndex` (add, search, save, load).

Dense search is exact (a matrix product) or approximate (usearch HNSW) by size; BM25 is
``bm25s``; hybrid is :mod:`lexdense.search.fusion`; a hit's best passage is
:mod:`lexdense.search.passages`; the directory on disk is :mod:`lexdense.search.store`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lexdense import neighbors
from lexdense.errors import InputError, InputTypeError
from lexdense.io.readers import as_text, concat_tables
from lexdense.messages import one_line
from lexdense.model import DEFAULT_MODEL, as_encoder, unit_rows
from lexdense.search import fusion, store
from lexdense.search.passages import best_passages
from lexdense.search.validate import IndexError_

_NO_HITS = (np.zeros(0, np.int64), np.zeros(0, np.float32))


class SearchIndex:
    """Vectors, texts and metadata with exact, ANN, BM25 and hybrid search.

    Parameters
    ----------
    ann_threshold
        at or above this many rows searches use the usearch HNSW graph;
        below it, exact search (a matrix product) is both faster and exact.
    """

    def __init__(self, model=DEFAULT_MODEL, ann_threshold: int = neighbors.ANN_THRESHOLD, bm25: bool = True):
        self.model = as_encoder(model)  # None: vectors only
        self.model_name = (model if isinstance(model, str) else
                           getattr(self.model, "config", {}).get("name") if self.model is not None else None)
        self.ann_threshold = int(ann_threshold)
        self.use_bm25 = bool(bm25)
        self._chunks: list[np.ndarray] = []  # vectors added, joined on first use
        self._rows = 0
        self.table: pa.Table | None = None  # text + metadata, one row per vector
        self.path: Path | None = None
        self.parts: list[str] = []
        self._new_tables: list[pa.Table] = []  # rows added since the last save
        self._ann = None
        self._ann_rows = 0
        self._bm25 = None
        self.generation = 0

    # -- building ---------------------------------------------------------------------
    @classmethod
    def build(cls, texts: Sequence[str], metadata: Mapping[str, Sequence] | pa.Table | None = None,
              vectors: np.ndarray | None = None, model=DEFAULT_MODEL, **options) -> SearchIndex:
        """An index of ``texts`` (embedded with ``model`` unless ``vectors`` are given)."""
        index = cls(model=None if vectors is not None and model == DEFAULT_MODEL else model, **options)
        index.add(texts, metadata=metadata, vectors=vectors)
        return index

    def __len__(self) -> int:
        return self._rows

    @property
    def vectors(self) -> np.ndarray:
        """(rows, dim) unit vectors; batches added one by one are joined once, on first use."""
        if len(self._chunks) != 1:
            self._chunks = [np.concatenate(self._chunks) if self._chunks else np.zeros((0, 0), np.float32)]
        return self._chunks[0]

    @vectors.setter
    def vectors(self, value: np.ndarray) -> None:
        self._chunks, self._rows = [value], len(value)

    def add(self, texts: Sequence[str], metadata: Mapping[str, Sequence] | pa.Table | None = None,
            vectors: np.ndarray | None = None, batch_size: int = 4096, show_progress_bar: bool = False) -> None:
        """Append documents; the ANN graph grows in place, BM25 statistics are recomputed."""
        texts = ["" if t is None else t for t in texts]
        if any(not isinstance(t, str) for t in texts):
            raise InputTypeError("texts must be strings")
        if vectors is None:
            if self.model is None:
                raise InputError("this index has no model: pass vectors=")
            vectors = self.model.encode(texts, batch_size=batch_size, show_progress_bar=show_progress_bar)
        vectors = unit_rows(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise InputError(f"vectors must be ({len(texts)}, dim), got {vectors.shape}")
        if len(self) and vectors.shape[1] != self._chunks[0].shape[1]:
            raise InputError(f"vectors have dim {vectors.shape[1]}, the index has {self._chunks[0].shape[1]}")
        table = pa.table({"text": pa.array(texts, pa.string())})
        if metadata is not None:
            columns = metadata if isinstance(metadata, pa.Table) else pa.table(dict(metadata))
            if columns.num_rows != len(texts):
                raise InputError(f"metadata has {columns.num_rows} rows for {len(texts)} texts")
            for name in columns.column_names:
                if name in ("text", "embedding"):
                    continue
                column = columns.column(name)
                if hasattr(pa, "string_view") and column.type in (pa.string_view(), pa.binary_view()):
                    # view types have no take kernel (hits, filters): store them as plain strings
                    column = column.cast(pa.string() if column.type == pa.string_view() else pa.binary())
                table = table.append_column(name, column)
        if self.table is not None and self.table.num_rows:
            table = _align(table, self.table.schema)
            self.table = concat_tables([self.table, table])
        else:
            self.table = table
        self._new_tables.append(table.append_column(
            "embedding", pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])))
        self._chunks = [vectors] if not len(self) else self._chunks + [vectors]
        self._rows += len(vectors)
        self._bm25 = None
        if self._ann is not None:
            self._grow_ann()

    # -- search -----------------------------------------------------------------------
    def _mask(self, where: Mapping[str, object] | None) -> np.ndarray | None:
        if not where:
            return None
        mask = np.ones(len(self), dtype=bool)
        for column, wanted in where.items():
            if column not in self.table.column_names:
                raise InputError(f"unknown filter column '{column}': expected one of "
                                 f"{', '.join(self.table.column_names)}")
            values = self.table.column(column)
            wanted_list = list(wanted) if isinstance(wanted, (list, tuple, set)) else [wanted]
            if not pa.types.is_string(values.type):  # numbers, lists, structs: compared as their text
                values = as_text(values)
                wanted_list = [str(w) for w in wanted_list]
            hit = pc.is_in(values, value_set=pa.array(wanted_list, type=values.type))
            mask &= hit.to_numpy(zero_copy_only=False).astype(bool)
        return mask

    def _grow_ann(self) -> None:
        if self._ann is None:
            self._ann = neighbors.hnsw(self.vectors.shape[1])
            self._ann_rows = 0
        if self._ann_rows < len(self):
            neighbors.add(self._ann, self.vectors[self._ann_rows:], first_key=self._ann_rows)
            self._ann_rows = len(self)

    def _dense(self, query_vectors: np.ndarray, k: int, mask: np.ndarray | None, exact: bool | None):
        """(rows, scores) per query, best first."""
        n = len(self)
        allowed = np.flatnonzero(mask) if mask is not None else None
        candidates = n if allowed is None else len(allowed)
        use_ann = candidates >= self.ann_threshold if exact is None else not exact
        if use_ann and n:
            self._grow_ann()
            fetch = min(n, k if allowed is None else int(min(n, max(4 * k, k * 2 * n / max(candidates, 1)))))
            keys, similarities = neighbors.search(self._ann, query_vectors, fetch, n)
            out = []
            for q in range(len(query_vectors)):
                rows, sims = keys[q], similarities[q]
                good = rows < n  # usearch pads missing results with a sentinel key
                rows, sims = rows[good], sims[good]
                if allowed is not None:
                    keep = mask[rows]
                    rows, sims = rows[keep], sims[keep]
                if len(rows) < min(k, candidates):  # the filter ate the neighbours: exact on the subset
                    out.append(self._exact(query_vectors[q:q + 1], k, allowed)[0])
                else:
                    out.append((rows[:k], sims[:k]))
            return out
        return self._exact(query_vectors, k, allowed)

    def _exact(self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None):
        base = self.vectors if allowed is None else self.vectors[allowed]
        if not len(base):
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in query_vectors]
        scores = query_vectors @ base.T
        k = min(k, base.shape[0])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out = []
        for q in range(len(query_vectors)):
            order = top[q][np.argsort(-scores[q, top[q]], kind="stable")]
            rows = order if allowed is None else allowed[order]
            out.append((rows.astype(np.int64), scores[q, order]))
        return out

    def _bm25_index(self):
        if self._bm25 is None:
            import bm25s

            tokens = bm25s.tokenize(self.table.column("text").to_pylist(), stopwords="en", show_progress=False)
            if not tokens.vocab:  # no indexable word anywhere: BM25 finds nothing
                self._bm25 = False
                return None
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
            self._bm25 = retriever
        return self._bm25 or None

    def _bm25_scores(self, queries: list[str], mask: np.ndarray | None) -> list[np.ndarray | None]:
        """Per query the BM25 score of every row (-inf outside ``mask``); None when BM25 can
        match nothing (no indexable word in the index or in the query)."""
        import bm25s

        retriever = self._bm25_index()
        if retriever is None:
            return [None for _ in queries]
        out: list[np.ndarray | None] = []
        for words in bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False):
            if not words:
                out.append(None)
                continue
            scores = np.asarray(retriever.get_scores(words), dtype=np.float32)
            out.append(scores if mask is None else np.where(mask, scores, -np.inf))
        return out

    @staticmethod
    def _matching(scores: np.ndarray | None, k: int) -> np.ndarray:
        """The ``k`` best rows by BM25, best first; rows sharing no query word are not results."""
        if scores is None:
            return _NO_HITS[0]
        top = fusion.top_rows(scores, k)
        top = top[np.argsort(-scores[top], kind="stable")]
        return top[scores[top] > 0]

    def _lexical(self, queries: list[str], k: int, mask: np.ndarray | None):
        out = []
        for scores in self._bm25_scores(queries, mask):
            rows = self._matching(scores, k)
            out.append((rows, scores[rows] if scores is not None else _NO_HITS[1]))
        return out

    def _hybrid(self, query_vectors: np.ndarray, queries: list[str], k: int, mask: np.ndarray | None,
                exact: bool | None):
        """Dense and BM25 scores summed with weights over the pool of both top lists
        (:mod:`lexdense.search.fusion`)."""
        depth = max(fusion.DEPTH, k)
        dense_top = self._dense(query_vectors, depth, mask, exact)
        out = []
        for query_vector, (dense_rows, _), scores in zip(query_vectors, dense_top, self._bm25_scores(queries, mask)):
            rows = fusion.pool(dense_rows, self._matching(scores, depth))
            if not len(rows):
                out.append(_NO_HITS)
                continue
            lexical = scores[rows] if scores is not None else np.zeros(len(rows), np.float32)
            out.append(fusion.top(rows, self.vectors[rows] @ query_vector, lexical, k))
        return out

    def search(self, queries: str | Sequence[str] | np.ndarray, k: int = 10, mode: str = "dense",
               where: Mapping[str, object] | None = None, exact: bool | None = None,
               columns: Sequence[str] | None = None, passages: bool = True,
               query_vectors: np.ndarray | None = None) -> list[dict] | list[list[dict]]:
        """Top ``k`` documents for each query.

        Parameters
        ----------
        queries
            a string, a list of strings, or query vectors (dense mode only).
        mode
            "dense" (score: cosine), "bm25" (score: BM25) or "hybrid" (score: in
            [0, 1], the weighted sum of both, each min-max scaled over the query's pool of
            candidates from both retrievers; :mod:`lexdense.search.fusion`).
        where
            metadata filter, column -> value or list of accepted values.
        exact
            force exact (True) or ANN (False) search; default: by ``ann_threshold``.
        columns
            the columns each hit carries (default: all; ``[]``: row and score only).
        passages
            give each hit with its text a ``passage_span``: the [start, end)
            characters of the passage of the text that best matches the query (the whole
            text when it is short; :mod:`lexdense.search.passages`). A metadata column of
            that name is kept instead.
        query_vectors
            (n_queries, dim) vectors of text ``queries``, used instead of
            embedding them (bring your own embeddings: hybrid search of a vectors-only index).

        Returns
        -------
            for each query a list of hits ``{"row", "score", "text", <metadata>,
            "passage_span"}``; a single string query gives one list.
        """
        if mode not in ("dense", "bm25", "hybrid"):
            raise InputError(f"unknown mode '{mode}': expected dense, bm25 or hybrid")
        if mode != "dense" and not self.use_bm25:
            raise InputError(f"this index was built without BM25 (bm25=False, --no-bm25): mode '{mode}' "
                             "needs it; search with mode 'dense' or rebuild the index with BM25")
        if not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a positive int, got {k!r}")
        single = isinstance(queries, str)
        if isinstance(queries, np.ndarray):
            if mode != "dense":
                raise InputError("query vectors only work with mode='dense'")
            query_vectors, texts = unit_rows(np.atleast_2d(queries)), None
        else:
            texts = [queries] if single else ["" if q is None else str(q) for q in queries]
            if query_vectors is not None:
                query_vectors = unit_rows(np.atleast_2d(query_vectors))
                if query_vectors.shape[0] != len(texts):
                    raise InputError(f"query_vectors has {query_vectors.shape[0]} rows for {len(texts)} queries")
        if not len(self):
            return [] if single else [[] for _ in range(len(texts if texts is not None else query_vectors))]
        if query_vectors is not None and query_vectors.shape[1] != self.vectors.shape[1]:
            raise InputError(f"query vectors have dim {query_vectors.shape[1]}, the index has {self.vectors.shape[1]}")
        mask = self._mask(where)
        if mode in ("dense", "hybrid") and query_vectors is None:
            if self.model is None:
                raise InputError("this index was built from vectors without a model: pass query vectors")
            query_vectors = unit_rows(self.model.encode(texts))
        if mode == "dense":
            ranked = self._dense(query_vectors, k, mask, exact)
        elif mode == "bm25":
            ranked = self._lexical(texts, k, mask)
        else:
            ranked = self._hybrid(query_vectors, texts, k, mask, exact)
        if texts is not None:  # an empty query asks for nothing: no hits, not k arbitrary ones
            ranked = [_NO_HITS if not text.strip() else pair for text, pair in zip(texts, ranked)]
        hits = [self._hits(rows, scores, columns) for rows, scores in ranked]
        if passages:
            for n, query_hits in enumerate(hits):
                self._add_passages(query_hits, texts[n] if texts is not None else "",
                                   query_vectors[n] if query_vectors is not None else None)
        return hits[0] if single else hits

    def _add_passages(self, hits: list[dict], query: str, query_vector: np.ndarray | None) -> None:
        if not hits or not isinstance(hits[0].get("text"), str) or "passage_span" in hits[0]:
            return
        spans = best_passages([hit["text"] for hit in hits], query, query_vector,
                              self.model if query_vector is not None else None)
        for hit, (start, end) in zip(hits, spans):
            hit["passage_span"] = [start, end]

    def count(self, where: Mapping[str, object] | None = None) -> int:
        """Documents that pass the metadata filter ``where`` (all of them without one)."""
        mask = self._mask(where)
        return len(self) if mask is None else int(mask.sum())

    def _hits(self, rows: np.ndarray, scores: np.ndarray, columns) -> list[dict]:
        names = list(columns) if columns is not None else self.table.column_names
        if not names:
            return [{"row": int(r), "score": float(s)} for r, s in zip(rows, scores)]
        taken = self.table.select(names).take(pa.array(rows, pa.int64())).to_pylist() if len(rows) else []
        return [{"row": int(r), "score": float(s), **record} for r, s, record in zip(rows, scores, taken)]

    # -- persistence (lexdense.search.store) --------------------------------------------
    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write new rows and a new generation; the manifest switch makes it visible.

        One writer at a time: a second process saving to the same index gets a one-line
        error (an OS lock beside the index), never a torn or lost generation.
        """
        from lexdense.io.atomic import exclusive_lock

        path = Path(path) if path is not None else self.path
        if path is None:
            raise InputError("no path: pass save(path)")
        with exclusive_lock(path):
            return store.save_index(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, model=None) -> SearchIndex:
        """Open an index directory; ``model`` overrides the one named in its manifest.
        A damaged index raises :class:`IndexError_` naming its manifest (one line)."""
        try:
            return store.load_index(cls, Path(path), model)
        except IndexError_:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:  # fields of the wrong kind
            detail = one_line(exc) or type(exc).__name__
            raise IndexError_(f"{Path(path) / 'manifest.json'}: damaged index ({detail})") from None


def _align(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Give new rows the index's columns (missing ones as nulls, extra ones kept)."""
    for field in schema:
        if field.name not in table.column_names:
            table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
    return table
