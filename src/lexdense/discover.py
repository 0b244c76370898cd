"""Topic discovery (the Top2Vec / BERTopic pipeline) on lexdense embeddings.

    from lexdense.discover import TopicDiscovery
    topics = TopicDiscovery(n_topics=20, outliers="reassign").fit(texts)
    topics.labels_            # topic per document, -1 = outlier
    topics.topic_info()       # size and keywords per topic
    topics.transform(new)     # topics of new documents, no refitting

Steps: reduce the unit vectors (UMAP from ``umap-learn``, cosine, or PCA), cluster the
reduced points (scikit-learn's HDBSCAN), take each cluster's mean unit vector as its topic
vector, optionally merge the smallest topic into its most similar one until ``n_topics``
remain, describe topics by class-based TF-IDF keywords, and link topic vectors into a
hierarchy (average linkage on cosine distance).

Outliers: HDBSCAN leaves many documents unclustered (BERTopic users report 30-50%) and
Top2Vec silently forces them all into topics. Here the policy is explicit: ``"keep"`` leaves
them as -1, ``"reassign"`` gives an outlier the most similar topic only when the cosine to
its topic vector reaches ``floor``. ``outlier_share_`` reports the share before and after.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lexdense.errors import InputError, NotFittedError
from lexdense.model import unit_rows
from lexdense.workflow import DEFAULT_MODEL, Workflow


class TopicDiscovery(Workflow):
    """See the module docstring. ``seed`` makes UMAP (and so the whole fit) reproducible."""

    def __init__(self, model=DEFAULT_MODEL, reducer: str = "umap", n_components: int = 5,
                 n_neighbors: int = 15, min_cluster_size: int = 15, n_topics: int | None = None,
                 outliers: str = "keep", floor: float = 0.3, n_keywords: int = 10, seed: int = 0):
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
        self.floor, self.n_keywords, self.seed = float(floor), int(n_keywords), seed

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
        from sklearn.cluster import HDBSCAN

        x = self._vectors(texts, vectors)
        if len(x) < 2 * self.min_cluster_size:
            raise InputError(f"need at least {2 * self.min_cluster_size} documents for min_cluster_size "
                             f"{self.min_cluster_size}, got {len(x)}")
        reduced = self._reduce(x, self.n_components)
        labels = HDBSCAN(min_cluster_size=self.min_cluster_size, copy=True).fit_predict(reduced)
        if labels.max() < 0:
            raise InputError("HDBSCAN found no cluster: lower min_cluster_size or give more documents")
        labels = self._renumber(labels)
        if self.n_topics is not None:
            labels = self._merge_to(x, labels, self.n_topics)
        before = float((labels < 0).mean())
        self.topic_vectors_ = self._topic_vectors(x, labels)
        if self.outliers == "reassign":
            labels = self._reassign(x, labels)
        self.labels_ = labels
        self.outlier_share_ = {"clustering": before, "final": float((labels < 0).mean())}
        self.vectors_ = x
        self.keywords_ = self._keywords(self._text_list(texts), labels) if texts is not None else [[] for _ in self.topic_vectors_]
        self.hierarchy_ = self._hierarchy()
        return self

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

    def _keywords(self, texts, labels: np.ndarray) -> list[list[str]]:
        """Class-based TF-IDF: the square root of a topic's term frequencies (all its documents
        as one; the root damps words frequent everywhere, as BERTopic's reduce_frequent_words)
        times log(1 + average words per topic / the term's frequency over all topics)."""
        from sklearn.feature_extraction.text import CountVectorizer

        texts = list(texts)
        k = labels.max() + 1
        joined = [" ".join(texts[i] for i in np.flatnonzero(labels == t)) for t in range(k)]
        try:
            counts = CountVectorizer(stop_words="english", min_df=1, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
            matrix = counts.fit_transform(joined).toarray().astype(np.float64)
        except ValueError:  # no words at all
            return [[] for _ in range(k)]
        tf = np.sqrt(matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1))  # damp very frequent words
        idf = np.log(1 + matrix.sum(axis=1).mean() / np.maximum(matrix.sum(axis=0), 1))
        scores = tf * idf
        vocab = np.asarray(counts.get_feature_names_out())
        return [vocab[np.argsort(-scores[t], kind="stable")[: self.n_keywords]].tolist() for t in range(k)]

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
                 "n_keywords", "seed")
    _FITTED_ATTRIBUTE = "topic_vectors_"

    def _state(self):
        """Topic vectors, the fit's labels, keywords, outlier shares and hierarchy (not the
        fit's document vectors: the 2-D map of a loaded model needs a new fit)."""
        info = {"outlier_share": self.outlier_share_, "keywords": self.keywords_, "hierarchy": self.hierarchy_}
        return info, {"topic_vectors": self.topic_vectors_.astype(np.float32),
                      "labels": np.asarray(self.labels_, np.int64)}

    def _restore(self, info, arrays) -> None:
        topic_vectors, labels = arrays["topic_vectors"], arrays["labels"]
        keywords = info["keywords"]
        if topic_vectors.ndim != 2 or len(keywords) != len(topic_vectors) or labels.ndim != 1 \
                or (len(labels) and labels.max() >= len(topic_vectors)):
            raise InputError("topic vectors, keywords and labels do not fit together")
        self.topic_vectors_, self.labels_ = topic_vectors, labels
        self.keywords_ = [[str(w) for w in words] for words in keywords]
        self.outlier_share_ = {k: float(v) for k, v in info["outlier_share"].items()}
        self.hierarchy_ = list(info["hierarchy"])

    def transform(self, texts=None, vectors=None) -> np.ndarray:
        """Topic of new documents: the most similar topic vector, -1 below ``floor``."""
        self._check_fitted("topic_vectors_")
        x = self._vectors(texts, vectors)
        sims = x @ self.topic_vectors_.T
        best = sims.argmax(axis=1)
        return np.where(sims[np.arange(len(x)), best] >= self.floor, best, -1)

    def topic_info(self) -> list[dict]:
        sizes = np.bincount(self.labels_[self.labels_ >= 0], minlength=len(self.topic_vectors_))
        return [{"topic": t, "size": int(sizes[t]), "keywords": self.keywords_[t]} for t in range(len(sizes))]

    def topic_diversity(self, top: int = 10) -> float:
        """Share of unique words among all topics' top ``top`` keywords (1 = no repeats)."""
        words = [w for kws in self.keywords_ for w in kws[:top]]
        return len(set(words)) / max(len(words), 1)

    # -- plots ------------------------------------------------------------------------
    def map_2d(self) -> np.ndarray:
        if not hasattr(self, "vectors_"):
            raise NotFittedError("the 2-D map needs the documents of a fit (a loaded TopicDiscovery has "
                                 "only its topics): call fit() first")
        if not hasattr(self, "_map"):
            self._map = self._reduce(self.vectors_, 2)
        return self._map

    def plot_map(self, path: str | os.PathLike, max_points: int = 20000) -> Path:
        """PNG of documents in 2-D (the reducer with 2 components), coloured by topic."""
        from lexdense.eval.chart import pyplot, save_png

        plt = pyplot()
        xy = self.map_2d()
        rng = np.random.default_rng(self.seed)
        shown = rng.permutation(len(xy))[:max_points]
        figure, axes = plt.subplots(figsize=(7.5, 6), dpi=120)
        out = shown[self.labels_[shown] < 0]
        axes.scatter(xy[out, 0], xy[out, 1], s=2, c="#cccccc", label="outliers")
        inside = shown[self.labels_[shown] >= 0]
        axes.scatter(xy[inside, 0], xy[inside, 1], s=3, c=self.labels_[inside], cmap="tab20")
        for t, info in enumerate(self.topic_info()[:20]):
            members = np.flatnonzero(self.labels_ == t)
            if len(members):
                cx, cy = np.median(xy[members], axis=0)
                axes.annotate(f"{t}: {' '.join(info['keywords'][:2])}", (cx, cy), fontsize=7, ha="center")
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(f"{len(self.topic_vectors_)} topics, {self.outlier_share_['final']:.0%} outliers")
        return save_png(figure, path)

    def plot_keywords(self, path: str | os.PathLike, topics: int = 8, words: int = 6) -> Path:
        """PNG bar charts of the top keywords (c-TF-IDF rank) of the largest topics."""
        from lexdense.eval.chart import pyplot, save_png

        plt = pyplot()
        info = self.topic_info()[:topics]
        cols = 4
        rows = max(1, int(np.ceil(len(info) / cols)))
        figure, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), dpi=110, squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for ax, entry in zip(axes.ravel(), info):
            ax.axis("on")
            kws = entry["keywords"][:words][::-1]
            ax.barh(range(len(kws)), np.arange(1, len(kws) + 1), color="#4c72b0")
            ax.set_yticks(range(len(kws)), kws, fontsize=8)
            ax.set_xticks([])
            ax.set_title(f"topic {entry['topic']} ({entry['size']:,} docs)", fontsize=9)
        return save_png(figure, path)

    def save_html_map(self, path: str | os.PathLike, texts: Sequence[str] | None = None) -> Path:
        """Interactive map (plotly, inlined: works offline); hover shows topic and text."""
        import plotly.graph_objects as go

        from lexdense.io.atomic import atomic_file

        xy = self.map_2d()
        hover = [f"topic {t}: {(texts[i] if texts is not None else '')[:120]}" for i, t in enumerate(self.labels_)]
        figure = go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", text=hover, hoverinfo="text",
                                        marker={"size": 4, "color": self.labels_, "colorscale": "Turbo"}))
        figure.update_layout(title="lexdense topics", template="simple_white")
        path = Path(path)
        with atomic_file(path, suffix=".html") as tmp:
            tmp.write_text(figure.to_html(include_plotlyjs=True, full_html=True), encoding="utf-8")
        return path
