"""The page's topic map (``GET /topic-map``): a sample of the index's documents in 2-D,
coloured by discovered topics.

Topics come from k-means on the unit vectors (about a second for 3,000 documents), not
HDBSCAN: on the few PCA components a request can afford, HDBSCAN found two or three blobs in
news (UMAP, which separates them, took 36 s for 3,000 documents on 2 cores). The 2-D layout is
topics on a circle, each document pulled towards the topics it is similar to (:func:`layout`).
"""

from __future__ import annotations

import numpy as np

MAX_TOPICS = 12


def map_topics(n_documents: int) -> int:
    """How many topics a map of ``n_documents`` shows: about one per 100 documents, 2 to 12."""
    return int(np.clip(round(n_documents / 100), 2, MAX_TOPICS))


def topic_map(index, points: int) -> dict:
    """``points`` documents of the index (a fixed sample) with x, y and topic, and the topics:
    number, size, name ("3: nasa, orbit, launch"), keywords, scores, colour."""
    from lexdense.discover import TopicDiscovery
    from lexdense.discover_plots import topic_colour

    rng = np.random.default_rng(0)
    rows = np.sort(rng.permutation(len(index))[:points])
    if len(rows) < 4:
        return {"points": [], "topics": []}
    texts = index.table.column("text").take(rows).to_pylist()
    vectors = index.vectors[rows]
    try:
        fitted = TopicDiscovery(model=None, reducer="pca", clusterer="kmeans", min_cluster_size=2,
                                n_topics=map_topics(len(rows))).fit(texts, vectors=vectors)
    except ValueError:  # e.g. every vector the same
        return {"points": [], "topics": []}
    xy = layout(fitted.vectors_, fitted.topic_vectors_)
    topics = fitted.topic_info().to_pylist()
    for entry in topics:
        entry["colour"] = topic_colour(entry["topic"])
    return {"points": [{"row": int(r), "x": float(x), "y": float(y), "topic": int(t), "text": " ".join(s.split())[:140]}
                       for r, (x, y), t, s in zip(rows, xy, fitted.labels_, texts)],
            "topics": topics}


def layout(vectors: np.ndarray, topic_vectors: np.ndarray, temperature: float = 0.04) -> np.ndarray:
    """(n, 2) positions: each topic gets a point on a circle (similar topics side by side, in
    the order of their average-linkage tree) and a document sits at the average of those
    points weighted by softmax(cosine to each topic / ``temperature``): a clear member lies at
    its topic's point, a document between two topics between them. PCA and the discriminant
    axes piled most of 12 news topics on top of each other."""
    k = len(topic_vectors)
    order = np.arange(k)
    if k > 2:
        from scipy.cluster.hierarchy import leaves_list, linkage

        order = leaves_list(linkage(topic_vectors.astype(np.float64), method="average", metric="cosine"))
    angles = np.empty(k)
    angles[order] = 2 * np.pi * np.arange(k) / k
    anchors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    sims = vectors @ topic_vectors.T / temperature
    weights = np.exp(sims - sims.max(axis=1, keepdims=True))
    return (weights / weights.sum(axis=1, keepdims=True)) @ anchors
