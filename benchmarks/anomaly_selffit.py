"""Which detector holds up when it is fitted on the corpus it scores (`lexdense anomalies` with no --fit-on).

Text-ADBench fits on clean normal documents. A user with one folder has no clean set: the
detector is fitted on the corpus itself, planted outliers included, and its training scores
rank them. Here each offline anomaly task's test set (held-out normals plus anomalies) is
that corpus; AUROC of each PyOD detector's training scores, lexdense-base vectors, one run.
Anomalies that resemble each other (one topic) are the case that hurts neighbour methods:
they are each other's neighbours.

    python benchmarks/anomaly_selffit.py --json benchmarks/results/anomaly_selffit.json
"""

from __future__ import annotations

import argparse
import subprocess

import numpy as np


def main() -> dict:
    from sklearn.metrics import roc_auc_score

    from lexdense import LexDense
    from lexdense.anomaly import METHODS, AnomalyDetector
    from lexdense.eval.tasks import GROUPS, TASKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--contamination", type=float, default=0.05)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    model = LexDense.load()
    rows: dict[str, dict[str, float]] = {}
    for name in GROUPS["anomaly"]:
        task = TASKS[name](args.quick)
        vectors = model.encode(task.test_texts)
        labels = np.asarray(task.test_labels)
        rows[name] = {"documents": int(len(labels)), "anomaly_share": round(float(labels.mean()), 3)}
        for method in METHODS:
            detector = AnomalyDetector(method, contamination=args.contamination, model=None).fit(vectors=vectors)
            rows[name][method] = round(float(roc_auc_score(labels, detector.decision_scores_)), 4)
        print(name, rows[name], flush=True)
    mean = {m: round(float(np.mean([r[m] for r in rows.values()])), 4) for m in METHODS}
    result = {"protocol": "fit on the scored corpus itself (outliers included); AUROC of decision_scores_",
              "model": "lexdense-base", "quick": args.quick, "tasks": rows, "mean_auroc": mean,
              "best": max(mean, key=mean.get),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                       text=True).stdout.strip()}
    print("mean AUROC:", mean)
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
