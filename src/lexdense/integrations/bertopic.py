"""A BERTopic embedding backend that runs lexdense, offline.

    from bertopic import BERTopic
    from lexdense.integrations.bertopic import LexDenseBackend

    topic_model = BERTopic(embedding_model=LexDenseBackend())  # or LexDenseBackend(LexDense.load(path))

``BERTopic(embedding_model=LexDense.load())`` does not do this: BERTopic's ``select_backend``
only recognises its own backends and a few libraries by type name, so a LexDense object falls
through to its default and BERTopic downloads all-MiniLM-L6-v2 (or fails offline). Wrap the
model in :class:`LexDenseBackend`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from lexdense.errors import InputTypeError
from lexdense.extras import require
from lexdense.model import DEFAULT_MODEL, LexDense

require("bertopic", "lexdense.integrations.bertopic")

from bertopic.backend import BaseEmbedder  # noqa: E402

__all__ = ["LexDenseBackend"]


class LexDenseBackend(BaseEmbedder):
    """lexdense vectors for BERTopic's documents and words.

    Parameters
    ----------
    embedding_model
        a :class:`~lexdense.LexDense`, a model directory or a shipped
        model name (default: the shipped model).
    batch_size
        texts per compiled call.
    """

    def __init__(self, embedding_model: LexDense | str | os.PathLike = DEFAULT_MODEL, batch_size: int = 1024):
        if isinstance(embedding_model, (str, os.PathLike)):
            embedding_model = LexDense.load(embedding_model)
        if not hasattr(embedding_model, "encode"):
            raise InputTypeError(f"expected a LexDense model, a model directory or a model name, "
                                 f"got {type(embedding_model).__name__}")
        super().__init__(embedding_model=embedding_model)
        self.batch_size = batch_size

    def embed(self, documents: Any, verbose: bool = False) -> np.ndarray:
        """(n, dim) unit-length float32 vectors of ``documents`` (words too: BERTopic calls this
        for both)."""
        return self.embedding_model.encode(documents, batch_size=self.batch_size, show_progress_bar=verbose)
