"""Where lexdense-base loses NewsArticles title -> article retrieval, and what encode-time
changes do to it (no retraining). Scores use benchmarks/quality.py's tasks.

1. Word counts: each known word's row counted raw (the model), log(1 + c), sqrt(c) or once.
2. Documents cut to their first N words before encoding.
3. Student against teacher on the news texts: rotated onto the teacher's vectors by
   orthogonal Procrustes, the mean cosine, mixed retrieval (teacher queries against student
   documents and the reverse), and retrieval within the teacher's top-k principal components.
4. Share of unknown words, and retrieval with their character n-grams left out.

The teacher's vectors come from benchmarks/quality.py's cache: run
`python benchmarks/quality.py --teacher` once first.

Usage: python models/retrieval_gap.py
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.linalg import orthogonal_procrustes

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from lexdense import LexDense
    from lexdense.eval.metrics import ndcg_at_k, rank_of_relevant
    from lexdense.model import unit_rows

    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    tasks = quality.load_tasks()
    news = tasks["news-retrieval"]
    model = LexDense.load("lexdense-base")
    featurizer = model.featurizer
    table = np.vstack([model._token_rows, model._char_rows])

    def dense_layers(sums: np.ndarray) -> np.ndarray:
        x = unit_rows(sums)
        x = x + np.maximum(x @ model._hidden_w + model._hidden_b, 0) @ model._back_w
        return unit_rows(x @ model._out_w + model._out_b)

    def encoder(count=lambda c: c, drop_unknown=False):
        def encode(texts):
            ids, weights, offsets = featurizer.feature_lists(texts)
            if drop_unknown:
                weights = np.where(ids >= featurizer.n_rows, 0, weights).astype(np.float32)
            bag = sp.csr_matrix((weights, ids, offsets), shape=(len(texts), table.shape[0]))
            bag.sum_duplicates()
            known = bag.indices < featurizer.n_rows  # character n-gram weights are fractions
            bag.data[known] = count(bag.data[known])
            return dense_layers(np.asarray(bag @ table, dtype=np.float32))
        return encode

    def show(name, scores):
        print(f"{name:32s} " + " ".join(f"{k} {v:.3f}" for k, v in scores.items())
              + f" mean {np.mean(list(scores.values())):.3f}", flush=True)

    print("1. word counts")
    for name, count in [("raw (the model)", lambda c: c), ("log(1 + c)", np.log1p), ("sqrt(c)", np.sqrt),
                        ("once", lambda c: np.minimum(c, 1.0))]:
        show(name, quality.evaluate(encoder(count), tasks))

    print("2. documents cut to their first N words")
    word = re.compile(r"[0-9A-Za-z\u0080-\U0010FFFF]+")

    def cut(n):
        def encode(texts):
            out = []
            for text in texts:
                found = list(word.finditer(text))
                out.append(text if len(found) <= n else text[: found[n - 1].end()])
            return model.encode(out)
        return encode

    for n in (64, 128, 200, 300, 500):
        show(f"first {n} words", quality.evaluate(cut(n), tasks))

    print("3. student against teacher on the news texts")

    def teacher(texts):
        key = hashlib.sha256(("\0".join(texts)).encode("utf-8", "replace")).hexdigest()[:16]
        path = quality.CACHE / f"minilm-{key}.npy"
        if not path.is_file():
            raise SystemExit(f"{path} missing: run `python benchmarks/quality.py --teacher` first")
        return np.load(path)

    tq, td = teacher(news.queries), teacher(news.documents)
    sq, sd = model.encode(news.queries), model.encode(news.documents)
    rotation, _ = orthogonal_procrustes(np.vstack([sq, sd]), np.vstack([tq, td]))
    sq, sd = sq @ rotation, sd @ rotation

    def ndcg(q, d):
        return ndcg_at_k(rank_of_relevant(q @ d.T, news.relevant), 10)

    print(f"mean cosine to the teacher: queries {(sq * tq).sum(1).mean():.3f}, documents {(sd * td).sum(1).mean():.3f}")
    print(f"nDCG@10: teacher {ndcg(tq, td):.3f}, student {ndcg(sq, sd):.3f}, teacher queries x student "
          f"documents {ndcg(tq, sd):.3f}, student queries x teacher documents {ndcg(sq, td):.3f}")
    basis = np.linalg.svd(np.vstack([tq, td]), full_matrices=False)[2]
    for k in (32, 64, 128, 256):
        top = basis[:k].T
        print(f"  top {k:3d} teacher components: teacher {ndcg(unit_rows(tq @ top), unit_rows(td @ top)):.3f}, "
              f"student {ndcg(unit_rows(sq @ top), unit_rows(sd @ top)):.3f}")

    print("4. unknown words")
    for name, texts in (("documents", news.documents), ("queries", news.queries)):
        ids, weights, _ = featurizer.feature_lists(texts)
        unknown = weights[ids >= featurizer.n_rows].sum()
        print(f"  {name}: {unknown / (unknown + (ids < featurizer.n_rows).sum()):.1%} of words unknown")
    show("without character n-grams", quality.evaluate(encoder(drop_unknown=True), {"news-retrieval": news}))


if __name__ == "__main__":
    main()
