import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lexdense import LexDense
from lexdense.anomaly import METHODS, AnomalyDetector
from lexdense.anomaly_select import TfidfLsa, complete_row, select_labelled, select_pair
from lexdense.cli import app
from lexdense.eval import evaluate
from lexdense.sources import datasets


def _benchmark_module(name: str):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).parents[1] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def space_outliers():
    test = datasets.newsgroups("test")
    normal = [t for t, l in zip(test.texts, test.labels) if l in ("rec.sport.hockey", "comp.graphics", "sci.med")]
    normal = [normal[i] for i in np.random.default_rng(0).permutation(len(normal))[:900]]
    space = [t for t, l in zip(test.texts, test.labels) if l == "sci.space"][:40]
    model = LexDense.load("lexdense-base")
    return model, normal[:600], normal[600:] + space, np.r_[np.zeros(len(normal) - 600), np.ones(len(space))]


@pytest.mark.parametrize("method", METHODS)
def test_every_detector_ranks_planted_outliers_and_has_pyod_attributes(space_outliers, method):
    from sklearn.metrics import roc_auc_score

    model, train, test, labels = space_outliers
    detector = AnomalyDetector(method, contamination=0.1, model=model).fit(train)
    assert detector.decision_scores_.shape == (len(train),)
    assert detector.labels_.mean() == pytest.approx(0.1, abs=0.03)
    scores = detector.decision_function(test)
    assert roc_auc_score(labels, scores) > 0.6
    assert set(np.unique(detector.predict(test))) <= {0, 1}
    proba = detector.predict_proba(test)
    assert proba.shape == (len(test), 2) and np.allclose(proba.sum(axis=1), 1)


def test_knn_separates_topics_well(space_outliers):
    from sklearn.metrics import roc_auc_score

    model, train, test, labels = space_outliers
    scores = AnomalyDetector("knn", model=model).fit(train).decision_function(test)
    assert roc_auc_score(labels, scores) > 0.85


def test_bad_detector_options():
    with pytest.raises(ValueError, match="unknown method 'svm'"):
        AnomalyDetector("svm")
    with pytest.raises(ValueError, match="contamination"):
        AnomalyDetector("knn", contamination=0.9)
    with pytest.raises(ValueError, match="at least 10"):
        AnomalyDetector("knn", model=None).fit(vectors=np.ones((3, 4)))


def test_row_completion_recovers_rank_one_structure_and_the_additive_baseline():
    rng = np.random.default_rng(0)
    u, v = rng.uniform(0.5, 1, 7), rng.uniform(0.5, 1, 10)
    matrix = np.outer(u, v) + rng.uniform(size=7)[:, None] + rng.uniform(size=10)[None, :]
    known, new = matrix[:-1], matrix[-1]
    predicted = complete_row(known, {0: new[0], 3: new[3], 7: new[7]}, rank=1)
    assert np.allclose(predicted, new, atol=1e-9)
    additive = complete_row(known, {0: new[0], 3: new[3]}, rank=0)
    assert np.allclose(additive - known.mean(axis=0), additive[0] - known[:, 0].mean())
    research = _benchmark_module("anomaly")  # the rank-1 analysis is benchmark code, not the package's
    share = research.rank1_share(matrix)
    assert share["double_centred"] == pytest.approx(1.0) and 0 < share["raw"] <= 1
    held = research.holdout_error(matrix, n_observed=3, repeats=5)
    assert held["mae_rank1"] < 1e-9 < held["mae_additive"]


def test_select_pair_measures_budget_cells_and_predicts_the_rest(space_outliers):
    model, train, test, labels = space_outliers
    cells = [f"{e}|{d}" for e in ("lexdense-base", "tfidf-lsa256") for d in METHODS]
    rng = np.random.default_rng(1)
    matrix = {"cells": cells, "auroc": rng.uniform(0.5, 0.9, size=(4, len(cells))).tolist(),
              "select_holdout": {"mae_rank1": 0.1, "mae_additive": 0.05}}
    result = select_pair(train, test, labels, budget=3, model=model, matrix=matrix)
    assert sum(r["measured"] for r in result["cells"]) == 3 and result["rank"] == 0
    assert result["choice"] in cells and len(result["cells"]) == len(cells)
    from sklearn.metrics import roc_auc_score


    for row in (r for r in result["cells"] if r["measured"]):  # each measured value is recomputable
        embedding, method = row["cell"].split("|")
        encoder = TfidfLsa().fit(train) if embedding == "tfidf-lsa256" else model
        detector = AnomalyDetector(method, model=encoder).fit(train)
        assert row["auroc"] == pytest.approx(roc_auc_score(labels, detector.decision_function(test)), abs=1e-6)


