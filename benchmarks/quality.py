"""First quality check: lexdense against its teacher, potion-base-8M and TF-IDF.

Tasks (all offline, evaluation splits never seen in distillation):
- 20ng: 20 Newsgroups by date; logistic regression trained on embeddings of a stratified
  sample of 4,000 train documents, accuracy on 3,000 sampled test documents (seed 0).
- r8: Reuters R8; logistic regression on all 5,485 train documents, accuracy on 2,189 test.
- news-retrieval: NewsArticles (3,729 articles): each title is a query, its article the one
  relevant document among all articles; nDCG@10 (and recall@100).

Usage: python benchmarks/quality.py [--model lexdense:DIR] [--teacher] [--potion DIR] [--tfidf]
Teacher and potion vectors are cached under .cache/quality (they cost minutes to compute).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "quality"


def load_tasks(quick: bool = False) -> dict:
    """The three tasks, built by lexdense.eval.tasks (same samples, same classifier)."""
    from lexdense.eval.tasks import TASKS

    return {"20ng": TASKS["20ng-classification"](quick), "r8": TASKS["r8-classification"](quick),
            "news-retrieval": TASKS["news-title-retrieval"](quick)}


class Cached:
    """Wrap an expensive encoder with an on-disk cache keyed by the texts."""

    def __init__(self, name: str, encoder):
        self.name, self.encoder = name, encoder

    def encode(self, texts: list[str]) -> np.ndarray:
        key = hashlib.sha256(("\0".join(texts)).encode("utf-8", "replace")).hexdigest()[:16]
        path = CACHE / f"{self.name}-{key}.npy"
        if path.is_file():
            return np.load(path)
        vectors = np.asarray(self.encoder(texts), dtype=np.float32)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        return vectors


def tfidf_scores(tasks) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from lexdense.eval.metrics import ndcg_at_k, rank_of_relevant

    scores = {}
    for name, task in tasks.items():
        if task.kind == "classification":
            vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
            clf = LogisticRegression(max_iter=2000, C=10.0).fit(vec.fit_transform(task.train_texts),
                                                                task.train_labels)
            predicted = clf.predict(vec.transform(task.test_texts))
            scores[name] = float((predicted == np.asarray(task.test_labels)).mean())
        else:
            vec = TfidfVectorizer(sublinear_tf=True).fit(task.documents)
            sims = (vec.transform(task.queries) @ vec.transform(task.documents).T).toarray()
            scores[name] = ndcg_at_k(rank_of_relevant(sims, task.relevant), 10)
    return scores


def evaluate(encode, tasks) -> dict:
    """Main score of each task for ``encode(list[str]) -> ndarray``."""
    return {name: task.run(encode)["main_score"] for name, task in tasks.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="lexdense model dir or name")
    parser.add_argument("--teacher", action="store_true")
    parser.add_argument("--potion", type=Path, help="potion-base-8M directory")
    parser.add_argument("--tfidf", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small subsample (smoke test)")
    parser.add_argument("--json", type=Path, help="write results here")
    args = parser.parse_args(argv)

    from lexdense import LexDense

    tasks = load_tasks(args.quick)
    results: dict[str, dict] = {}
    for spec in args.model:
        model = LexDense.load(spec)
        t0 = time.perf_counter()
        results[model.config.get("name", spec)] = evaluate(lambda t: model.encode(t), tasks)
        print(f"{spec}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    if args.teacher:
        from lexdense.distill.teacher import load_teacher

        teacher = load_teacher("sentence-transformers/all-MiniLM-L6-v2")
        cached = Cached("minilm", lambda t: teacher.encode(t, batch_size=64, normalize_embeddings=True))
        results["all-MiniLM-L6-v2 (teacher)"] = evaluate(cached.encode, tasks)
    if args.potion:
        from model2vec import StaticModel

        potion = StaticModel.from_pretrained(str(args.potion))
        cached = Cached("potion8m", lambda t: potion.encode(t))
        results["potion-base-8M"] = evaluate(cached.encode, tasks)
    if args.tfidf:
        results["TF-IDF (sklearn)"] = tfidf_scores(tasks)
    for scores in results.values():
        scores["mean"] = float(np.mean([scores[t] for t in tasks]))
    from rich.console import Console
    from rich.table import Table

    table = Table(title="lexdense quality (accuracy for 20ng/r8, nDCG@10 for news-retrieval)")
    table.add_column("model")
    for column in [*tasks, "mean"]:
        table.add_column(column, justify="right")
    for name, scores in results.items():
        table.add_row(name, *[f"{scores[c]:.3f}" for c in [*tasks, "mean"]])
    Console().print(table)
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, {"quick": args.quick, "results": results})
    return results


if __name__ == "__main__":
    main()
