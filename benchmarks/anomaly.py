"""Text anomaly detection, Text-ADBench protocol: detector x embedding AUROC on the four
offline datasets (lexdense.eval tasks anomaly-*), one run; then the rank-1 check.

    python benchmarks/anomaly.py --teacher --potion .cache/potion-base-8M --json benchmarks/results/anomaly.json
    python benchmarks/anomaly.py --quick

Embeddings: lexdense-base, the teacher all-MiniLM-L6-v2 (vectors cached under
.cache/anomaly), potion-base-8M, and TF-IDF reduced to 256 dimensions by truncated SVD
(PyOD needs dense input). Detectors: PyOD's KNN, IForest, LOF, ECOD, PCA (shallow) and
AutoEncoder (deep, torch). Protocol per task: fit on normal training documents only; test
on held-out normals plus anomalies; AUROC (and AUPRC in the JSON).

Rank-1 check: Text-ADBench reports the dataset x (embedding, detector) AUROC matrix is close
to rank 1. The share of variance a rank-1 approximation explains is printed for the raw
matrix (inflated by row and column means) and the double-centred one, and the completion
used by `lexdense anomalies --select` is scored by leaving each dataset out, observing 3 of
its cells and predicting the rest, against the additive (row shift + column mean) baseline.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from lexdense.anomaly_select import complete_row

ROOT = Path(__file__).resolve().parents[1]
DETECTORS = ("knn", "iforest", "lof", "ecod", "pca", "autoencoder")


class CachedTeacher:
    def __init__(self, name: str = "sentence-transformers/all-MiniLM-L6-v2"):
        from lexdense.distill.teacher import load_teacher

        self.name, self.model = name, load_teacher(name)

    def encode(self, texts):
        from lexdense.distill.teacher import teacher_embeddings

        return teacher_embeddings(self.model, list(texts), ROOT / ".cache" / "anomaly", self.name)


def detector(name: str):
    if name == "autoencoder":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(hidden_neuron_list=[128, 64], epoch_num=30, batch_size=64, verbose=0, random_state=0,
                           contamination=0.1)
    from lexdense.anomaly import make_detector

    return make_detector(name)


def rank1_share(matrix: np.ndarray) -> dict:
    """Share of the sum of squares the best rank-1 approximation explains, on the raw matrix
    (inflated by row and column means) and on the double-centred one (the honest figure)."""
    m = np.asarray(matrix, dtype=np.float64)
    centred = m - m.mean(axis=1, keepdims=True) - m.mean(axis=0) + m.mean()
    share = lambda x: float(np.linalg.svd(x, compute_uv=False)[0] ** 2 / max((x ** 2).sum(), 1e-300))
    return {"raw": share(m), "double_centred": share(centred)}


def holdout_error(matrix: np.ndarray, n_observed: int = 3, repeats: int = 50, seed: int = 0) -> dict:
    """Leave one dataset out: observe ``n_observed`` random cells of its row, complete the
    rest from the other rows, and compare with the truth: mean absolute error on the hidden
    cells for the rank-1 model and the additive baseline, and the regret of picking the
    cell with the best observed-or-predicted score."""
    matrix = np.asarray(matrix, dtype=np.float64)
    rng = np.random.default_rng(seed)
    stats = {"rank1": ([], []), "additive": ([], [])}
    for row in range(len(matrix)):
        others, truth = np.delete(matrix, row, axis=0), matrix[row]
        for _ in range(repeats):
            cells = rng.choice(matrix.shape[1], n_observed, replace=False)
            hidden = np.setdiff1d(np.arange(matrix.shape[1]), cells)
            for name, rank in (("rank1", 1), ("additive", 0)):
                predicted = complete_row(others, {int(c): truth[c] for c in cells}, rank=rank)
                predicted[cells] = truth[cells]
                stats[name][0].append(np.abs(predicted[hidden] - truth[hidden]).mean())
                stats[name][1].append(truth.max() - truth[int(np.argmax(predicted))])
    out = {"n_observed": n_observed, "cells": int(matrix.shape[1]), "datasets": int(matrix.shape[0])}
    for name, (errors, regrets) in stats.items():
        out[f"mae_{name}"] = float(np.mean(errors))
        out[f"regret_{name}"] = float(np.mean(regrets))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--teacher", action="store_true")
    parser.add_argument("--potion", help="potion-base-8M directory")
    parser.add_argument("--no-deep", action="store_true", help="skip the AutoEncoder")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from sklearn.metrics import average_precision_score, roc_auc_score

    from lexdense import LexDense
    from lexdense.anomaly_select import MATRIX_FILE, TfidfLsa
    from lexdense.eval.tasks import GROUPS, TASKS

    embedders = {"lexdense-base": LexDense.load("lexdense-base")}
    if args.teacher:
        embedders["all-MiniLM-L6-v2"] = CachedTeacher()
    if args.potion:
        from model2vec import StaticModel

        embedders["potion-base-8M"] = StaticModel.from_pretrained(args.potion)
    embedders["tfidf-lsa256"] = None
    detectors = [d for d in DETECTORS if not (args.no_deep and d == "autoencoder")]
    results: dict = {"auroc": {}, "auprc": {}, "seconds": {}}
    for task_name in GROUPS["anomaly"]:
        task = TASKS[task_name](args.quick)
        for emb_name, embedder in embedders.items():
            start = time.perf_counter()
            if embedder is None:
                embedder = TfidfLsa().fit(task.train_texts)
            train = np.asarray(embedder.encode(task.train_texts), dtype=np.float64)
            test = np.asarray(embedder.encode(task.test_texts), dtype=np.float64)
            train /= np.maximum(np.linalg.norm(train, axis=1, keepdims=True), 1e-12)
            test /= np.maximum(np.linalg.norm(test, axis=1, keepdims=True), 1e-12)
            embed_s = time.perf_counter() - start
            for det in detectors:
                start = time.perf_counter()
                scores = detector(det).fit(train).decision_function(test)
                key = f"{task_name}|{emb_name}|{det}"
                results["auroc"][key] = float(roc_auc_score(task.test_labels, scores))
                results["auprc"][key] = float(average_precision_score(task.test_labels, scores))
                results["seconds"][key] = embed_s + time.perf_counter() - start
        print(f"{task_name}: {len(task.train_texts):,} normal train, {len(task.test_texts):,} test "
              f"({int(task.test_labels.sum())} anomalies)")

    tasks, embs = GROUPS["anomaly"], list(embedders)
    print(f"\nAUROC, mean over {len(tasks)} datasets (rows: detector, columns: embedding)")
    print(f"{'detector':12s}" + "".join(f"{e:>18s}" for e in embs))
    means = {}
    for det in detectors:
        row = [np.mean([results["auroc"][f"{t}|{e}|{det}"] for t in tasks]) for e in embs]
        means[det] = dict(zip(embs, map(float, row)))
        print(f"{det:12s}" + "".join(f"{v:18.3f}" for v in row))
    results["mean_auroc"] = means
    cells = [f"{e}|{d}" for e in embs for d in detectors]
    matrix = np.array([[results["auroc"][f"{t}|{c}"] for c in cells] for t in tasks])
    results["matrix"] = {"datasets": tasks, "cells": cells, "auroc": matrix.tolist()}
    results["rank1_share"] = rank1_share(matrix)
    results["select_holdout"] = holdout_error(matrix, n_observed=3)
    shallow = [d for d in detectors if d != "autoencoder"]
    best_shallow = {e: max(means[d][e] for d in ("knn", "iforest")) for e in embs}
    results["shallow_vs_deep"] = {e: {"best_of_knn_iforest": best_shallow[e],
                                      "best_other_shallow": max(means[d][e] for d in shallow if d not in ("knn", "iforest")),
                                      "autoencoder": means["autoencoder"][e] if "autoencoder" in means else None}
                                  for e in embs}
    share, held = results["rank1_share"], results["select_holdout"]
    print(f"\nrank-1 share of the sum of squares: raw {share['raw']:.3f}, double-centred {share['double_centred']:.3f}")
    print(f"--select completion, leave one dataset out, 3 of {held['cells']} cells observed: "
          f"MAE rank-1 {held['mae_rank1']:.4f} vs additive {held['mae_additive']:.4f}; "
          f"regret of the pick rank-1 {held['regret_rank1']:.4f} vs additive {held['regret_additive']:.4f}")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, results)
        if not args.quick:  # the matrix `lexdense anomalies --select` completes from
            write_json(ROOT / "src" / "lexdense" / "data" / MATRIX_FILE,
                       {**results["matrix"], "select_holdout": results["select_holdout"],
                        "source": "benchmarks/anomaly.py"})
    return results


if __name__ == "__main__":
    main()
