"""Text anomaly detection: PyOD detectors on (unit-normalised) embeddings.

    from lexdense.anomaly import AnomalyDetector
    detector = AnomalyDetector("knn", contamination=0.05).fit(normal_texts)
    detector.decision_function(new_texts)   # higher = more abnormal
    detector.predict(new_texts)             # 1 = anomaly (score above threshold_)
    detector.predict_proba(new_texts)       # (n, 2): P(normal), P(anomaly)

The detectors are PyOD's own (``pyod``): KNN (mean distance to 5 neighbours), Isolation
Forest, LOF, ECOD and PCA reconstruction; lexdense adds embedding the texts and the
PyOD attributes after ``fit``: ``decision_scores_``, ``threshold_``, ``labels_``.
"""

from __future__ import annotations

import numpy as np

from lexdense.errors import InputError, NotFittedError
from lexdense.model import as_encoder, unit_rows
from lexdense.workflow import DEFAULT_MODEL, Workflow

METHODS = ("knn", "iforest", "lof", "ecod", "pca")


def make_detector(method: str, contamination: float = 0.1, seed: int = 0, **params):
    """A PyOD detector by short name, with lexdense's defaults."""
    if method == "knn":
        from pyod.models.knn import KNN

        return KNN(contamination=contamination, **{"n_neighbors": 5, "method": "mean", **params})
    if method == "iforest":
        from pyod.models.iforest import IForest

        return IForest(contamination=contamination, **{"n_estimators": 200, "random_state": seed, **params})
    if method == "lof":
        from pyod.models.lof import LOF

        return LOF(contamination=contamination, **{"n_neighbors": 20, **params})
    if method == "ecod":
        from pyod.models.ecod import ECOD

        return ECOD(contamination=contamination, **params)
    if method == "pca":
        from pyod.models.pca import PCA

        return PCA(contamination=contamination, **{"random_state": seed, **params})
    raise InputError(f"unknown method '{method}': expected one of {', '.join(METHODS)}")


def _unit(x) -> np.ndarray:
    return unit_rows(x, np.float64)


class TfidfLsa:
    """TF-IDF reduced to 256 dimensions by truncated SVD, fitted on the documents it is given
    first (PyOD detectors need dense vectors); an embedding baseline and a cell of --select."""

    def __init__(self, dims: int = 256):
        self.dims = dims
        self.svd = None

    def fit(self, texts) -> TfidfLsa:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32)
        matrix = self.tfidf.fit_transform(list(texts))
        self.svd = TruncatedSVD(max(1, min(self.dims, matrix.shape[1] - 1)), random_state=0).fit(matrix)
        return self

    def encode(self, texts, **_) -> np.ndarray:
        if self.svd is None:
            raise NotFittedError("this TfidfLsa is not fitted: call fit() first")
        return self.svd.transform(self.tfidf.transform(list(texts)))


MATRIX_FILE = "anomaly_matrix.json"


def select_pair(train_normal: list[str], test_texts: list[str], test_labels, budget: int = 3, seed: int = 0,
                model=DEFAULT_MODEL, matrix: dict | None = None) -> dict:
    """Pick an (embedding, detector) pair for a new dataset from ``budget`` measured cells.

    The cells are lexdense-base and TF-IDF-LSA with each shallow detector; ``budget`` of
    them, drawn at random, are measured (AUROC on the labelled sample), the others predicted
    by :func:`complete_row` from the AUROC matrix of the offline benchmark datasets
    (shipped as ``lexdense/data/anomaly_matrix.json`` by benchmarks/anomaly.py). The rank
    used is the one whose leave-one-dataset-out error was lower there.
    """
    import json
    from importlib import resources

    from sklearn.metrics import roc_auc_score

    if matrix is None:
        matrix = json.loads(resources.files("lexdense").joinpath("data", MATRIX_FILE).read_text())
    cells = [c for c in matrix["cells"] if c.split("|")[0] in ("lexdense-base", "tfidf-lsa256")
             and c.split("|")[1] in METHODS]
    columns = [matrix["cells"].index(c) for c in cells]
    known = np.asarray(matrix["auroc"])[:, columns]
    held = matrix.get("select_holdout", {})
    rank = 1 if held.get("mae_rank1", 1.0) < held.get("mae_additive", 0.0) else 0
    labels = np.asarray(test_labels).astype(int)
    if labels.min() == labels.max():
        raise InputError("the labelled sample needs both normal (0) and anomalous (1) documents")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(cells), min(max(budget, 1), len(cells)), replace=False)
    encoders = {}
    measured = {}
    for index in chosen:
        embedding, method = cells[index].split("|")
        if embedding not in encoders:
            encoder = TfidfLsa().fit(train_normal) if embedding == "tfidf-lsa256" else as_encoder(model)
            encoders[embedding] = (_unit(encoder.encode(train_normal)), _unit(encoder.encode(test_texts)))
        train, test = encoders[embedding]
        scores = make_detector(method, seed=seed).fit(train).decision_function(test)
        measured[int(index)] = float(roc_auc_score(labels, scores))
    predicted = complete_row(known, measured, rank=rank)
    table = [{"cell": c, "auroc": float(measured.get(i, predicted[i])), "measured": i in measured}
             for i, c in enumerate(cells)]
    best = max(table, key=lambda row: row["auroc"])
    return {"choice": best["cell"], "rank": rank, "cells": table, "holdout": held}


