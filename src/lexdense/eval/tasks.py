"""Offline evaluation tasks built from packaged data (docs/data.md says how each is built).

Every task takes an encoder (anything with ``encode(list[str]) -> ndarray``) and returns a
dict of scores whose ``main_score`` is the figure tables show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lexdense.errors import InputError
from lexdense.eval.metrics import ndcg_at_k, rank_of_relevant, recall_at_k


def _normalize(x):
    """Unit rows; a scipy sparse matrix (TF-IDF) stays sparse."""
    import scipy.sparse

    if scipy.sparse.issparse(x):
        from sklearn.preprocessing import normalize

        return normalize(x.tocsr().astype(np.float32))
    from lexdense.model import unit_rows

    return unit_rows(x)


def _dense(x) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32)


def stratified_sample(labels: list[str], n: int, seed: int) -> np.ndarray:
    """Indices of about ``n`` items keeping each label's share (at least one per label)."""
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    picked = []
    for label in np.unique(labels_arr):
        index = np.flatnonzero(labels_arr == label)
        take = max(1, round(n * len(index) / len(labels_arr)))
        picked.extend(rng.choice(index, min(take, len(index)), replace=False))
    return np.sort(np.asarray(picked))


def mteb_undersample(labels, samples_per_label: int = 8, n_experiments: int = 10, seed: int = 42):
    """Training subsets of MTEB's classification protocol, one list of indices per experiment.

    Each experiment reshuffles the running index order with a fresh RandomState(seed), then
    keeps the first ``samples_per_label`` items of each label in that order.
    """
    order = list(range(len(labels)))
    subsets = []
    for _ in range(n_experiments):
        np.random.RandomState(seed).shuffle(order)
        counts: dict = {}
        chosen = []
        for index in order:
            label = labels[index]
            if counts.get(label, 0) < samples_per_label:
                chosen.append(index)
                counts[label] = counts.get(label, 0) + 1
        subsets.append(chosen)
    return subsets


@dataclass
class Classification:
    """Logistic regression on embeddings; accuracy on the test texts.

    protocol "full": one classifier on every train text (C=10, up to 2,000 iterations).
    protocol "mteb": MTEB's few-shot protocol, ``samples_per_label`` train texts per label
    (:func:`mteb_undersample`), LogisticRegression(max_iter=100), mean over ``n_experiments``.
    """

    name: str
    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]
    kind: str = "classification"
    protocol: str = "full"
    samples_per_label: int = 8
    n_experiments: int = 10

    def run(self, encode) -> dict:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import f1_score

        test = encode(self.test_texts)
        truth = np.asarray(self.test_labels)
        if self.protocol == "full":
            model = LogisticRegression(max_iter=2000, C=10.0).fit(encode(self.train_texts), self.train_labels)
            predictions = [model.predict(test)]
        elif self.protocol == "mteb":
            subsets = mteb_undersample(self.train_labels, self.samples_per_label, self.n_experiments)
            needed = sorted(set().union(*subsets))
            position = {index: k for k, index in enumerate(needed)}
            train = encode([self.train_texts[i] for i in needed])
            labels = np.asarray(self.train_labels)
            predictions = []
            for subset in subsets:
                rows = [position[i] for i in subset]
                model = LogisticRegression(max_iter=100).fit(train[rows], labels[subset])
                predictions.append(model.predict(test))
        else:
            raise InputError(f"unknown protocol '{self.protocol}': expected full or mteb")
        accuracy = float(np.mean([(p == truth).mean() for p in predictions]))
        f1 = float(np.mean([f1_score(truth, p, average="macro") for p in predictions]))
        return {"main_score": accuracy, "accuracy": accuracy, "f1_macro": f1}