def test_anomaly_eval_tasks_beat_random_vectors():
    class Noise:
        def encode(self, texts):
            return np.random.default_rng(len(texts)).normal(size=(len(texts), 16))

    ours = evaluate(LexDense.load("lexdense-base"), tasks=["anomaly"], quick=True)
    noise = evaluate(Noise(), tasks=["anomaly-reuters", "anomaly-20ng"], quick=True)
    assert set(ours["tasks"]) == {"anomaly-20ng", "anomaly-reuters", "anomaly-healthtweets", "anomaly-election-tweets"}
    assert ours["tasks"]["anomaly-reuters"]["main_score"] > noise["tasks"]["anomaly-reuters"]["main_score"] + 0.2
    assert ours["tasks"]["anomaly-20ng"]["main_score"] > 0.7 and 0.35 < noise["tasks"]["anomaly-20ng"]["main_score"] < 0.65


def test_anomalies_command(tmp_path, space_outliers):
    _, train, test, labels = space_outliers
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": t, "is_anomaly": int(l)}) + "\n"
                              for i, (t, l) in enumerate(zip(test, labels))))
    normals = tmp_path / "normal.jsonl"
    normals.write_text("".join(json.dumps({"text": t}) + "\n" for t in train))
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(app, ["anomalies", str(corpus), "-o", str(out), "--fit-on", str(normals)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pydict()
    assert table["id"] == list(range(len(test)))
    assert table["is_anomaly"] == [int(l) for l in labels]  # the input column is kept beside the result
    flagged = np.asarray(table["lexdense_is_anomaly"])
    assert flagged[labels == 1].mean() > flagged[labels == 0].mean() + 0.3
    self_fit = CliRunner().invoke(app, ["anomalies", str(corpus), "-o", str(tmp_path / "self.parquet")])
    assert self_fit.exit_code == 0, self_fit.output
    assert "(ecod," in self_fit.output and "--fit-on" in self_fit.output  # the default that holds up, and the advice
    bad = CliRunner().invoke(app, ["anomalies", str(corpus), "--select", "--label-field", "nope"])
    assert bad.exit_code == 2 and "no field 'nope'" in bad.output


def test_select_command_uses_the_shipped_matrix(tmp_path, space_outliers):
    _, train, test, labels = space_outliers
    corpus = tmp_path / "labelled.jsonl"
    rows = [(t, 0) for t in train[:300]] + [(t, int(l)) for t, l in zip(test, labels)]
    corpus.write_text("".join(json.dumps({"text": t, "is_anomaly": l}) + "\n" for t, l in rows))
    result = CliRunner().invoke(app, ["anomalies", str(corpus), "--select"])
    assert result.exit_code == 0, result.output
    assert "choice:" in result.output and result.output.count("measured") >= 3 and "estimate" in result.output


def test_select_estimates_are_auroc_values_and_marked(space_outliers):
    """A completion can predict past 1: the estimate is clipped to an AUROC's range and never
    passes for a measurement; the labelled-sample split lives in the library, not the CLI."""
    model, train, test, labels = space_outliers
    cells = [f"{e}|{d}" for e in ("lexdense-base", "tfidf-lsa256") for d in METHODS]
    # Known rows at 0.2 and 1.4: whichever cells are measured, some estimate leaves [0, 1].
    known = np.tile(np.r_[np.full(5, 0.2), np.full(5, 1.4)], (4, 1)) + np.arange(4)[:, None] * 0.01
    matrix = {"cells": cells, "auroc": known.tolist(), "select_holdout": {"mae_rank1": 0.2, "mae_additive": 0.1}}
    texts = train + test
    is_anomaly = np.r_[np.zeros(len(train)), labels].astype(bool)
    result = select_labelled(texts, is_anomaly, budget=2, model=model, matrix=matrix, seed=3)
    estimates = [r for r in result["cells"] if not r["measured"]]
    assert len(estimates) == len(cells) - 2
    assert all(0.0 <= r["auroc"] <= 1.0 for r in result["cells"])
    assert any(r["auroc"] in (0.0, 1.0) for r in estimates)  # clipped, not -0.3 or 1.5
    with pytest.raises(ValueError, match="15 normal"):
        select_labelled(texts[:12], is_anomaly[:12], model=model, matrix=matrix)


def test_pca_scores_are_finite_on_vectors_of_a_lower_rank():
    """lexdense-base's vectors span 256 of 384 dimensions: on a few thousand of them PyOD's PCA
    divided by the zero variance of the other components and scored every document infinite."""
    from pyod.models.pca import PCA

    rng = np.random.default_rng(0)
    basis = rng.normal(size=(20, 60))
    codes = rng.normal(size=(1500, 20))
    vectors = codes @ basis
    assert not np.isfinite(PCA().fit(vectors).decision_scores_).all()  # the failure this guards against
    detector = AnomalyDetector("pca", model=None).fit(vectors=vectors)
    assert np.isfinite(detector.decision_scores_).all()
    assert np.isfinite(detector.decision_function(vectors=vectors[:50])).all()
    assert detector.detector_.n_components_ == 20  # the components that carry variance, no more
    assert detector.decision_scores_.std() > 0
