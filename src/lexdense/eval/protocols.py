"""The protocols of lexdense's offline tasks: how a task turns an encoder into scores.

Every task takes an encoder (anything with ``encode(list[str]) -> ndarray``) and returns a
dict of scores whose ``main_score`` is the figure tables show. Retrieval is
:mod:`lexdense.eval.retrieval`; the tasks built from packaged data are
:mod:`lexdense.eval.tasks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lexdense.errors import InputError


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


def _average_precision(labels: np.ndarray, cosines: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, cosines))


def _spearman(grades: np.ndarray, cosines: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(cosines, grades).statistic)


@dataclass
class _CosinePairs:
    """Texts paired up, ``first[i]`` with ``second[i]``, scored by the cosine of each pair's
    embeddings against a truth per pair."""

    name: str
    first: list[str]
    second: list[str]

    def _scores(self, metric: str, measure, truth: np.ndarray, encode) -> dict:
        a, b = _normalize(encode(self.first)), _normalize(encode(self.second))
        product = a.multiply(b) if hasattr(a, "multiply") else a * b
        score = measure(truth, np.asarray(product.sum(axis=1), dtype=np.float32).ravel())
        return {"main_score": score, metric: score}


@dataclass
class PairClassification(_CosinePairs):
    """Pairs of texts labelled 1 (related) or 0; average precision of their cosine (MTEB's AP)."""

    labels: np.ndarray
    kind: str = "pair-classification"

    def run(self, encode) -> dict:
        return self._scores("cosine_ap", _average_precision, self.labels, encode)


@dataclass
class GradedPairs(_CosinePairs):
    """STS-style: pairs with a graded relatedness (higher = more related); Spearman correlation
    of their cosine and the grade."""

    grades: np.ndarray
    kind: str = "sts"

    def run(self, encode) -> dict:
        return self._scores("cosine_spearman", _spearman, self.grades, encode)


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