def bootstrapped_v_measure(vectors: np.ndarray, labels, n_runs: int = 10, sample_size: int = 16384,
                           batch_size: int = 512, seed: int = 42) -> list[float]:
    """MTEB's clustering protocol: ``n_runs`` samples drawn with replacement (random.Random(seed)),
    each clustered by MiniBatchKMeans(k = number of labels, k-means++, n_init=1, random_state=seed);
    one V-measure per sample."""
    import random

    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics import v_measure_score

    labels = np.asarray(labels)
    rng = random.Random(seed)
    size = min(sample_size, len(labels))
    model = MiniBatchKMeans(n_clusters=np.unique(labels).size, batch_size=batch_size, init="k-means++",
                            n_init=1, random_state=seed)
    scores = []
    for _ in range(n_runs):
        index = rng.choices(range(len(labels)), k=size)
        scores.append(float(v_measure_score(labels[index], model.fit_predict(vectors[index]))))
    return scores


@dataclass
class Clustering:
    """V-measure of MiniBatchKMeans clusters against the labels, MTEB's bootstrapped protocol
    (:func:`bootstrapped_v_measure`), on the encoder's vectors as returned."""

    name: str
    texts: list[str]
    labels: list[str]
    n_runs: int = 10
    kind: str = "clustering"

    def run(self, encode) -> dict:
        vectors = encode(self.texts)
        vectors = vectors.tocsr() if hasattr(vectors, "tocsr") else np.asarray(vectors, dtype=np.float32)
        scores = bootstrapped_v_measure(vectors, self.labels, n_runs=self.n_runs)
        return {"main_score": float(np.mean(scores)), "v_measure": float(np.mean(scores)),
                "v_measure_std": float(np.std(scores))}


@dataclass
class Retrieval:
    """Each query has one relevant document; cosine ranking; nDCG@10 and recall@100."""

    name: str
    queries: list[str]
    documents: list[str]
    relevant: np.ndarray
    kind: str = "retrieval"

    def run(self, encode) -> dict:
        search = getattr(encode, "search", None)
        if search is not None:  # a ranker (BM25): ranks beyond its top 100 count as misses
            top = np.asarray(search(self.queries, self.documents, 100))
            hit = top == np.asarray(self.relevant)[:, None]
            ranks = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, len(self.documents) + 1)
        else:
            q, d = _normalize(encode(self.queries)), _normalize(encode(self.documents))
            ranks = rank_of_relevant(_dense(q @ d.T), self.relevant)
        ndcg = ndcg_at_k(ranks, 10)
        return {"main_score": ndcg, "ndcg_at_10": ndcg, "recall_at_100": recall_at_k(ranks, 100),
                "mrr_at_10": float(np.where(ranks <= 10, 1.0 / ranks, 0.0).mean())}


def _pair_cosines(encode, first: list[str], second: list[str]) -> np.ndarray:
    a, b = _normalize(encode(first)), _normalize(encode(second))
    product = a.multiply(b) if hasattr(a, "multiply") else a * b
    return np.asarray(product.sum(axis=1), dtype=np.float32).ravel()


@dataclass
class PairClassification:
    """Pairs of texts labelled 1 (related) or 0; average precision of their cosine (MTEB's AP)."""

    name: str
    first: list[str]
    second: list[str]
    labels: np.ndarray
    kind: str = "pair-classification"

    def run(self, encode) -> dict:
        from sklearn.metrics import average_precision_score

        ap = float(average_precision_score(self.labels, _pair_cosines(encode, self.first, self.second)))
        return {"main_score": ap, "cosine_ap": ap}


@dataclass
class GradedPairs:
    """STS-style: pairs with graded relatedness; Spearman correlation of cosine and grade."""

    name: str
    first: list[str]
    second: list[str]
    grades: np.ndarray
    kind: str = "sts"

    def run(self, encode) -> dict:
        from scipy.stats import spearmanr

        rho = float(spearmanr(_pair_cosines(encode, self.first, self.second), self.grades).statistic)
        return {"main_score": rho, "cosine_spearman": rho}


