"""Topic discovery (the Top2Vec / BERTopic pipeline) on lexdense embeddings.

    from lexdense.discover import TopicDiscovery
    topics = TopicDiscovery(n_topics=20, outliers="reassign").fit(texts)
    topics.labels_            # topic per document, -1 = outlier
    topics.topic_info()       # pyarrow Table: size, name, keywords, scores per topic
    topics.transform(new)     # topics of new documents, no refitting

Steps: reduce the unit vectors (UMAP from ``umap-learn``, cosine, or PCA), cluster the
reduced points (scikit-learn's HDBSCAN), take each cluster's mean unit vector as its topic
vector, optionally merge the smallest topic into its most similar one until ``n_topics``
remain (or k-means on the unit vectors, ``clusterer="kmeans"``), describe topics by
class-based TF-IDF keywords, and link topic vectors into a
hierarchy (average linkage on cosine distance).

Outliers: HDBSCAN leaves many documents unclustered (BERTopic users report 30-50%) and
Top2Vec silently forces them all into topics. Here the policy is explicit: ``"keep"`` leaves
them as -1, ``"reassign"`` gives an outlier the most similar topic only when the cosine to
its topic vector reaches ``floor``. ``outlier_share_`` reports the share before and after.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lexdense.errors import InputError, NotFittedError
from lexdense.model import unit_rows
from lexdense.workflow import DEFAULT_MODEL, Workflow


@functools.lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Words never taken as keywords: scikit-learn's English stopwords and the honorifics that
    named news topics ("mr", "ms")."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS | {"mr", "mrs", "ms"})


class TopicDiscovery(Workflow):
    """See the module docstring. ``seed`` makes UMAP (and so the whole fit) reproducible."""

    def __init__(self, model=DEFAULT_MODEL, reducer: str = "umap", n_components: int = 5,
                 n_neighbors: int = 15, min_cluster_size: int = 15, n_topics: int | None = None,
                 outliers: str = "keep", floor: float = 0.3, n_keywords: int = 10, seed: int = 0,
                 clusterer: str = "hdbscan"):
        if clusterer not in ("hdbscan", "kmeans"):
            raise InputError(f"unknown clusterer '{clusterer}': expected hdbscan or kmeans")
        if clusterer == "kmeans" and n_topics is None:
            raise InputError("clusterer 'kmeans' needs n_topics (the number of clusters)")
        if reducer not in ("umap", "pca"):
            raise InputError(f"unknown reducer '{reducer}': expected umap or pca")
        if outliers not in ("keep", "reassign"):
            raise InputError(f"unknown outlier policy '{outliers}': expected keep or reassign")
        if n_topics is not None and n_topics < 1:
            raise InputError(f"n_topics must be positive, got {n_topics}")
        if min_cluster_size < 2:
            raise InputError(f"min_cluster_size must be at least 2, got {min_cluster_size}")
        self._set_model(model)
        self.reducer, self.n_components, self.n_neighbors = reducer, int(n_components), int(n_neighbors)
        self.min_cluster_size, self.n_topics, self.outliers = int(min_cluster_size), n_topics, outliers
        self.floor, self.n_keywords, self.seed, self.clusterer = float(floor), int(n_keywords), seed, clusterer

    def _vectors(self, texts, vectors) -> np.ndarray:
        return self._embed(texts, vectors)

    def _reduce(self, x: np.ndarray, n_components: int) -> np.ndarray:
        if self.reducer == "pca" or len(x) <= self.n_neighbors + 1:
            from sklearn.decomposition import PCA

            return PCA(min(n_components, x.shape[1], len(x)), random_state=self.seed).fit_transform(x)
        import umap

        return umap.UMAP(n_neighbors=self.n_neighbors, n_components=n_components, metric="cosine", min_dist=0.0,
                         random_state=self.seed, n_jobs=1).fit_transform(x)

    def fit(self, texts: Sequence[str] | None = None, y=None, *, vectors: np.ndarray | None = None) -> TopicDiscovery:
        """Find topics in ``texts`` (or ``vectors=``); ``y`` is ignored (scikit-learn's convention)."""
        from lexdense.extras import require

        require("topics", "topic discovery")
        x = self._vectors(texts, vectors)
        if len(x) < 2 * self.min_cluster_size:
            raise InputError(f"need at least {2 * self.min_cluster_size} documents for min_cluster_size "
                             f"{self.min_cluster_size}, got {len(x)}")
        labels = self._renumber(self._cluster(x))
        if self.n_topics is not None:
            labels = self._merge_to(x, labels, self.n_topics)
        before = float((labels < 0).mean())
        self.topic_vectors_ = self._topic_vectors(x, labels)
        if self.outliers == "reassign":
            labels = self._reassign(x, labels)
        self.labels_ = labels
        self.outlier_share_ = {"clustering": before, "final": float((labels < 0).mean())}
        self.vectors_ = x
        if texts is not None:
            self.keywords_, self.keyword_scores_ = self._keywords(self._text_list(texts), labels)
        else:
            self.keywords_, self.keyword_scores_ = [[] for _ in self.topic_vectors_], [[] for _ in self.topic_vectors_]
        self.hierarchy_ = self._hierarchy()
        return self

    def _cluster(self, x: np.ndarray) -> np.ndarray:
        """Cluster label per row, -1 = outlier. HDBSCAN runs on the reduced vectors; k-means
        (no outliers, fast: what the server's map uses) on the unit vectors themselves, where
        PCA's few components left HDBSCAN one or two blobs on news."""
        if self.clusterer == "kmeans":
            from sklearn.cluster import KMeans

            k = min(int(self.n_topics or 1), len(x))
            return KMeans(n_clusters=k, n_init=3, random_state=self.seed).fit_predict(x)
        from sklearn.cluster import HDBSCAN

        labels = HDBSCAN(min_cluster_size=self.min_cluster_size, copy=True).fit_predict(
            self._reduce(x, self.n_components))
        if labels.max() < 0:
            raise InputError("HDBSCAN found no cluster: lower min_cluster_size or give more documents")
        return labels

    @staticmethod
    def _renumber(labels: np.ndarray) -> np.ndarray:
        """Topics numbered by size, largest first; -1 stays."""
        ids, counts = np.unique(labels[labels >= 0], return_counts=True)
        order = ids[np.argsort(-counts, kind="stable")]
        mapping = {int(old): new for new, old in enumerate(order)}
        return np.asarray([mapping.get(int(label), -1) for label in labels])

    @staticmethod
    def _topic_vectors(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        k = labels.max() + 1
        sums = np.zeros((k, x.shape[1]), np.float32)
        np.add.at(sums, labels[labels >= 0], x[labels >= 0])
        return unit_rows(sums)

    def _merge_to(self, x: np.ndarray, labels: np.ndarray, n_topics: int) -> np.ndarray:
        labels = labels.copy()
        while labels.max() + 1 > n_topics:
            vectors = self._topic_vectors(x, labels)
            sizes = np.bincount(labels[labels >= 0])
            smallest = int(np.argmin(sizes))
            sims = vectors @ vectors[smallest]
            sims[smallest] = -np.inf
            labels[labels == smallest] = int(np.argmax(sims))
            labels = self._renumber(labels)
        return labels

    def _reassign(self, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        labels = labels.copy()
        outliers = np.flatnonzero(labels < 0)
        if len(outliers):
            sims = x[outliers] @ self.topic_vectors_.T
            best = sims.argmax(axis=1)
            ok = sims[np.arange(len(outliers)), best] >= self.floor
            labels[outliers[ok]] = best[ok]
        return labels

    def _keywords(self, texts, labels: np.ndarray) -> tuple[list[list[str]], list[list[float]]]:
        """Keywords per topic and their class-based TF-IDF scores: a word's share of the topic's
        words (all its documents as one) times BERTopic's log(1 + average words per topic / the
        word's count over all topics) times the document IDF log(n documents / documents with
        the word). The last factor is what names topics: a word in most documents ("said" in
        news) scores near 0 however often a topic uses it; with few topics the class factor
        alone ranked such words first. English stopwords (scikit-learn's list, and "mr", "mrs",
        "ms") never count."""
        from scipy import sparse
        from sklearn.feature_extraction.text import CountVectorizer

        texts = list(texts)
        k = int(labels.max()) + 1
        try:
            counter = CountVectorizer(stop_words=sorted(stopwords()), token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
            documents = counter.fit_transform(texts).tocsr()
        except ValueError:  # no words at all
            return [[] for _ in range(k)], [[] for _ in range(k)]
        inside = np.flatnonzero(labels >= 0)
        membership = sparse.csr_matrix((np.ones(len(inside)), (labels[inside], inside)), shape=(k, len(texts)))
        counts = np.asarray((membership @ documents).todense(), dtype=np.float64)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        class_idf = np.log(1 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1))
        document_frequency = np.bincount(documents.indices, minlength=documents.shape[1])
        document_idf = np.log(len(texts) / np.maximum(document_frequency, 1))
        scores = share * class_idf * document_idf
        vocab = np.asarray(counter.get_feature_names_out())
        words, weights = [], []
        for t in range(k):
            best = [i for i in np.argsort(-scores[t], kind="stable")[: self.n_keywords] if scores[t, i] > 0]
            words.append(vocab[best].tolist())
            weights.append([round(float(scores[t, i]), 6) for i in best])
        return words, weights

    def _hierarchy(self) -> list[dict]:
        """Merges of topic vectors (scipy average linkage, cosine): one dict per merge."""
        if len(self.topic_vectors_) < 2:
            return []
        from scipy.cluster.hierarchy import linkage
        from scipy.spatial.distance import squareform

        # Cosine distances computed here: a topic of empty texts has a zero vector, for which
        # scipy's cosine metric gives NaN; its cosine to every topic is 0 (distance 1).
        v = self.topic_vectors_.astype(np.float64)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        unit = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
        distances = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
        np.fill_diagonal(distances, 0.0)
        z = linkage(squareform((distances + distances.T) / 2, checks=False), method="average")
        n = len(self.topic_vectors_)
        return [{"node": n + i, "left": int(a), "right": int(b), "distance": float(d), "size": int(s)}
                for i, (a, b, d, s) in enumerate(z)]

    _SETTINGS = ("reducer", "n_components", "n_neighbors", "min_cluster_size", "n_topics", "outliers", "floor",
                 "n_keywords", "seed", "clusterer")
    _FITTED_ATTRIBUTE = "topic_vectors_"

    def _state(self):
        """Topic vectors, the fit's labels, keywords and their scores, outlier shares and
        hierarchy (not the fit's document vectors: the 2-D map of a loaded model needs a new fit)."""
        info = {"outlier_share": self.outlier_share_, "keywords": self.keywords_,
                "keyword_scores": self.keyword_scores_, "hierarchy": self.hierarchy_}
        return info, {"topic_vectors": self.topic_vectors_.astype(np.float32),
                      "labels": np.asarray(self.labels_, np.int64)}

    def _restore(self, info, arrays) -> None:
        topic_vectors, labels = arrays["topic_vectors"], arrays["labels"]
        keywords = info["keywords"]
        scores = info.get("keyword_scores") or [[] for _ in keywords]  # saves before scores were kept
        if topic_vectors.ndim != 2 or len(keywords) != len(topic_vectors) or len(scores) != len(keywords) \
                or labels.ndim != 1 or (len(labels) and labels.max() >= len(topic_vectors)):
            raise InputError("topic vectors, keywords and labels do not fit together")
        self.topic_vectors_, self.labels_ = topic_vectors, labels
        self.keywords_ = [[str(w) for w in words] for words in keywords]
        self.keyword_scores_ = [[float(v) for v in values] for values in scores]
        self.outlier_share_ = {k: float(v) for k, v in info["outlier_share"].items()}
        self.hierarchy_ = list(info["hierarchy"])

    def predict(self, texts=None, vectors=None) -> np.ndarray:
        """Topic of new documents, as every lexdense estimator names it: see :meth:`transform`."""
        return self.transform(texts, vectors)

    def transform(self, texts=None, vectors=None) -> np.ndarray:
        """Topic of new documents: the most similar topic vector, -1 below ``floor``.

        Returns
        -------
        numpy.ndarray
            int, shape (n_documents,): a topic number, or -1 (an outlier).
        """
        self._check_fitted("topic_vectors_")
        x = self._vectors(texts, vectors)
        if x.shape[1] != self.topic_vectors_.shape[1]:
            raise InputError(f"vectors have {x.shape[1]} dimensions; the topics were fitted on "
                             f"{self.topic_vectors_.shape[1]} (use the same embedding model)")
        sims = x @ self.topic_vectors_.T
        best = sims.argmax(axis=1)
        return np.where(sims[np.arange(len(x)), best] >= self.floor, best, -1)

    def topic_names(self, words: int = 3) -> list[str]:
        """One name per topic, its number and first keywords: ``"3: nasa, orbit, launch"``."""
        self._check_fitted("topic_vectors_")
        return [f"{t}: {', '.join(kws[:words])}" if kws else f"{t}: (no keywords)"
                for t, kws in enumerate(self.keywords_)]

    def topic_info(self):
        """A pyarrow Table, one row per topic, largest first: ``topic``, ``size`` (documents of
        the fit), ``name``, ``keywords`` and their class-based TF-IDF ``scores``.
        ``.to_pandas()`` gives a DataFrame; ``.to_pylist()`` the list of dicts of earlier versions."""
        import pyarrow as pa

        self._check_fitted("topic_vectors_")
        sizes = np.bincount(self.labels_[self.labels_ >= 0], minlength=len(self.topic_vectors_))
        return pa.table({"topic": pa.array(range(len(sizes)), pa.int64()), "size": pa.array(sizes, pa.int64()),
                         "name": pa.array(self.topic_names(), pa.string()),
                         "keywords": pa.array(self.keywords_, pa.list_(pa.string())),
                         "scores": pa.array(self.keyword_scores_, pa.list_(pa.float64()))})

    def topic_diversity(self, top: int = 10) -> float:
        """Share of unique words among all topics' top ``top`` keywords (1 = no repeats)."""
        words = [w for kws in self.keywords_ for w in kws[:top]]
        return len(set(words)) / max(len(words), 1)

    # -- plots (drawn by lexdense.discover_plots) ---------------------------------------
    def map_2d(self) -> np.ndarray:
        """Documents of the fit in 2-D: array of shape (n_documents, 2), the reducer with 2 components."""
        if not hasattr(self, "vectors_"):
            raise NotFittedError("the 2-D map needs the documents of a fit (a loaded TopicDiscovery has "
                                 "only its topics): call fit() first")
        if not hasattr(self, "_map"):
            self._map = self._reduce(self.vectors_, 2)
        return self._map

    def plot_map(self, path: str | os.PathLike, max_points: int = 20000) -> Path:
        """PNG of documents in 2-D coloured by topic, with a legend of topic names."""
        from lexdense.discover_plots import plot_map

        return plot_map(self, path, max_points)

    def plot_keywords(self, path: str | os.PathLike, topics: int = 8, words: int = 6) -> Path:
        """PNG bar charts of the top keywords' class-based TF-IDF scores, largest topics first."""
        from lexdense.discover_plots import plot_keywords

        return plot_keywords(self, path, topics, words)

    def save_html_map(self, path: str | os.PathLike, texts: Sequence[str] | None = None) -> Path:
        """Interactive map (plotly, inlined: works offline): a legend of topic names (click to
        hide one), outliers in grey; hover shows a document's topic and text."""
        from lexdense.discover_plots import save_html_map

        return save_html_map(self, path, texts)
