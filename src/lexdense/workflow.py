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
from pathlib import Path
from typing import Any

import numpy as np

from lexdense.errors import InputError, InputTypeError, LexDenseError, NotFittedError
from lexdense.model import DEFAULT_MODEL, unit_rows

__all__ = ["DEFAULT_MODEL", "EstimatorFileError", "Workflow"]


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
                raise InputError(f"this {type(self).__name__} has no embedding model: pass vectors=")
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
                raise InputError("pass texts or vectors=")
            vectors = self.model.encode(self._text_list(texts))
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or not len(vectors):
            raise InputError(f"expected a non-empty (n, dim) matrix of vectors, got shape {vectors.shape}")
        return unit_rows(vectors) if unit else vectors

    @staticmethod
    def _text_list(texts) -> list[str]:
        """``texts`` as a list of str, from any container encode() takes (list, tuple, numpy
        array, pandas Series, pyarrow array); one string is refused."""
        if isinstance(texts, (str, bytes)):
            raise InputTypeError("expected a list of texts, got one string")
        from lexdense.encode_inputs import NO_TEXTS, resolve_texts

        return resolve_texts(texts, NO_TEXTS)[0]

    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise NotFittedError(f"this {type(self).__name__} is not fitted: call fit() first")

    # -- files: safetensors + JSON, never a pickle --------------------------------------
    # A subclass lists its constructor settings in _SETTINGS and gives its fitted state as
    # (JSON-able info, named arrays) in _state(), taking it back in _restore().
    _SETTINGS: tuple[str, ...] = ()
    _FITTED_ATTRIBUTE = ""

    def _state(self) -> tuple[dict, dict[str, np.ndarray]]:
        raise NotImplementedError

    def _restore(self, info: dict, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _settings(self) -> dict:
        return {name: getattr(self, name) for name in self._SETTINGS}

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the fitted estimator to a directory, atomically: ``estimator.json`` (format,
        version, class, settings, model name, fitted info) and ``estimator.safetensors``.
        An existing directory is replaced only if it holds an earlier save of this class (or
        ``overwrite``)."""
        import json

        from safetensors.numpy import save_file

        from lexdense.io.atomic import atomic_directory

        self._check_fitted(self._FITTED_ATTRIBUTE)
        info, arrays = self._state()
        name = type(self).__name__
        path = Path(path)

        def recognize(p: Path) -> bool:
            try:
                return json.loads((p / ESTIMATOR_FILE).read_text()).get("class") == name
            except (OSError, ValueError, AttributeError):
                return False

        with atomic_directory(path, name, overwrite, recognize=recognize) as tmp:
            save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp / WEIGHTS_FILE))
            config = {"format": ESTIMATOR_FORMAT, "version": ESTIMATOR_VERSION, "class": name,
                      "settings": self._settings(), "model": self.model_name, "fitted": info}
            (tmp / ESTIMATOR_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, model=None):
        """An estimator saved by :meth:`save`; ``model`` overrides the saved model name."""
        import json

        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(path)
        config_file, weights_file = path / ESTIMATOR_FILE, path / WEIGHTS_FILE
        name = cls.__name__
        if not config_file.is_file() or not weights_file.is_file():
            raise EstimatorFileError(f"{path}: not a saved {name} (needs {ESTIMATOR_FILE} and {WEIGHTS_FILE})")
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise EstimatorFileError(f"{config_file}: corrupt JSON") from None
        if not isinstance(config, dict) or config.get("format") != ESTIMATOR_FORMAT:
            raise EstimatorFileError(f"{config_file}: not a lexdense estimator")
        if config.get("class") != name:
            raise EstimatorFileError(f"{config_file}: holds a {config.get('class')!r}, not a {name}")
        if config.get("version") != ESTIMATOR_VERSION:
            raise EstimatorFileError(f"{config_file}: format version {config.get('version')!r}; this lexdense "
                                     f"reads version {ESTIMATOR_VERSION}")
        settings, info, saved_model = config.get("settings"), config.get("fitted"), config.get("model")
        if not isinstance(settings, dict) or not isinstance(info, dict) or not (
                saved_model is None or isinstance(saved_model, str)):
            raise EstimatorFileError(f"{config_file}: damaged (settings, fitted info or model name)")
        try:
            arrays = load_file(str(weights_file))
        except (SafetensorError, OSError, ValueError) as exc:
            raise EstimatorFileError(f"{weights_file}: corrupt ({exc})") from None
        try:
            make: Any = cls  # each subclass's __init__ takes its settings and model=
            estimator = make(**settings, model=model if model is not None else saved_model)
            estimator._restore(info, arrays)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise EstimatorFileError(f"{path}: damaged {name} ({type(exc).__name__}: {exc})") from None
        return estimator


ESTIMATOR_FORMAT = "lexdense-estimator"
ESTIMATOR_VERSION = 1
ESTIMATOR_FILE, WEIGHTS_FILE = "estimator.json", "estimator.safetensors"


class EstimatorFileError(LexDenseError, ValueError):
    """A directory is not a usable saved estimator; the message (one line) says why."""
