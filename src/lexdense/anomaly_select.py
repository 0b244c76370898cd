"""Choosing an (embedding, detector) pair for a new dataset: `lexdense anomalies --select`.

A few cells of the embedding x detector AUROC table are measured on the user's labelled
sample; the others are estimated from the table the offline benchmark measured
(``lexdense/data/anomaly_matrix.json``, written by benchmarks/anomaly.py) by completing the
new row (:func:`complete_row`). Estimates are clipped to [0, 1], the range of an AUROC, and
always reported as estimates.
"""

from __future__ import annotations

import numpy as np

from lexdense.anomaly import METHODS, make_detector
from lexdense.errors import InputError, NotFittedError
from lexdense.model import as_encoder, unit_rows
from lexdense.workflow import DEFAULT_MODEL


def _unit(x) -> np.ndarray:
    return unit_rows(x, np.float64)


class TfidfLsa:
    """TF-IDF reduced to 256 dimensions by truncated SVD, fitted on the documents it is given
    first (PyOD detectors need dense vectors); an embedding baseline and a cell of --select."""

    def __init__(self, dims: int = 256):
        self.dims = dims
        self.svd = None

    def fit(self, texts) -> TfidfLsa:
        """Fit TF-IDF and the SVD on ``texts``; returns self."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32)
        matrix = self.tfidf.fit_transform(list(texts))
        self.svd = TruncatedSVD(max(1, min(self.dims, matrix.shape[1] - 1)), random_state=0).fit(matrix)
        return self

    def encode(self, texts, **_) -> np.ndarray:
        """(n, dims) LSA vectors of n texts."""
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
    # An estimate outside [0, 1] is not an AUROC: clipped, and always marked as an estimate.
    predicted = np.clip(complete_row(known, measured, rank=rank), 0.0, 1.0)
    table = [{"cell": c, "auroc": float(measured.get(i, predicted[i])), "measured": i in measured}
             for i, c in enumerate(cells)]
    # Ties (an estimate clipped to 1.0 beside a measured 1.0) go to the measured cell.
    best = max(table, key=lambda row: (row["auroc"], row["measured"]))
    return {"choice": best["cell"], "rank": rank, "cells": table, "holdout": held}


def select_labelled(texts: list[str], is_anomaly, budget: int = 3, seed: int = 0, model=DEFAULT_MODEL,
                    matrix: dict | None = None) -> dict:
    """:func:`select_pair` on one labelled sample: 70% of its normal documents (shuffled with
    ``seed``) fit the detectors, the other normals and every anomaly are scored.

    Parameters
    ----------
    texts
        the labelled sample, n texts.
    is_anomaly
        n booleans (or 0/1), true for the anomalies.
    """
    labels = np.asarray(is_anomaly).astype(int)
    if len(labels) != len(texts):
        raise InputError(f"{len(texts)} texts but {len(labels)} labels")
    normal = np.random.default_rng(seed).permutation(np.flatnonzero(labels == 0))
    cut = int(0.7 * len(normal))
    if cut < 10 or labels.sum() == 0:
        raise InputError("--select needs at least 15 normal and 1 anomalous labelled documents")
    test = np.concatenate([normal[cut:], np.flatnonzero(labels == 1)])
    return select_pair([texts[i] for i in normal[:cut]], [texts[i] for i in test], labels[test],
                       budget=budget, seed=seed, model=model, matrix=matrix)


def complete_row(known: np.ndarray, observed: dict[int, float], rank: int = 1) -> np.ndarray:
    """Predict a new row of a (datasets x cells) score matrix from a few observed cells.

    Model: ``shift + column_mean + a * v``, where ``column_mean`` is each cell's mean over the
    known rows, ``v`` the leading right singular vector of the known rows after removing row
    and column means (double centring), and ``shift`` and ``a`` are fitted to the observed
    cells by least squares. ``rank=0`` drops the ``a * v`` term: the additive baseline that
    any fair claim of a useful rank-1 structure has to beat.

    Parameters
    ----------
    known
        (datasets, cells) scores measured elsewhere (no missing values).
    observed
        cell index -> score measured on the new dataset.
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
