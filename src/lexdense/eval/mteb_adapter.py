"""Run lexdense models in the real MTEB (with network access): `as_mteb_model(model)`.

The adapter satisfies the `mteb` package's EncoderProtocol (checked by a test against the
installed package): `encode` takes mteb's DataLoader of batches with a "text" column.
"""

from __future__ import annotations

import numpy as np

from lexdense.model import unit_rows


class MTEBEncoder:
    """Wraps any ``encode(list[str])`` embedder for mteb; build it with :func:`as_mteb_model`."""

    def __init__(self, model, meta):
        self.model = model
        self._meta = meta

    def encode(self, inputs, *, task_metadata=None, hf_split=None, hf_subset=None, prompt_type=None,
               **kwargs) -> np.ndarray:
        texts: list[str] = []
        for batch in inputs:
            texts.extend(batch["text"])
        return np.asarray(self.model.encode(texts), dtype=np.float32)

    def similarity(self, embeddings1, embeddings2) -> np.ndarray:
        return unit_rows(embeddings1) @ unit_rows(embeddings2).T

    def similarity_pairwise(self, embeddings1, embeddings2) -> np.ndarray:
        return (unit_rows(embeddings1) * unit_rows(embeddings2)).sum(axis=-1)

    @property
    def mteb_model_meta(self):
        return self._meta


def as_mteb_model(model, name: str | None = None) -> MTEBEncoder:
    """An object mteb can evaluate: ``mteb.evaluate(as_mteb_model(LexDense.load(...)), tasks)``."""
    from mteb.models import ModelMeta

    config = getattr(model, "config", {}) or {}
    n_parameters = int(sum(np.asarray(w).size for w in getattr(model, "weights", {}).values())) or None
    dim = model.get_sentence_embedding_dimension() if hasattr(model, "get_sentence_embedding_dimension") else None
    meta = ModelMeta(
        loader=None,
        name=name or f"lexdense/{config.get('name', 'custom')}",
        revision=str(config.get("format_version", "1")),
        release_date=None,
        languages=["eng-Latn"],
        n_parameters=n_parameters,
        memory_usage_mb=None,
        max_tokens=None,
        embed_dim=dim,
        license="apache-2.0",
        open_weights=True,
        public_training_code=None,
        public_training_data=None,
        framework=["NumPy", "safetensors"],
        similarity_fn_name="cosine",
        use_instructions=False,
        training_datasets=set(),
    )
    return MTEBEncoder(model, meta)
