"""Keyword-defined topics (Lbl2Vec's task): lexdense KeywordTopics against (a) cosine to the
averaged keyword embedding without refinement and (b) the `lbl2vec` package (Doc2Vec), one run.

    python benchmarks/keyword_topics.py --json benchmarks/results/keyword_topics.json
    python benchmarks/keyword_topics.py --quick --no-lbl2vec

Data: 20 Newsgroups test (7,532 posts, 20 labels) and Reuters R8 test (2,189 articles, 8
labels). Keywords: benchmarks/keywords/*.json, a few words per class written from the class
names before any run, never tuned on these labels. Every method sees the documents without
labels (transductive, as Lbl2Vec is used). Reported: micro-F1 (every document labelled),
per-class one-vs-rest ROC-AUC (mean, min, max), expected calibration error of the confidence
(15 bins), and accuracy/coverage when abstaining below confidence 0.5.

lbl2vec notes: its package __init__ builds a SentenceTransformer at import (a download), so
the Doc2Vec module is imported without it; its Doc2Vec vocabulary (min_count 50) does not
know every keyword and it raises on unknown ones, so multi-word keywords are split and
unknown words dropped for it (a label left with none gets its class name's words). Settings
from its README example: similarity_threshold 0.43, min_num_docs 100, 10 epochs.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def datasets_for(quick: bool) -> dict:
    from lexdense.eval.tasks import stratified_sample
    from lexdense.sources import datasets

    out = {}
    for name, loader, file in (("20 Newsgroups", lambda: datasets.newsgroups("test"), "20ng.json"),
                               ("Reuters R8", lambda: datasets.reuters("test"), "r8.json")):
        data = loader()
        index = stratified_sample(data.labels, 1500, 0) if quick else np.arange(len(data.labels))
        keywords = json.loads((HERE / "keywords" / file).read_text())
        out[name] = ([data.texts[i] for i in index], [data.labels[i] for i in index], keywords)
    return out


def metrics(scores: np.ndarray, labels: list[str], truth: list[str], proba: np.ndarray | None = None) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    truth_arr = np.asarray(truth)
    predicted = np.asarray(labels)[scores.argmax(axis=1)]
    aucs = [roc_auc_score(truth_arr == label, scores[:, k]) for k, label in enumerate(labels)
            if 0 < (truth_arr == label).sum() < len(truth_arr)]
    out = {"micro_f1": float(f1_score(truth_arr, predicted, average="micro")),
           "auc_mean": float(np.mean(aucs)), "auc_min": float(np.min(aucs)), "auc_max": float(np.max(aucs))}
    if proba is not None:
        confidence = proba.max(axis=1)
        correct = predicted == truth_arr
        bins = np.minimum((confidence * 15).astype(int), 14)
        ece = sum(abs(correct[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).mean()
                  for b in range(15) if (bins == b).any())
        sure = confidence >= 0.5
        out.update({"ece": float(ece), "coverage_at_0.5": float(sure.mean()),
                    "accuracy_at_0.5": float(correct[sure].mean()) if sure.any() else 0.0})
    return out


def run_lbl2vec(texts: list[str], keywords: dict[str, list[str]]) -> np.ndarray:
    import importlib.util
    import sys
    import types

    if "lbl2vec" not in sys.modules:
        spec = importlib.util.find_spec("lbl2vec")
        package = types.ModuleType("lbl2vec")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["lbl2vec"] = package
    from gensim.models.doc2vec import TaggedDocument
    from gensim.utils import simple_preprocess
    from lbl2vec.lbl2vec import Lbl2Vec

    documents = [TaggedDocument(simple_preprocess(t), [str(i)]) for i, t in enumerate(texts)]
    counts: dict[str, int] = {}
    for doc in documents:
        for word in doc.words:
            counts[word] = counts.get(word, 0) + 1
    known = {w for w, c in counts.items() if c >= 50}
    keyword_lists = []
    for label, words in keywords.items():
        split = [w for phrase in words for w in simple_preprocess(phrase) if w in known]
        if not split:
            split = [w for w in re.split(r"[.\-_]", label) if w in known] or [max(known, key=counts.get)]
        keyword_lists.append(list(dict.fromkeys(split)))
    model = Lbl2Vec(keywords_list=keyword_lists, tagged_documents=documents, label_names=list(keywords),
                    similarity_threshold=0.43, min_num_docs=100, epochs=10, workers=2, verbose=False)
    model.fit()
    frame = model.predict_model_docs()
    frame = frame.set_index("doc_key").loc[[str(i) for i in range(len(texts))]]
    return frame[list(keywords)].to_numpy(dtype=np.float64)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-lbl2vec", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from lexdense import LexDense
    from lexdense.labels import KeywordTopics

    model = LexDense.load("lexdense-base")
    results = {}
    for name, (texts, truth, keywords) in datasets_for(args.quick).items():
        rows = {}
        start = time.perf_counter()
        vectors = model.encode(texts)
        embed_s = time.perf_counter() - start
        topics = KeywordTopics(keywords, model=model)
        rows["keyword mean, no refinement (a)"] = {**metrics(topics.keyword_scores(vectors=vectors), topics.labels, truth),
                                                   "seconds": embed_s}
        start = time.perf_counter()
        topics.fit(vectors=vectors)
        proba = topics.predict_proba(vectors=vectors)
        rows["lexdense KeywordTopics"] = {**metrics(proba, topics.labels, truth, proba),
                                          "seconds": embed_s + time.perf_counter() - start}
        if not args.no_lbl2vec:
            start = time.perf_counter()
            scores = run_lbl2vec(texts, keywords)
            rows["lbl2vec (Doc2Vec) (b)"] = {**metrics(scores, list(keywords), truth), "seconds": time.perf_counter() - start}
        results[name] = {"documents": len(texts), "labels": len(keywords), "rows": rows,
                         "unknown_keywords": topics.unknown_keywords}
        print(f"{name}: {len(texts):,} documents, {len(keywords)} labels")
        print(f"  {'method':34s} {'micro-F1':>8s} {'AUC mean':>8s} {'AUC min':>8s} {'ECE':>6s} {'cov@.5':>6s} "
              f"{'acc@.5':>6s} {'s':>6s}")
        for row, r in rows.items():
            extra = (f"{r['ece']:6.3f} {r['coverage_at_0.5']:6.3f} {r['accuracy_at_0.5']:6.3f}" if "ece" in r
                     else f"{'-':>6s} {'-':>6s} {'-':>6s}")
            print(f"  {row:34s} {r['micro_f1']:8.3f} {r['auc_mean']:8.3f} {r['auc_min']:8.3f} {extra} {r['seconds']:6.1f}")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