@dataclass
class AnomalyDetection:
    """Text-ADBench's one-class protocol: a detector is fitted on normal training documents
    only; the test set is held-out normals plus anomalies; AUROC (main) and AUPRC of the
    detector's scores. ``anomalies`` may list several anomaly sets (one score each, averaged)."""

    name: str
    train_texts: list[str]
    test_texts: list[str]
    test_labels: np.ndarray  # 1 = anomaly
    detector: str = "knn"
    kind: str = "anomaly"

    def run(self, encode) -> dict:
        from sklearn.metrics import average_precision_score, roc_auc_score

        from lexdense.anomaly import make_detector

        train, test = encode(self.train_texts), encode(self.test_texts)
        if hasattr(train, "toarray"):  # sparse (TF-IDF): PyOD needs dense, so LSA to 256 dimensions
            from sklearn.decomposition import TruncatedSVD

            svd = TruncatedSVD(min(256, train.shape[1] - 1), random_state=0).fit(train)
            train, test = svd.transform(train), svd.transform(test)
        train, test = _dense(_normalize(train)), _dense(_normalize(test))
        scores = make_detector(self.detector).fit(train).decision_function(test)
        auroc = float(roc_auc_score(self.test_labels, scores))
        return {"main_score": auroc, "auroc": auroc, "auprc": float(average_precision_score(self.test_labels, scores))}


def _one_class_split(texts, is_normal, seed: int, quick: bool, anomaly_share: float = 0.1):
    """Normals split 70/30 into train/test; anomalies sampled to ``anomaly_share`` of the test set."""
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(is_normal))
    abnormal = rng.permutation(np.flatnonzero(~np.asarray(is_normal)))
    if quick:
        normal = normal[:700]
    cut = int(0.7 * len(normal))
    train, test_normal = normal[:cut], normal[cut:]
    n_anomalies = min(len(abnormal), max(5, int(round(anomaly_share * len(test_normal) / (1 - anomaly_share)))))
    test = np.concatenate([test_normal, abnormal[:n_anomalies]])
    labels = np.concatenate([np.zeros(len(test_normal), int), np.ones(n_anomalies, int)])
    return [texts[i] for i in train], [texts[i] for i in test], labels


def _anomaly_20ng(quick: bool) -> AnomalyDetection:
    """Normal: 19 newsgroups; anomaly: sci.space (Text-ADBench uses one class as the outlier)."""
    from lexdense.io import datasets

    data = datasets.newsgroups("test")
    index = stratified_sample(data.labels, 1500 if quick else 6000, 11)
    texts = [data.texts[i] for i in index]
    normal = np.asarray([data.labels[i] != "sci.space" for i in index])
    return AnomalyDetection("anomaly-20ng", *_one_class_split(texts, normal, 12, quick))


def _anomaly_reuters(quick: bool) -> AnomalyDetection:
    """Normal: earn and acq (R8 train + test); anomalies: the six other R8 classes."""
    from lexdense.io import datasets

    train, test = datasets.reuters("train"), datasets.reuters("test")
    texts, labels = train.texts + test.texts, train.labels + test.labels
    normal = np.asarray([label in ("earn", "acq") for label in labels])
    return AnomalyDetection("anomaly-reuters", *_one_class_split(texts, normal, 13, quick))


def _anomaly_healthtweets(quick: bool) -> AnomalyDetection:
    """Normal: the three largest accounts; anomaly: the fourth largest."""
    from collections import Counter

    from lexdense.io import datasets

    tweets = datasets.health_tweets()
    ranked = [account for account, _ in Counter(tweets.labels).most_common(4)]
    keep = [i for i, label in enumerate(tweets.labels) if label in ranked]
    texts = [tweets.texts[i] for i in keep]
    normal = np.asarray([tweets.labels[i] in ranked[:3] for i in keep])
    return AnomalyDetection("anomaly-healthtweets", *_one_class_split(texts, normal, 14, quick))


def _anomaly_election(quick: bool) -> AnomalyDetection:
    """Normal: tweets by HillaryClinton; anomaly: tweets by realDonaldTrump."""
    from lexdense.io import datasets

    tweets = datasets.election_tweets()
    normal = np.asarray([label == "HillaryClinton" for label in tweets.labels])
    return AnomalyDetection("anomaly-election-tweets", *_one_class_split(tweets.texts, normal, 15, quick))


