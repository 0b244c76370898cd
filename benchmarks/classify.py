"""Curation classifier benchmark: lexdense embeddings + logistic regression / MLP against
fastText supervised (the `fasttext-community` wheel) and TF-IDF + logistic regression,
trained on the same split, one run.

    python benchmarks/classify.py --json benchmarks/results/classify.json
    python benchmarks/classify.py --quick

Reported per dataset: accuracy, macro one-vs-rest ROC-AUC, training time (embedding included)
and prediction throughput (docs/s, embedding included). fastText is run the way its docs
recommend for a new dataset: autotune (`autotuneValidationFile` on a 10% split of the
training set, `autotuneDuration` 300 s by default, 2 threads); the tutorial's fixed recipe
(25 epochs, lr 0.5, word bigrams) is kept as a second row. Datasets: 20 Newsgroups (by
date), election tweets, and the two MultiEmo sentiment tasks of `lexdense eval` (same splits).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np


def splits(quick: bool) -> dict:
    from lexdense.sources import datasets

    out = {}
    from lexdense.eval.tasks import stratified_sample

    train, test = datasets.newsgroups("train"), datasets.newsgroups("test")
    tr = stratified_sample(train.labels, 2000, 0) if quick else range(len(train.labels))
    te = stratified_sample(test.labels, 1000, 0) if quick else range(len(test.labels))
    out["20 Newsgroups"] = ([train.texts[i] for i in tr], [train.labels[i] for i in tr],
                            [test.texts[i] for i in te], [test.labels[i] for i in te])
    tweets = datasets.election_tweets()
    order = np.random.default_rng(8).permutation(len(tweets.texts))[: 2000 if quick else None]
    half = len(order) // 2
    a, b = np.sort(order[:half]), np.sort(order[half:])
    out["election tweets"] = ([tweets.texts[i] for i in a], [tweets.labels[i] for i in a],
                              [tweets.texts[i] for i in b], [tweets.labels[i] for i in b])
    from lexdense.eval.tasks import TASKS
    from lexdense.sources.datasets import DatasetUnavailable

    for name, task in (("MultiEmo sentences", "multiemo-sentence-classification"),
                       ("MultiEmo reviews", "multiemo-text-classification")):
        try:
            t = TASKS[task](quick)
        except DatasetUnavailable as error:
            print(f"{name} skipped: {error}")
            continue
        out[name] = (t.train_texts, t.train_labels, t.test_texts, t.test_labels)
    return out


def auc(truth, proba: np.ndarray, classes) -> float:
    from sklearn.metrics import roc_auc_score

    if len(classes) == 2:
        return float(roc_auc_score(np.asarray(truth) == classes[1], proba[:, 1]))
    return float(roc_auc_score(truth, proba, multi_class="ovr", labels=list(classes)))


def run_lexdense(kind, x_train, y_train, x_test, y_test, model) -> dict:
    from lexdense.classify import EmbeddingClassifier

    start = time.perf_counter()
    clf = EmbeddingClassifier(model=model, kind=kind).fit(x_train, y_train)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    proba = clf.predict_proba(x_test)
    predict_s = time.perf_counter() - start
    predicted = clf.classes_[proba.argmax(axis=1)]
    return {"accuracy": float((predicted == np.asarray(y_test)).mean()), "roc_auc": auc(y_test, proba, clf.classes_),
            "train_s": train_s, "predict_docs_per_s": len(x_test) / predict_s}


def _clean(text: str) -> str:
    """The fastText tutorial's preprocessing: punctuation split off, lowercase, one line."""
    return re.sub(r"\s+", " ", re.sub(r"([.!?,'/()])", r" \1 ", text)).strip().lower()


