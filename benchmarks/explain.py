"""Concept explanations on 20 Newsgroups: fidelity of the concept codes, how much meaning
they keep (a classifier on the codes against one on the raw embedding), and Net2Vec probes.

    python benchmarks/explain.py --json benchmarks/results/explain.json
    python benchmarks/explain.py --quick

Data: 2,000 train and 1,000 test posts, stratified (seed 0). Concept banks: the model's own
vocabulary (20,000 alphabetic words) and the 20 topic keyword lists of
benchmarks/keywords/20ng.json (each concept = the mean of its keywords). Classifier:
logistic regression (C=10) on the codes or on the raw 384-d vectors, same split.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression

    from lexdense import LexDense
    from lexdense.eval.tasks import stratified_sample
    from lexdense.explain import Explainer, probe
    from lexdense.sources import datasets

    model = LexDense.load("lexdense-base")
    train, test = datasets.newsgroups("train"), datasets.newsgroups("test")
    n_train, n_test = (400, 200) if args.quick else (2000, 1000)
    tr, te = stratified_sample(train.labels, n_train, 0), stratified_sample(test.labels, n_test, 0)
    x_train, y_train = model.encode([train.texts[i] for i in tr]), np.asarray([train.labels[i] for i in tr])
    x_test, y_test = model.encode([test.texts[i] for i in te]), np.asarray([test.labels[i] for i in te])

    def accuracy(a, b) -> float:
        return float((LogisticRegression(C=10.0, max_iter=2000).fit(a, y_train).predict(b) == y_test).mean())

    results: dict = {"train": len(tr), "test": len(te), "raw_accuracy": accuracy(x_train, x_test), "banks": {}}
    keywords = json.loads((HERE / "keywords" / "20ng.json").read_text())
    for bank_name, bank in (("vocabulary (20,000 words)", None), ("20 topic keyword lists", keywords)):
        explainer = Explainer(model=model, concepts=bank, alpha=3e-4 if bank is None else 1e-5)
        start = time.perf_counter()
        fidelity, sizes = [], []
        for vector in x_test:
            index, _, fid = explainer.code(vector)
            fidelity.append(fid)
            sizes.append(len(index))
        seconds = (time.perf_counter() - start) / len(x_test)
        codes_train, codes_test = explainer.concept_codes(x_train), explainer.concept_codes(x_test)
        results["banks"][bank_name] = {"fidelity_mean": float(np.mean(fidelity)),
                                       "fidelity_median": float(np.median(fidelity)),
                                       "concepts_mean": float(np.mean(sizes)), "seconds_per_doc": seconds,
                                       "code_accuracy": accuracy(codes_train, codes_test)}
    sweep = {}
    explainer = Explainer(model=model)
    for alpha in (1e-3, 5e-4, 3e-4, 1e-4):
        explainer.alpha = alpha
        codes = [explainer.code(v) for v in x_test[:200]]
        sweep[str(alpha)] = {"fidelity": float(np.mean([c[2] for c in codes])),
                             "concepts": float(np.mean([len(c[0]) for c in codes]))}
    results["alpha_sweep"] = sweep
    probes = probe(np.vstack([x_train, x_test]), np.concatenate([y_train, y_test]))
    dims = {name: entry["dims_for_95pct"] for name, entry in probes["concepts"].items()}
    jac = np.asarray(probes["top_dims_jaccard"])
    names = probes["names"]
    pairs = sorted(((jac[i, j], names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))),
                   reverse=True)[:5]
    results["probe"] = {"dims_for_95pct": dims, "median_dims": float(np.median(list(dims.values()))),
                        "accuracy_by_dims_mean": {k: float(np.mean([e["accuracy_by_dims"][k] for e in probes["concepts"].values()]))
                                                  for k in next(iter(probes["concepts"].values()))["accuracy_by_dims"]},
                        "most_shared": [{"a": a, "b": b, "jaccard": float(j)} for j, a, b in pairs]}

    print(f"20 Newsgroups, {len(tr):,} train / {len(te):,} test; LR on the raw embedding: {results['raw_accuracy']:.3f}")
    for name, r in results["banks"].items():
        print(f"  {name:28s} fidelity {r['fidelity_mean']:.3f} (median {r['fidelity_median']:.3f}) with "
              f"{r['concepts_mean']:.1f} concepts, {r['seconds_per_doc'] * 1000:.0f} ms/doc; LR on codes {r['code_accuracy']:.3f}")
    print("  alpha sweep (vocabulary bank, 200 docs): " + ", ".join(
        f"{a}: {v['fidelity']:.2f} fidelity / {v['concepts']:.0f} concepts" for a, v in sweep.items()))
    curve = results["probe"]["accuracy_by_dims_mean"]
    print("  probes, mean balanced accuracy by top-k dims: " + ", ".join(f"k={k}: {v:.3f}" for k, v in curve.items()))
    print(f"  dims needed for 95% of the full probe: median {results['probe']['median_dims']:.0f}; most shared top dims: "
          + ", ".join(f"{p['a']}~{p['b']} {p['jaccard']:.2f}" for p in results["probe"]["most_shared"][:3]))
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
