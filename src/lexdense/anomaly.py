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

import functools

import numpy as np

from lexdense.errors import InputError
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
        return _finite_pca()(contamination=contamination, **{"random_state": seed, **params})
    raise InputError(f"unknown method '{method}': expected one of {', '.join(METHODS)}")


@functools.cache  # one class, built at the first use (pyod is imported only then)
def _finite_pca():
    """PyOD's PCA, refitted on the components that carry variance when some carry none.

    PyOD divides each distance by its component's explained-variance ratio, so rank-deficient
    vectors (fewer distinct documents than dimensions, or a model whose output spans a
    subspace) gave infinite scores; those zero-variance components say nothing anyway.
    """
    from pyod.models.pca import PCA

    class FinitePCA(PCA):
        def fit(self, X, y=None):
            super().fit(X, y)
            if not np.all(np.isfinite(self.decision_scores_)) and self.n_components is None:
                ratios = np.asarray(self.detector_.explained_variance_ratio_)
                self.n_components = max(1, int((ratios > 1e-6 * ratios.max()).sum()))
                super().fit(X, y)
            return self

    return FinitePCA


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
        """(n,) anomaly scores of n texts (or ``vectors=``); higher is more abnormal."""
        self._check_fitted("decision_scores_")
        return np.asarray(self.detector_.decision_function(self._vectors(texts, vectors)))

    def predict(self, texts=None, vectors=None) -> np.ndarray:
        """(n,) 1 for an anomaly (score above :attr:`threshold_`), else 0."""
        return (self.decision_function(texts, vectors) > self.threshold_).astype(int)

    def anomaly_probability(self, scores) -> np.ndarray:
        """PyOD's linear probability of ``scores`` (n,): min-max scaled by the training scores,
        clipped to [0, 1]; column 1 of :meth:`predict_proba` for the documents they score."""
        self._check_fitted("decision_scores_")
        low, high = float(self.decision_scores_.min()), float(self.decision_scores_.max())
        return np.clip((np.asarray(scores, dtype=np.float64) - low) / max(high - low, 1e-12), 0.0, 1.0)

    def predict_proba(self, texts=None, vectors=None) -> np.ndarray:
        """PyOD's linear method: scores min-max scaled by the training scores, clipped to [0, 1]."""
        self._check_fitted("decision_scores_")
        return np.asarray(self.detector_.predict_proba(self._vectors(texts, vectors), method="linear"))