class AnomalyDetector(Workflow):
    """PyOD-style detector over texts (embedded with ``model``) or precomputed vectors."""

    def __init__(self, method: str = "knn", contamination: float = 0.1, model=DEFAULT_MODEL, seed: int = 0,
                 **params):
        if not 0 < contamination <= 0.5:
            raise InputError(f"contamination must be in (0, 0.5], got {contamination}")
        self.method, self.contamination, self.seed, self.params = method, float(contamination), seed, params
        make_detector(method, contamination, seed, **params)  # validates the name and settings early
        self._set_model(model)

    def _vectors(self, texts, vectors) -> np.ndarray:
        return self._embed(texts, vectors)

    def fit(self, texts=None, y=None, *, vectors=None) -> AnomalyDetector:
        """Fit on normal ``texts`` (or ``vectors=``); ``y`` is ignored (unsupervised)."""
        from lexdense.extras import require

        require("anomaly", "anomaly detection")
        x = self._vectors(texts, vectors)
        if len(x) < 10:
            raise InputError(f"need at least 10 documents to fit a detector, got {len(x)}")
        self.detector_ = make_detector(self.method, self.contamination, self.seed, **self.params).fit(x)
        self._fit_vectors = x  # what save() writes: PyOD detectors are refitted from it at load
        self.decision_scores_ = np.asarray(self.detector_.decision_scores_)
        self.threshold_ = float(self.detector_.threshold_)
        self.labels_ = np.asarray(self.detector_.labels_)
        return self

    _FITTED_ATTRIBUTE = "decision_scores_"

    def _settings(self) -> dict:
        return {"method": self.method, "contamination": self.contamination, "seed": self.seed, **self.params}

    def _state(self):
        """The (unit) vectors it was fitted on: every PyOD detector here refits from them to
        the same scores (seeded), and none of them is saved as a pickle."""
        return {"n_fit": int(len(self._fit_vectors))}, {"fit_vectors": self._fit_vectors.astype(np.float32)}

    def _restore(self, info, arrays) -> None:
        fit_vectors = arrays["fit_vectors"]
        if fit_vectors.ndim != 2 or len(fit_vectors) != info["n_fit"]:
            raise InputError("the saved vectors do not match the saved count")
        self.fit(vectors=fit_vectors)

    def decision_function(self, texts=None, vectors=None) -> np.ndarray:
        self._check_fitted("decision_scores_")
        return np.asarray(self.detector_.decision_function(self._vectors(texts, vectors)))

    def predict(self, texts=None, vectors=None) -> np.ndarray:
        return (self.decision_function(texts, vectors) > self.threshold_).astype(int)

    def predict_proba(self, texts=None, vectors=None) -> np.ndarray:
        """PyOD's linear method: scores min-max scaled by the training scores, clipped to [0, 1]."""
        self._check_fitted("decision_scores_")
        return np.asarray(self.detector_.predict_proba(self._vectors(texts, vectors), method="linear"))


def complete_row(known: np.ndarray, observed: dict[int, float], rank: int = 1) -> np.ndarray:
    """Predict a new row of a (datasets x cells) score matrix from a few observed cells.

    Model: ``shift + column_mean + a * v``, where ``column_mean`` is each cell's mean over the
    known rows, ``v`` the leading right singular vector of the known rows after removing row
    and column means (double centring), and ``shift`` and ``a`` are fitted to the observed
    cells by least squares. ``rank=0`` drops the ``a * v`` term: the additive baseline that
    any fair claim of a useful rank-1 structure has to beat.

    :param known: (datasets, cells) scores measured elsewhere (no missing values).
    :param observed: cell index -> score measured on the new dataset.
    """
    known = np.asarray(known, dtype=np.float64)
    if not observed:
        raise InputError("observe at least one cell")
    column_mean = known.mean(axis=0)
    centred = known - known.mean(axis=1, keepdims=True) - column_mean + known.mean()
    cells = np.asarray(list(observed), dtype=int)
    residual = np.asarray([observed[c] for c in cells], dtype=np.float64) - column_mean[cells]
    if rank == 0 or len(cells) < 2:
        return column_mean + residual.mean()
    v = np.linalg.svd(centred, full_matrices=False)[2][0]
    design = np.stack([np.ones(len(cells)), v[cells]], axis=1)
    (shift, a), *_ = np.linalg.lstsq(design, residual, rcond=None)
    return column_mean + shift + a * v


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
