"""Embeddings in the shape LangChain, LlamaIndex and Chroma call, with no dependency on them.

    from lexdense.integrations.langchain import LexDenseEmbeddings

    embeddings = LexDenseEmbeddings()            # the shipped model; or a name, directory or LexDense
    embeddings.embed_documents(["a text", "another"])  # list[list[float]]
    embeddings.embed_query("a question")                # list[float]

LangChain: pass it wherever an ``Embeddings`` goes (a vector store's ``embedding=``); when
``langchain_core`` is installed the class derives from its ``Embeddings``, so ``isinstance``
checks pass too. LlamaIndex-style callers use ``get_text_embedding`` /
``get_text_embedding_batch`` / ``get_query_embedding``; Chroma calls the object on a list.
Vectors are unit length (cosine = dot product) unless ``normalize=False``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from lexdense.errors import InputTypeError
from lexdense.model import DEFAULT_MODEL, LexDense

try:  # an optional base class: isinstance(x, Embeddings) holds where LangChain is installed
    from langchain_core.embeddings import Embeddings as _Base
except ImportError:
    _Base = object  # type: ignore[misc,assignment]

__all__ = ["LexDenseEmbeddings"]


class LexDenseEmbeddings(_Base):  # type: ignore[misc,valid-type]
    """A lexdense model behind the ``embed_documents`` / ``embed_query`` interface.

    Parameters
    ----------
    model
        a :class:`~lexdense.LexDense`, or a model directory or shipped model name (loaded
        here, once).
    normalize
        L2-normalise the vectors.
    batch_size
        texts per compiled call.
    """

    def __init__(self, model: LexDense | str | os.PathLike = DEFAULT_MODEL, normalize: bool = True,
                 batch_size: int = 1024):
        self.model = LexDense.load(model) if isinstance(model, (str, os.PathLike)) else model
        if not hasattr(self.model, "encode"):
            raise InputTypeError(f"expected a LexDense model, a model directory or a model name, "
                                 f"got {type(model).__name__}")
        self.normalize = normalize
        self.batch_size = batch_size

    def _encode(self, texts: Any) -> list[list[float]]:
        if isinstance(texts, (str, bytes)):
            raise InputTypeError("expected a list of texts, got one string (embed_query takes one)")
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=self.normalize,
                                    show_progress_bar=False)
        return vectors.tolist()

    # -- LangChain ----------------------------------------------------------------------
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One list of floats per text."""
        return self._encode(texts)

    def embed_query(self, text: str) -> list[float]:
        """One list of floats."""
        if not isinstance(text, str):
            raise InputTypeError(f"expected one str, got {type(text).__name__}")
        return self._encode([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """:meth:`embed_documents` in a worker thread, so the event loop goes on meanwhile."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """:meth:`embed_query` in a worker thread (the event loop keeps running)."""
        return await asyncio.to_thread(self.embed_query, text)

    # -- LlamaIndex ---------------------------------------------------------------------
    def get_text_embedding(self, text: str) -> list[float]:
        """LlamaIndex's text embedding: a list of dim floats."""
        return self.embed_query(text)

    def get_query_embedding(self, query: str) -> list[float]:
        """LlamaIndex's query embedding: a list of dim floats."""
        return self.embed_query(query)

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """LlamaIndex's batch embedding: one list of dim floats per text."""
        return self.embed_documents(texts)

    async def aget_text_embedding(self, text: str) -> list[float]:
        """LlamaIndex's async text embedding: a list of dim floats."""
        return await self.aembed_query(text)

    async def aget_query_embedding(self, query: str) -> list[float]:
        """LlamaIndex's async query embedding: a list of dim floats."""
        return await self.aembed_query(query)

    # -- Chroma -------------------------------------------------------------------------
    def __call__(self, input: list[str]) -> list[list[float]]:
        """Chroma's embedding-function call: one list of floats per text."""
        return self.embed_documents(input)

    def __repr__(self) -> str:
        return f"LexDenseEmbeddings({self.model!r}, normalize={self.normalize})"
