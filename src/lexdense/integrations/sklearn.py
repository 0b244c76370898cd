"""scikit-learn estimators: lexdense embeddings in Pipelines, grid searches and cross-validation.

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import Pipeline
    from lexdense.integrations.sklearn import LexDenseTransformer

    pipe = Pipeline([("emb", LexDenseTransformer()), ("clf", LogisticRegression())])
    cross_val_score(pipe, texts, labels, cv=3)

Both estimators follow scikit-learn's conventions: ``__init__`` stores its arguments and
loads nothing; the model is loaded by ``fit`` (``model_`` afterwards); ``get_params`` /
``set_params`` / ``clone`` work; texts may be a list, a 1-D array, a pandas Series, or a
one-column 2-D array or DataFrame (what a ColumnTransformer passes).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from lexdense.errors import InputError, InputTypeError, NotFittedError
from lexdense.extras import require
from lexdense.model import DEFAULT_MODEL, LexDense

require("classify", "lexdense.integrations.sklearn")

from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin  # noqa: E402

__all__ = ["LexDenseClassifier", "LexDenseTransformer"]


def _texts(X: Any) -> list[str]:
    """The texts of ``X``: 1-D, or one column of a 2-D array or DataFrame."""
    if isinstance(X, (str, bytes)):
        raise InputTypeError("expected a list of texts, got one string")
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # a pandas DataFrame
        if X.shape[1] != 1:
            raise InputError(f"expected one text column, got a DataFrame with {X.shape[1]} columns")
        X = X.iloc[:, 0]
    elif isinstance(X, np.ndarray) and X.ndim == 2:
        if X.shape[1] != 1:
            raise InputError(f"expected one text column, got an array of shape {X.shape}")
        X = X[:, 0]
    if hasattr(X, "tolist") and not isinstance(X, list):
        X = X.tolist()
    return list(X)


def _load(model: Any) -> Any:
    if isinstance(model, (str, os.PathLike)):
        return LexDense.load(model)
    if not hasattr(model, "encode"):
        raise InputTypeError(f"model_name must be a model name, a directory or an object with encode(), "
                             f"got {type(model).__name__}")
    return model


class LexDenseTransformer(TransformerMixin, BaseEstimator):
    """Texts -> lexdense vectors, as a scikit-learn transformer.

    Parameters
    ----------
    model_name
        a shipped model name, a model directory, or a loaded model (any object
        with ``encode``).
    normalize
        L2-normalise the vectors.
    batch_size
        texts per compiled call.
    truncate_dim
        keep the first dimensions only (None: all).
    """

    def __init__(self, model_name: Any = DEFAULT_MODEL, normalize: bool = True, batch_size: int = 1024,
                 truncate_dim: int | None = None):
        self.model_name = model_name
        self.normalize = normalize
        self.batch_size = batch_size
        self.truncate_dim = truncate_dim

    def fit(self, X: Any = None, y: Any = None) -> LexDenseTransformer:
        """Load the model (there is nothing to learn: the model is pretrained)."""
        self.model_ = _load(self.model_name)
        self.n_features_out_ = int(self.model_.get_sentence_embedding_dimension()
                                   if self.truncate_dim is None else self.truncate_dim)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """(n, dim) float32 vectors of the texts ``X``."""
        if not hasattr(self, "model_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted: call fit() first")
        texts = _texts(X)
        return np.asarray(self.model_.encode(texts, batch_size=self.batch_size,
                                             normalize_embeddings=self.normalize,
                                             truncate_dim=self.truncate_dim, show_progress_bar=False))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names, (dim,) strings ``lexdense0`` ... (scikit-learn's ``set_output``)."""
        if not hasattr(self, "n_features_out_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted: call fit() first")
        return np.asarray([f"lexdense{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


class LexDenseClassifier(ClassifierMixin, BaseEstimator):
    """:class:`lexdense.classify.EmbeddingClassifier` as a scikit-learn classifier.

    EmbeddingClassifier itself passes ``cross_val_score``, ``GridSearchCV`` and ``clone``; this
    wrapper adds scikit-learn's own base classes (``isinstance(est, BaseEstimator)``), its tags,
    and a model given by name (``model_name``) for tools that expect that parameter.
    """

    def __init__(self, model_name: Any = DEFAULT_MODEL, kind: str = "logreg", C: float = 10.0,
                 hidden: int = 256, max_iter: int = 1000, seed: int = 0):
        self.model_name = model_name
        self.kind = kind
        self.C = C
        self.hidden = hidden
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X: Any, y: Any) -> LexDenseClassifier:
        """Fit on ``X`` (n texts) and ``y`` (n labels); returns self."""
        from lexdense.classify import EmbeddingClassifier

        if np.ndim(y) != 1:
            raise InputError(f"expected one label per text (a 1-D y), got shape {np.shape(y)}")
        self.estimator_ = EmbeddingClassifier(model=_load(self.model_name), kind=self.kind, C=self.C,
                                              hidden=self.hidden, max_iter=self.max_iter, seed=self.seed)
        self.estimator_.fit(_texts(X), y)  # labels keep their type: classes_ are y's values
        self.classes_ = self.estimator_.classes_
        return self

    def _check(self) -> None:
        if not hasattr(self, "estimator_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted: call fit() first")

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, n_classes) probabilities, columns in ``classes_`` order."""
        self._check()
        return self.estimator_.predict_proba(_texts(X))

    def predict(self, X: Any) -> np.ndarray:
        """Labels of ``X`` (n texts): an array of n values of the labels' own type."""
        self._check()
        return self.estimator_.predict(_texts(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