def _halves(text: str) -> tuple[str, str]:
    parts = text.split()
    middle = len(parts) // 2
    return " ".join(parts[:middle]), " ".join(parts[middle:])


def _newsgroups_halves(quick: bool, seed: int = 3):
    """Test documents of >= 40 words, split in halves (first half, second half, group)."""
    from lexdense.io import datasets

    test = datasets.newsgroups("test")
    rng = np.random.default_rng(seed)
    candidates = [i for i, t in enumerate(test.texts) if len(t.split()) >= 40]
    chosen = np.sort(rng.choice(candidates, 300 if quick else 2000, replace=False))
    halves = [_halves(test.texts[i]) for i in chosen]
    return [h[0] for h in halves], [h[1] for h in halves], [test.labels[i] for i in chosen]


def _newsgroups_halves_retrieval(quick: bool) -> Retrieval:
    first, second, _ = _newsgroups_halves(quick)
    return Retrieval("20ng-halves-retrieval", first, second, np.arange(len(first)))


def _newsgroups_halves_pairs(quick: bool) -> PairClassification:
    """Positive: two halves of one post. Negative: halves of two posts of the same newsgroup,
    so topic alone does not separate them."""
    first, second, groups = _newsgroups_halves(quick, seed=4)
    rng = np.random.default_rng(5)
    groups_arr = np.asarray(groups)
    a, b, labels = [], [], []
    for i in range(len(first)):
        a.append(first[i])
        b.append(second[i])
        labels.append(1)
        others = np.flatnonzero((groups_arr == groups_arr[i]) & (np.arange(len(first)) != i))
        if len(others):
            j = int(rng.choice(others))
            a.append(first[i])
            b.append(second[j])
            labels.append(0)
    return PairClassification("20ng-halves-pairs", a, b, np.asarray(labels))


def _newsgroups_graded(quick: bool) -> GradedPairs:
    """Halves of 20NG test posts paired with a grade: 3 same post, 2 same newsgroup,
    1 same hierarchy top (comp.*, rec.*, sci.*, talk.*...), 0 unrelated."""
    first, second, groups = _newsgroups_halves(quick, seed=6)
    rng = np.random.default_rng(7)
    top = [g.split(".")[0] for g in groups]
    a, b, grades = [], [], []
    n = len(first)
    for i in range(n):
        j = int(rng.integers(n))
        grade = 3 if i == j else 2 if groups[i] == groups[j] else 1 if top[i] == top[j] else 0
        for partner, value in ((i, 3), (j, grade)):
            a.append(first[i])
            b.append(second[partner])
            grades.append(value)
    return GradedPairs("20ng-graded-pairs", a, b, np.asarray(grades))


def _halves_of(name: str, data, order: np.ndarray) -> Classification:
    """Classification on ``data`` (texts, labels): first half of ``order`` trains, second tests."""
    half = len(order) // 2
    train, test = np.sort(order[:half]), np.sort(order[half:])
    return Classification(name, [data.texts[i] for i in train], [data.labels[i] for i in train],
                          [data.texts[i] for i in test], [data.labels[i] for i in test])


def _election_tweets(quick: bool) -> Classification:
    """Who wrote the tweet, Clinton or Trump: random 50/50 split (seed 8)."""
    from lexdense.io import datasets

    tweets = datasets.election_tweets()
    order = np.random.default_rng(8).permutation(len(tweets.texts))[: 1000 if quick else None]
    return _halves_of("election-tweets-classification", tweets, order)


def _newsgroups(quick: bool) -> Classification:
    from lexdense.io import datasets

    train, test = datasets.newsgroups("train"), datasets.newsgroups("test")
    n_train, n_test = (800, 600) if quick else (4000, 3000)
    tr, te = stratified_sample(train.labels, n_train, 0), stratified_sample(test.labels, n_test, 0)
    return Classification("20ng-classification", [train.texts[i] for i in tr], [train.labels[i] for i in tr],
                          [test.texts[i] for i in te], [test.labels[i] for i in te])


