"""Plug points for other libraries; each module imports its library only when imported itself.

- :mod:`lexdense.integrations.sentence_transformers`: ``LexDenseModule``, the module that
  ``SentenceTransformer(path)`` loads from a directory written by :meth:`LexDense.save`.
- :mod:`lexdense.integrations.sklearn`: ``LexDenseTransformer`` (texts -> vectors in a
  Pipeline) and ``LexDenseClassifier`` (:class:`~lexdense.classify.EmbeddingClassifier` as a
  scikit-learn estimator, for ``cross_val_score`` and grid searches).
- :mod:`lexdense.integrations.bertopic`: ``LexDenseBackend`` for ``BERTopic(embedding_model=...)``.
- :mod:`lexdense.integrations.langchain`: ``LexDenseEmbeddings``, the LangChain / LlamaIndex /
  Chroma embedding interfaces with no dependency on those packages.
"""
