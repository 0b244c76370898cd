"""Keyword-defined topics (Lbl2Vec's task): lexdense KeywordTopics against (a) cosine to the
averaged keyword embedding without refinement and (b) the `lbl2vec` package (Doc2Vec), one run.

    python benchmarks/keyword_topics.py --json benchmarks/results/keyword_topics.json
    python benchmarks/keyword_topics.py --quick --no-lbl2vec
    python benchmarks/keyword_topics.py --unrelated --json benchmarks/results/keyword_topics_unrelated.json

Data: 20 Newsgroups test (7,532 posts, 20 labels) and Reuters R8 test (2,189 articles, 8
labels). Keywords: benchmarks/keywords/*.json, a few words per class written from the class
names before any run, never tuned on these labels. Every method sees the documents without
labels (transductive, as Lbl2Vec is used). Reported: micro-F1 (every document labelled),
per-class one-vs-rest ROC-AUC (mean, min, max), expected calibration error of the confidence
(15 bins), and accuracy/coverage when abstaining below confidence 0.5.

--unrelated: documents about none of the labels. Keywords for 5 of the 20 newsgroups (4 seeded
random draws of 5 groups) while the other 15 groups' posts are present too; for each abstain
value, the share of those unrelated posts left unlabelled, and on the 5 groups' posts the
coverage (share labelled) and accuracy (of those labelled); means over the 4 draws. "before" is
KeywordTopics without the *none* class (none_seed_ratio 0: abstention by confidence only).
none_quantile and none_seed_ratio are chosen on the train split: the highest mean over draws
and abstain values of (unrelated unlabelled + related labelled correctly) / 2, among the
settings that cost at most 0.05 of coverage where every post is related (keywords for all 20
groups, mean over abstain values). Every row is then reported on test, with that all-related
cost and, on NewsArticles (no gold labels), how many articles each of a few labels takes.

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


ABSTAIN = (0.3, 0.5, 0.7)
SETTINGS = [(q, r) for q in (0.5, 0.75, 0.9) for r in (1.0, 2.0, 3.0)]  # none_quantile, none_seed_ratio
BEFORE = (0.75, 0.0)
NEWS_KEYWORDS = {"immigration": ["immigration", "refugees", "border wall"],
                 "football": ["football", "quarterback", "touchdown"],
                 "climate": ["climate change", "global warming", "emissions"]}


def unrelated_rows(model, vectors: np.ndarray, truth: np.ndarray, draws: list[list[str]], keywords: dict,
                   settings: list[tuple[float, float]]) -> dict:
    """Per (none_quantile, none_seed_ratio) ("q r", ratio 0: before) and abstain value, the means
    over draws of the figures above."""
    from lexdense.labels import KeywordTopics

    rows: dict = {}
    for quantile, ratio in settings:
        per_abstain: dict = {a: [] for a in ABSTAIN}
        for groups in draws:
            topics = KeywordTopics({g: keywords[g] for g in groups}, model=model, abstain=ABSTAIN[0],
                                   none_quantile=quantile, none_seed_ratio=ratio).fit(vectors=vectors)
            related = np.isin(truth, groups)
            for a in ABSTAIN:  # the none class does not depend on the abstain value: one fit
                topics.abstain = a
                predicted = np.asarray(topics.predict(vectors=vectors), dtype=object)
                labelled = predicted != None  # noqa: E711 (elementwise)
                covered = related & labelled
                per_abstain[a].append({
                    "unrelated_unlabelled": float((~labelled[~related]).mean()) if (~related).any() else None,
                    "related_coverage": float(labelled[related].mean()),
                    "related_accuracy": float((predicted[covered] == truth[covered]).mean()) if covered.any() else 0.0})
        rows[f"{quantile} {ratio}"] = {str(a): {key: (None if any(r[key] is None for r in runs)
                                           else float(np.mean([r[key] for r in runs]))) for key in runs[0]}
                            for a, runs in per_abstain.items()}
    return rows


def balanced(row: dict) -> float:
    return float(np.mean([(r["unrelated_unlabelled"] + r["related_coverage"] * r["related_accuracy"]) / 2
                          for r in row.values()]))


def unrelated_protocol(model) -> dict:
    from lexdense.labels import KeywordTopics
    from lexdense.sources import datasets

    keywords = json.loads((HERE / "keywords" / "20ng.json").read_text())
    rng = np.random.default_rng(0)
    draws = [sorted(str(g) for g in rng.choice(sorted(keywords), 5, replace=False)) for _ in range(4)]
    results: dict = {"draws": draws, "abstain": list(ABSTAIN)}
    split_data = {}
    for split in ("train", "test"):
        data = datasets.newsgroups(split)
        split_data[split] = (model.encode(data.texts), np.asarray(data.labels))
    train = unrelated_rows(model, *split_data["train"], draws, keywords, [BEFORE, *SETTINGS])
    train_all = unrelated_rows(model, *split_data["train"], [sorted(keywords)], keywords, [BEFORE, *SETTINGS])

    def coverage(rows: dict, key: str) -> float:
        return float(np.mean([r["related_coverage"] for r in rows[key].values()]))

    base = coverage(train_all, "{} {}".format(*BEFORE))
    cost = {key: base - coverage(train_all, key) for key in train_all}
    allowed = [s for s in SETTINGS if cost["{} {}".format(*s)] <= 0.05]
    chosen = max(allowed, key=lambda s: balanced(train["{} {}".format(*s)]))
    results["train"] = {"rows": train, "all_groups_related": train_all,
                        "balanced": {key: balanced(train[key]) for key in train},
                        "all_related_coverage_cost": cost, "chosen": {"none_quantile": chosen[0],
                                                                      "none_seed_ratio": chosen[1]}}
    results["test"] = unrelated_rows(model, *split_data["test"], draws, keywords, [BEFORE, chosen])
    results["test_all_groups_related"] = unrelated_rows(model, *split_data["test"], [sorted(keywords)], keywords,
                                                        [BEFORE, chosen])
    news = datasets.news_articles()
    news_vectors = model.encode(news.texts)
    counts = {}
    for quantile, ratio in (BEFORE, chosen):
        topics = KeywordTopics(NEWS_KEYWORDS, model=model, abstain=0.5, none_quantile=quantile,
                               none_seed_ratio=ratio).fit(vectors=news_vectors)
        predicted = topics.predict(vectors=news_vectors)
        reasons = topics.abstain_reasons(vectors=news_vectors)
        counts[f"{quantile} {ratio}"] = {**{label: predicted.count(label) for label in topics.labels},
                              **{reason: reasons.count(reason) for reason in ("none of the labels", "low confidence")}}
    results["news_articles_abstain_0.5"] = {"documents": len(news.texts), "keywords": NEWS_KEYWORDS, "counts": counts}
    print("20NG train, (none_quantile none_seed_ratio): balanced score, coverage cost where all are related")
    for key, value in results["train"]["balanced"].items():
        print(f"  {key:10s} {value:.3f} {cost[key]:+.3f}")
    print(f"chosen: none_quantile {chosen[0]}, none_seed_ratio {chosen[1]}")
    for name, table in (("20NG test, keywords for 5 of 20 groups", results["test"]),
                        ("20NG test, keywords for all 20 groups", results["test_all_groups_related"])):
        print(f"{name}\n  {'rule':24s} {'abstain':>7s} {'unrelated unlabelled':>20s} {'related coverage':>16s} "
              f"{'related accuracy':>16s}")
        for key, per in table.items():
            rule = "before (confidence only)" if key.endswith(" 0.0") else f"after (none, q r {key})"
            for a, r in per.items():
                unrelated = "-" if r["unrelated_unlabelled"] is None else f"{r['unrelated_unlabelled']:.3f}"
                print(f"  {rule:24s} {a:>7s} {unrelated:>20s} {r['related_coverage']:16.3f} {r['related_accuracy']:16.3f}")
    print(f"NewsArticles ({len(news.texts):,}), abstain 0.5: {counts}")
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-lbl2vec", action="store_true")
    parser.add_argument("--unrelated", action="store_true", help="the 'none of the labels' protocol (above)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    import sys

    from lexdense import LexDense
    from lexdense.labels import KeywordTopics

    model = LexDense.load("lexdense-base")
    command = "python benchmarks/keyword_topics.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.unrelated:
        results = {"command": command, **unrelated_protocol(model)}
        if args.json:
            from lexdense.io.atomic import write_json

            write_json(args.json, results)
        return results
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