def _newsgroups_fewshot(quick: bool) -> Classification:
    task = _newsgroups(quick)
    task.name, task.protocol = "20ng-classification-mteb", "mteb"
    return task


def _reuters(quick: bool) -> Classification:
    from lexdense.io import datasets

    train, test = datasets.reuters("train"), datasets.reuters("test")
    cut = slice(0, 1000) if quick else slice(None)
    return Classification("r8-classification", train.texts[cut], train.labels[cut], test.texts[cut], test.labels[cut])


def _news_retrieval(quick: bool) -> Retrieval:
    from lexdense.io import datasets

    news = datasets.news_articles()
    n = 500 if quick else len(news.texts)
    return Retrieval("news-title-retrieval", news.titles[:n], news.texts[:n], np.arange(n))


def _newsgroups_clustering(quick: bool) -> Clustering:
    from lexdense.io import datasets

    test = datasets.newsgroups("test")
    index = stratified_sample(test.labels, 1000 if quick else 4000, 1)
    return Clustering("20ng-clustering", [test.texts[i] for i in index], [test.labels[i] for i in index])


def _healthtweets_clustering(quick: bool) -> Clustering:
    from lexdense.io import datasets

    tweets = datasets.health_tweets()
    index = stratified_sample(tweets.labels, 1000 if quick else 8000, 2)
    return Clustering("healthtweets-clustering", [tweets.texts[i] for i in index], [tweets.labels[i] for i in index])


def _news_outlet(quick: bool) -> Classification:
    """Which of 9 outlets published the article: random 50/50 split (seed 9)."""
    from lexdense.io import datasets

    news = datasets.news_articles()
    index = stratified_sample(news.labels, 900 if quick else len(news.labels), 9)
    return _halves_of("news-outlet-classification", news, np.random.default_rng(9).permutation(index))


def _fortunes_clustering(quick: bool) -> Clustering:
    """Debian fortunes (quotes and jokes) by category file, 38 categories."""
    from lexdense.io import datasets

    quotes = datasets.fortunes()
    index = stratified_sample(quotes.labels, 1000 if quick else 6000, 10)
    return Clustering("fortunes-clustering", [quotes.texts[i] for i in index], [quotes.labels[i] for i in index])


TASKS: dict[str, Callable[[bool], object]] = {
    "20ng-classification": _newsgroups,
    "20ng-classification-mteb": _newsgroups_fewshot,
    "r8-classification": _reuters,
    "election-tweets-classification": _election_tweets,
    "news-outlet-classification": _news_outlet,
    "news-title-retrieval": _news_retrieval,
    "20ng-halves-retrieval": _newsgroups_halves_retrieval,
    "20ng-halves-pairs": _newsgroups_halves_pairs,
    "20ng-graded-pairs": _newsgroups_graded,
    "20ng-clustering": _newsgroups_clustering,
    "fortunes-clustering": _fortunes_clustering,
    "healthtweets-clustering": _healthtweets_clustering,
    "anomaly-20ng": _anomaly_20ng,
    "anomaly-reuters": _anomaly_reuters,
    "anomaly-healthtweets": _anomaly_healthtweets,
    "anomaly-election-tweets": _anomaly_election,
}

# The tasks on the 2026-12 sources (opinion, questions, encyclopedic, e-mail, intents, rewrites).
from lexdense.eval import wider  # noqa: E402  (its builders use the task classes above)

TASKS.update(wider.TASKS)

# Named groups for --tasks; the default run is "core" (the anomaly tasks have their own table).
GROUPS: dict[str, list[str]] = {
    "core": [name for name in TASKS if not name.startswith("anomaly-")],
    "anomaly": [name for name in TASKS if name.startswith("anomaly-")],
}


def expand(names) -> list[str]:
    """Task names with group names replaced by their tasks; None gives the core group."""
    if not names:
        return list(GROUPS["core"])
    out: list[str] = []
    for name in names:
        out.extend(GROUPS.get(name, [name]))
    return list(dict.fromkeys(out))
