"""Classifiers on lexdense embeddings for data curation (a fastText replacement).

    from lexdense.classify import EmbeddingClassifier
    clf = EmbeddingClassifier(kind="logreg").fit(texts, labels)
    clf.predict(["some text"]); clf.predict_proba(texts)
    clf.save("topic-filter"); EmbeddingClassifier.load("topic-filter")

Training uses scikit-learn (LogisticRegression, or MLPClassifier for ``kind="mlp"``); the
saved classifier is plain weights (``classifier.safetensors``) and ``classifier.json``, never
a pickle, and prediction is numpy matrix products on the embeddings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lexdense.errors import InputError, LexDenseError
from lexdense.io.atomic import atomic_directory
from lexdense.workflow import DEFAULT_MODEL, Workflow

FORMAT = "lexdense-classifier"
KINDS = ("logreg", "mlp")


class ClassifierFileError(LexDenseError, ValueError):
    """A directory is not a usable lexdense classifier."""


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class EmbeddingClassifier(Workflow):
    """Logistic regression or a one-hidden-layer ReLU MLP on embeddings.

    Parameters
    ----------
    model
        embedder name/directory or object with ``encode``; ``None`` when you pass
        vectors yourself.
    kind
        "logreg" (multinomial, L2, ``C``) or "mlp" (``hidden`` ReLU units, early stopping).
    """

    def __init__(self, model=DEFAULT_MODEL, kind: str = "logreg", C: float = 10.0, hidden: int = 256,
                 max_iter: int = 1000, seed: int = 0):
        # Stored as given (scikit-learn's clone checks each is the very object passed), checked
        # here and converted in fit.
        if kind not in KINDS:
            raise InputError(f"unknown kind '{kind}': expected logreg or mlp")
        self._set_model(model)
        self.kind, self.C, self.hidden, self.max_iter, self.seed = kind, C, hidden, max_iter, seed

    # -- scikit-learn's estimator API, without importing scikit-learn -----------------------
    _estimator_type = "classifier"
    _PARAMS = ("model", "kind", "C", "hidden", "max_iter", "seed")

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments; ``model`` as given (a name, directory or object), so
        this never loads a model."""
        return {name: self.model_spec if name == "model" else getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params) -> EmbeddingClassifier:
        """Change constructor arguments (scikit-learn's grid searches); returns ``self``."""
        unknown = sorted(set(params) - set(self._PARAMS))
        if unknown:
            raise InputError(f"unknown parameter '{unknown[0]}' for EmbeddingClassifier: expected one of "
                             f"{', '.join(self._PARAMS)}")
        if params.get("kind", self.kind) not in KINDS:
            raise InputError(f"unknown kind '{params['kind']}': expected logreg or mlp")
        for name, value in params.items():
            if name == "model":
                self._set_model(value)
            else:
                setattr(self, name, value)
        return self

    def score(self, texts=None, y=None, sample_weight=None, *, vectors=None) -> float:
        """Accuracy of :meth:`predict` against the labels ``y`` (weighted by ``sample_weight``)."""
        truth = np.asarray(list(y) if y is not None else [], dtype=object)
        hits = (np.asarray(self.predict(texts, vectors), dtype=object) == truth).astype(float)
        if len(hits) != len(truth):
            raise InputError(f"{len(truth)} labels for {len(hits)} documents")
        return float(np.average(hits, weights=sample_weight))

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=InputTags(two_d_array=False, string=True))

    def _vectors(self, texts, vectors) -> np.ndarray:
        return self._embed(texts, vectors, unit=False)

    def fit(self, texts: Sequence[str] | None = None, y: Sequence | None = None, *,
            vectors: np.ndarray | None = None, labels: Sequence | None = None) -> EmbeddingClassifier:
        """Train on ``texts`` (or ``vectors=``) and their labels ``y`` (``labels=`` is the old name)."""
        from lexdense.extras import require

        require("classify", "training a classifier")
        labels = y if y is not None else labels
        if labels is None:
            raise InputError("labels are required")
        x = self._vectors(texts, vectors)
        y = _label_array(labels)
        if len(y) != len(x):
            raise InputError(f"{len(y)} labels for {len(x)} texts")
        if np.unique(y).size < 2:
            raise InputError("need at least two distinct labels to train a classifier")
        if self.kind == "logreg":
            from sklearn.linear_model import LogisticRegression

            fitted = LogisticRegression(C=float(self.C), max_iter=int(self.max_iter)).fit(x, y)
            weight, bias = fitted.coef_.T.astype(np.float32), fitted.intercept_.astype(np.float32)
            self.layers_ = [(weight, bias)]
        else:
            from sklearn.neural_network import MLPClassifier

            # Early stopping holds out a stratified 10%: only when every label can be in it
            # (else sklearn fails naming its internal labels, not the user's).
            _, counts = np.unique(y, return_counts=True)
            stop_early = counts.min() >= 2 and int(0.1 * len(y)) >= len(counts)
            fitted = MLPClassifier(hidden_layer_sizes=(int(self.hidden),), activation="relu", alpha=1e-4,
                                   early_stopping=stop_early, max_iter=int(self.max_iter),
                                   random_state=self.seed).fit(x, y)
            self.layers_ = [(w.astype(np.float32), b.astype(np.float32))
                           for w, b in zip(fitted.coefs_, fitted.intercepts_)]
        self.classes_ = np.asarray(fitted.classes_)
        return self

    def decision_function(self, texts=None, vectors=None) -> np.ndarray:
        """Class scores before the softmax, shape (n, n_classes), columns in :attr:`classes_` order."""
        self._check_fitted("classes_")
        h = self._vectors(texts, vectors)
        for i, (weight, bias) in enumerate(self.layers_):
            h = h @ weight + bias
            if i < len(self.layers_) - 1:
                np.maximum(h, 0, out=h)
        return h

    def predict_proba(self, texts=None, vectors=None) -> np.ndarray:
        """(n, n_classes) probabilities, columns in ``classes_`` order."""
        z = self.decision_function(texts, vectors)
        if z.shape[1] == 1:  # binary: one logit for classes_[1]
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1 - p, p], axis=1)
        return _softmax(z)

    def predict(self, texts=None, vectors=None) -> np.ndarray:
        """Labels of n texts (or ``vectors=`` (n, dim)): an array of n values from :attr:`classes_`."""
        best = self.predict_proba(texts, vectors).argmax(axis=1)  # first: it checks that fit ran
        return self.classes_[best]

    # -- files ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the classifier directory atomically; an existing directory is replaced only
        if it holds an earlier classifier (or ``overwrite``)."""
        from safetensors.numpy import save_file

        self._check_fitted("classes_")
        path = Path(path)
        with atomic_directory(path, "classifier", overwrite,
                              recognize=lambda p: (p / "classifier.json").is_file()) as tmp:
            tensors = {}
            for i, (weight, bias) in enumerate(self.layers_):
                tensors[f"layer{i}.weight"] = np.ascontiguousarray(weight)
                tensors[f"layer{i}.bias"] = np.ascontiguousarray(bias)
            save_file(tensors, str(tmp / "classifier.safetensors"))
            config = {"format": FORMAT, "version": 1, "kind": self.kind, "model": str(self.model_name)
                      if self.model_name is not None else None, "classes": self.classes_.tolist(),
                      "layers": len(self.layers_), "C": float(self.C), "hidden": int(self.hidden),
                      "max_iter": int(self.max_iter), "seed": self.seed}
            (tmp / "classifier.json").write_text(json.dumps(config, indent=2))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, model=None) -> EmbeddingClassifier:
        """A classifier saved by :meth:`save`; ``model`` overrides the saved embedding model name."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(path)
        config_file, weights_file = path / "classifier.json", path / "classifier.safetensors"
        if not config_file.is_file() or not weights_file.is_file():
            raise ClassifierFileError(f"{path}: not a lexdense classifier (needs classifier.json and "
                                      "classifier.safetensors)")
        try:
            config = json.loads(config_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ClassifierFileError(f"{config_file}: corrupt JSON") from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise ClassifierFileError(f"{config_file}: not a lexdense classifier config")
        try:
            tensors = load_file(str(weights_file))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ClassifierFileError(f"{weights_file}: corrupt ({exc})") from None
        classes, layers = config.get("classes"), config.get("layers")
        if (config.get("kind") not in KINDS or not isinstance(classes, list) or len(classes) < 2
                or _json_type(classes) is None or not isinstance(layers, int) or isinstance(layers, bool)
                or not 1 <= layers <= 8 or not (config.get("model") is None or isinstance(config.get("model"), str))):
            raise ClassifierFileError(f"{config_file}: damaged classifier config (needs kind {' or '.join(KINDS)}, "
                                      "at least two class labels of one type, a layer count and a model name)")
        try:
            clf = cls(model=model if model is not None else config.get("model"), kind=config["kind"],
                      C=float(config.get("C", 10.0)), hidden=int(config.get("hidden", 256)),
                      max_iter=int(config.get("max_iter", 1000)), seed=config.get("seed", 0))
        except (TypeError, ValueError) as exc:
            raise ClassifierFileError(f"{config_file}: damaged classifier config ({exc})") from None
        try:
            clf.layers_ = [(tensors[f"layer{i}.weight"], tensors[f"layer{i}.bias"]) for i in range(config["layers"])]
        except KeyError as exc:
            raise ClassifierFileError(f"{weights_file}: missing tensor {exc}") from None
        clf.classes_ = np.asarray(classes)  # the labels' values and type, as fit saw them
        out = clf.layers_[-1][0].shape[1]
        if out != (1 if len(clf.classes_) == 2 else len(clf.classes_)):
            raise ClassifierFileError(f"{weights_file}: output size {out} does not fit {len(clf.classes_)} classes")
        for (w1, _), (w2, _) in zip(clf.layers_, clf.layers_[1:]):
            if w1.shape[1] != w2.shape[0]:
                raise ClassifierFileError(f"{weights_file}: layer shapes do not chain")
        return clf


def _label_array(labels) -> np.ndarray:
    """The labels as one numpy array of their own type (str, int, float or bool)."""
    if isinstance(labels, (str, bytes)):
        raise InputError("expected a list of labels, got one string")
    values = [v.item() if isinstance(v, np.generic) else v for v in labels]  # numpy and pandas scalars
    kind = _json_type(values)
    if kind is None:
        kinds = sorted({type(v).__name__ for v in values})
        raise InputError(f"labels must be all text, all integers, all numbers or all booleans, got {', '.join(kinds)}")
    return np.asarray(values)


def _json_type(values: list) -> type | None:
    """The one type of ``values`` (bool, int, float or str; int among floats is float), else None."""
    if all(isinstance(v, bool) for v in values):
        return bool
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return int
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return float
    if all(isinstance(v, str) for v in values):
        return str
    return None


def holdout_split(texts: Sequence[str], labels: Sequence, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices: about ``share`` of each label's documents held out, at random.

    Every copy of a text (the same words, whatever the spacing and case) lands on the same side,
    so a held-out figure never scores documents the classifier was trained on: labelled files
    often repeat documents, and a random split then reports more than a real test set gives.
    """
    groups: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault(" ".join(text.lower().split()), []).append(i)
    by_label: dict[str, list[list[int]]] = {}
    for members in groups.values():
        by_label.setdefault(str(labels[members[0]]), []).append(members)
    rng = np.random.default_rng(seed)
    test: list[int] = []
    for label in sorted(by_label):
        label_groups = by_label[label]
        want = share * sum(len(g) for g in label_groups)
        taken = 0
        for g in rng.permutation(len(label_groups)):
            if taken + len(label_groups[g]) / 2 > want:
                continue
            test.extend(label_groups[g])
            taken += len(label_groups[g])
    test_rows = np.asarray(sorted(test), dtype=np.int64)
    return np.setdiff1d(np.arange(len(texts)), test_rows), test_rows


def classification_report(y_true: Sequence, y_pred: Sequence) -> dict:
    """Accuracy and, per class, precision, recall, F1 and support (labels compared as text).

    Parameters
    ----------
    y_true
        the labels of a test file.
    y_pred
        the classifier's labels for the same documents.

    Returns
    -------
        ``{"documents", "accuracy", "accuracy_95ci": [low, high] (Wilson), "macro_f1",
        "classes": {label: {"precision", "recall", "f1", "support"}}}``.
    """
    truth = np.asarray([str(y) for y in y_true])
    guess = np.asarray([str(y) for y in y_pred])
    if len(truth) != len(guess) or not len(truth):
        raise InputError(f"need as many predictions as labels, at least one (got {len(guess)} and {len(truth)})")
    classes = {}
    for label in sorted(set(truth) | set(guess)):
        hit = float(np.sum((truth == label) & (guess == label)))
        precision = hit / max(float(np.sum(guess == label)), 1.0)
        recall = hit / max(float(np.sum(truth == label)), 1.0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        classes[label] = {"precision": precision, "recall": recall, "f1": f1, "support": int(np.sum(truth == label))}
    n, accuracy = len(truth), float(np.mean(truth == guess))
    z = 1.96  # Wilson score interval: sound for small test sets and accuracies near 0 or 1
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    supported = [entry["f1"] for entry in classes.values() if entry["support"]]
    return {"documents": n, "accuracy": accuracy, "accuracy_95ci": [float(centre - half), float(centre + half)],
            "macro_f1": float(np.mean(supported)) if supported else 0.0, "classes": classes}
