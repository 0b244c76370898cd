"""What every workflow estimator over embeddings shares (classifier, keyword topics, topic
discovery, anomaly detector).

The contract, the same in each, checked by ``tests/test_workflow_contract.py``:

- ``__init__`` stores settings only: it validates them, loads no model and embeds nothing;
  attributes ending in ``_`` exist only after ``fit``.
- ``fit(texts=None, y=None, *, vectors=None)`` returns ``self``; pass texts (embedded with
  ``model``) or precomputed ``vectors`` (``model=None`` then needs no model at all).
- ``predict`` / ``predict_proba`` / ``decision_function`` / ``transform``, where they apply,
  take the same ``texts`` or ``vectors=``; before ``fit`` they raise :class:`NotFittedError`.
- One string where a list of texts belongs is a ``TypeError``; neither texts nor vectors, or
  vectors that are not a non-empty (n, dim) matrix, a ``ValueError``.
"""

from __future__ import annotations

import os

import numpy as np

from lexdense.errors import NotFittedError
from lexdense.model import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "Workflow"]


class Workflow:
    """Base of the estimators: the embedding model (resolved at first use), the texts-or-
    vectors rule, and the not-fitted check."""

    model_spec: object = None
    _encoder: object = None
    _model_name: str | None = None

    def _set_model(self, model) -> None:
        """Keep a name or directory to load at first use, or an object with ``encode``."""
        self.model_spec = model
        self._encoder = None if model is None or isinstance(model, (str, os.PathLike)) else model

    @property
    def model(self):
        """The embedding model, loaded at first use."""
        if self._encoder is None:
            if self.model_spec is None:
                raise ValueError(f"this {type(self).__name__} has no embedding model: pass vectors=")
            from lexdense.model import as_encoder

            self._encoder = as_encoder(str(self.model_spec))
        return self._encoder

    @property
    def model_name(self) -> str | None:
        """The model's name or directory, as saved with a fitted estimator (None: vectors only).
        Settable: a caller that passes a loaded model can say where it came from."""
        if getattr(self, "_model_name", None) is not None:
            return self._model_name
        if self.model_spec is None or isinstance(self.model_spec, (str, os.PathLike)):
            return None if self.model_spec is None else str(self.model_spec)
        return getattr(self.model_spec, "config", {}).get("name")

    @model_name.setter
    def model_name(self, name: str | os.PathLike | None) -> None:
        self._model_name = None if name is None else str(name)

    def _embed(self, texts, vectors, unit: bool = True) -> np.ndarray:
        """(n, dim) float32 rows of ``vectors``, or of ``texts`` embedded; unit length if ``unit``."""
        if vectors is None:
            if texts is None:
                raise ValueError("pass texts or vectors=")
            if isinstance(texts, (str, bytes)):
                raise TypeError("expected a list of texts, got one string")
            vectors = self.model.encode(list(texts))
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or not len(vectors):
            raise ValueError(f"expected a non-empty (n, dim) matrix of vectors, got shape {vectors.shape}")
        if unit:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        return vectors

    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise NotFittedError(f"this {type(self).__name__} is not fitted: call fit() first")