def run_tfidf(x_train, y_train, x_test, y_test) -> dict:
    """scikit-learn's TfidfVectorizer (sublinear tf, unigrams+bigrams, min_df 2) fitted on the
    training texts, then the same logistic regression as `lexdense eval` (C=10)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    clf = LogisticRegression(max_iter=2000, C=10.0).fit(vectorizer.fit_transform(x_train), y_train)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    proba = clf.predict_proba(vectorizer.transform(x_test))
    predict_s = time.perf_counter() - start
    predicted = clf.classes_[proba.argmax(axis=1)]
    return {"accuracy": float((predicted == np.asarray(y_test)).mean()), "roc_auc": auc(y_test, proba, clf.classes_),
            "train_s": train_s, "predict_docs_per_s": len(x_test) / predict_s}


def _fasttext_file(path: Path, texts, labels) -> None:
    path.write_text("".join(f"__label__{label.replace(' ', '_')} {_clean(text)}\n"
                            for text, label in zip(texts, labels)))


def run_fasttext(x_train, y_train, x_test, y_test, autotune_s: int = 0) -> dict:
    """fastText supervised: autotuned on a 10% validation split when ``autotune_s`` > 0,
    else the tutorial's fixed settings."""
    import fasttext

    classes = sorted(set(y_train))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.txt"
        start = time.perf_counter()
        if autotune_s:
            order = np.random.default_rng(0).permutation(len(x_train))
            cut = len(order) // 10
            valid = Path(tmp) / "valid.txt"
            _fasttext_file(valid, [x_train[i] for i in order[:cut]], [y_train[i] for i in order[:cut]])
            _fasttext_file(path, [x_train[i] for i in order[cut:]], [y_train[i] for i in order[cut:]])
            model = fasttext.train_supervised(str(path), autotuneValidationFile=str(valid),
                                              autotuneDuration=autotune_s, thread=2, verbose=0)
        else:
            _fasttext_file(path, x_train, y_train)
            model = fasttext.train_supervised(str(path), epoch=25, lr=0.5, wordNgrams=2, dim=100, thread=2,
                                              verbose=0, seed=0)
        train_s = time.perf_counter() - start
    start = time.perf_counter()
    labels, probs = model.predict([_clean(t) for t in x_test], k=-1)
    predict_s = time.perf_counter() - start
    index = {f"__label__{c.replace(' ', '_')}": i for i, c in enumerate(classes)}
    proba = np.zeros((len(x_test), len(classes)))
    for row, (ls, ps) in enumerate(zip(labels, probs)):
        for label, p in zip(ls, ps):
            proba[row, index[label]] = p
    proba /= np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)  # fastText's probabilities are rounded
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    return {"accuracy": float((predicted == np.asarray(y_test)).mean()),
            "roc_auc": auc(y_test, proba, classes), "train_s": train_s,
            "predict_docs_per_s": len(x_test) / predict_s}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-fasttext", action="store_true")
    parser.add_argument("--autotune-s", type=int, default=300, help="fastText autotuneDuration (its default)")
    parser.add_argument("--model", default="lexdense-base")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from lexdense import LexDense

    model = LexDense.load(args.model)
    results: dict[str, dict] = {}
    for name, (x_train, y_train, x_test, y_test) in splits(args.quick).items():
        rows = {"lexdense + logreg": run_lexdense("logreg", x_train, y_train, x_test, y_test, model),
                "lexdense + MLP": run_lexdense("mlp", x_train, y_train, x_test, y_test, model)}
        rows["TF-IDF + logreg"] = run_tfidf(x_train, y_train, x_test, y_test)
        if not args.no_fasttext:
            rows["fastText autotuned"] = run_fasttext(x_train, y_train, x_test, y_test,
                                                      autotune_s=5 if args.quick else args.autotune_s)
            rows["fastText fixed (tutorial)"] = run_fasttext(x_train, y_train, x_test, y_test)
        results[name] = {"train": len(x_train), "test": len(x_test), "rows": rows}
        print(f"{name}: {len(x_train):,} train / {len(x_test):,} test")
        print(f"  {'classifier':26s} {'accuracy':>8s} {'ROC-AUC':>8s} {'train s':>8s} {'predict docs/s':>15s}")
        for row, r in rows.items():
            print(f"  {row:26s} {r['accuracy']:8.3f} {r['roc_auc']:8.3f} {r['train_s']:8.1f} {r['predict_docs_per_s']:15,.0f}")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
