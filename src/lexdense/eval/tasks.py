"""The offline evaluation tasks built from packaged data (docs/data.md says how each is
built), and the registry ``TASKS`` / ``GROUPS`` that ``lexdense eval`` runs.

How a task scores an encoder is :mod:`lexdense.eval.protocols` (classification, clustering,
pairs, anomaly detection) and :mod:`lexdense.eval.retrieval`; their names are importable
from here too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lexdense.eval.protocols import (
    AnomalyDetection,
    Classification,
    Clustering,
    GradedPairs,
    PairClassification,
    bootstrapped_v_measure,
    mteb_undersample,
    stratified_sample,
)
from lexdense.eval.retrieval import Retrieval

__all__ = ["GROUPS", "TASKS", "AnomalyDetection", "Classification", "Clustering", "GradedPairs",
           "PairClassification", "Retrieval", "bootstrapped_v_measure", "expand", "mteb_undersample",
           "stratified_sample"]


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
    from lexdense.sources import datasets

    data = datasets.newsgroups("test")
    index = stratified_sample(data.labels, 1500 if quick else 6000, 11)
    texts = [data.texts[i] for i in index]
    normal = np.asarray([data.labels[i] != "sci.space" for i in index])
    return AnomalyDetection("anomaly-20ng", *_one_class_split(texts, normal, 12, quick))


def _anomaly_reuters(quick: bool) -> AnomalyDetection:
    """Normal: earn and acq (R8 train + test); anomalies: the six other R8 classes."""
    from lexdense.sources import datasets

    train, test = datasets.reuters("train"), datasets.reuters("test")
    texts, labels = train.texts + test.texts, train.labels + test.labels
    normal = np.asarray([label in ("earn", "acq") for label in labels])
    return AnomalyDetection("anomaly-reuters", *_one_class_split(texts, normal, 13, quick))


def _anomaly_healthtweets(quick: bool) -> AnomalyDetection:
    """Normal: the three largest accounts; anomaly: the fourth largest."""
    from collections import Counter

    from lexdense.sources import datasets

    tweets = datasets.health_tweets()
    ranked = [account for account, _ in Counter(tweets.labels).most_common(4)]
    keep = [i for i, label in enumerate(tweets.labels) if label in ranked]
    texts = [tweets.texts[i] for i in keep]
    normal = np.asarray([tweets.labels[i] in ranked[:3] for i in keep])
    return AnomalyDetection("anomaly-healthtweets", *_one_class_split(texts, normal, 14, quick))


def _anomaly_election(quick: bool) -> AnomalyDetection:
    """Normal: tweets by HillaryClinton; anomaly: tweets by realDonaldTrump."""
    from lexdense.sources import datasets

    tweets = datasets.election_tweets()
    normal = np.asarray([label == "HillaryClinton" for label in tweets.labels])
    return AnomalyDetection("anomaly-election-tweets", *_one_class_split(tweets.texts, normal, 15, quick))


def _halves(text: str) -> tuple[str, str]:
    parts = text.split()
    middle = len(parts) // 2
    return " ".join(parts[:middle]), " ".join(parts[middle:])


def _newsgroups_halves(quick: bool, seed: int = 3):
    """Test documents of >= 40 words, split in halves (first half, second half, group)."""
    from lexdense.sources import datasets

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
    from lexdense.sources import datasets

    tweets = datasets.election_tweets()
    order = np.random.default_rng(8).permutation(len(tweets.texts))[: 1000 if quick else None]
    return _halves_of("election-tweets-classification", tweets, order)


def _newsgroups(quick: bool) -> Classification:
    from lexdense.sources import datasets

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
    from lexdense.sources import datasets

    train, test = datasets.reuters("train"), datasets.reuters("test")
    cut = slice(0, 1000) if quick else slice(None)
    return Classification("r8-classification", train.texts[cut], train.labels[cut], test.texts[cut], test.labels[cut])


def _news_retrieval(quick: bool) -> Retrieval:
    from lexdense.sources import datasets

    news = datasets.news_articles()
    n = 500 if quick else len(news.texts)
    return Retrieval("news-title-retrieval", news.titles[:n], news.texts[:n], np.arange(n))


def _newsgroups_clustering(quick: bool) -> Clustering:
    from lexdense.sources import datasets

    test = datasets.newsgroups("test")
    index = stratified_sample(test.labels, 1000 if quick else 4000, 1)
    return Clustering("20ng-clustering", [test.texts[i] for i in index], [test.labels[i] for i in index])


def _healthtweets_clustering(quick: bool) -> Clustering:
    from lexdense.sources import datasets

    tweets = datasets.health_tweets()
    index = stratified_sample(tweets.labels, 1000 if quick else 8000, 2)
    return Clustering("healthtweets-clustering", [tweets.texts[i] for i in index], [tweets.labels[i] for i in index])


def _news_outlet(quick: bool) -> Classification:
    """Which of 9 outlets published the article: random 50/50 split (seed 9)."""
    from lexdense.sources import datasets

    news = datasets.news_articles()
    index = stratified_sample(news.labels, 900 if quick else len(news.labels), 9)
    return _halves_of("news-outlet-classification", news, np.random.default_rng(9).permutation(index))


def _fortunes_clustering(quick: bool) -> Clustering:
    """Debian fortunes (quotes and jokes) by category file, 38 categories."""
    from lexdense.sources import datasets

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
