"""What ``LexDense.encode`` accepts: the texts' containers, and sentence-transformers' arguments."""

from __future__ import annotations

from typing import Any

import numpy as np

from lexdense.errors import InputError, InputTypeError
from lexdense.text.featurizer import check_texts

NO_TEXTS: Any = object()  # encode() called without texts (``sentences`` and ``inputs`` both left out)
_ST_KWARGS = ("task", "processing_kwargs")


def resolve_texts(sentences: Any, inputs: Any) -> tuple[list[str], bool]:
    """The texts of ``encode``'s first argument (or ``inputs=``) as a list, and whether one
    string was given. Containers that do not iterate over their texts are converted (numpy
    arrays, pandas Series, pyarrow arrays) or refused (a DataFrame or Table: name a column)."""
    if sentences is NO_TEXTS and inputs is NO_TEXTS:
        raise InputError("encode() needs texts: a string or a list of strings")
    if sentences is not NO_TEXTS and inputs is not NO_TEXTS:
        raise InputError("encode() got both sentences and inputs: pass the texts once")
    texts = inputs if sentences is NO_TEXTS else sentences
    if isinstance(texts, str):
        return [texts], True
    module = type(texts).__module__.split(".")[0]
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise InputError(f"expected a 1-D array of texts, got an array of shape {texts.shape}")
        texts = texts.tolist()
    elif module in ("pandas", "polars", "pyarrow") and hasattr(texts, "columns"):
        raise InputTypeError(f"expected texts, got a {type(texts).__name__}: pass one column, e.g. data['text']")
    elif module == "pyarrow" and hasattr(texts, "to_pylist"):
        import pyarrow as pa

        kind = texts.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or getattr(pa.types, "is_string_view", lambda _: False)(kind)):
            raise InputTypeError(f"expected a pyarrow array of strings, got one of {kind}")
        texts = texts.to_pylist()
    elif module == "pandas" and hasattr(texts, "tolist"):
        missing = np.flatnonzero(np.asarray(texts.isna())) if hasattr(texts, "isna") else np.zeros(0, np.int64)
        if len(missing):
            raise InputTypeError(f"expected a list of str, got a missing value ({texts.iloc[missing[0]]!r}) "
                                 f"at index {missing[0]}")
        texts = texts.tolist()
    return check_texts(texts), False


def check_st_options(output_value: Any, device: Any, pool: Any, kwargs: dict[str, Any]) -> None:
    """Refuse, in one line each, the sentence-transformers options lexdense cannot honour."""
    if output_value != "sentence_embedding":
        if output_value is None or output_value == "token_embeddings":
            raise InputError(f"output_value={output_value!r} is not supported: lexdense gives one vector per "
                             "text (output_value='sentence_embedding'), no token embeddings")
        raise InputError(f"unknown output_value {output_value!r}: expected 'sentence_embedding'")
    if pool is not None or isinstance(device, (list, tuple)):
        raise InputError("multi-process encoding (pool=, a list of devices) is not supported: lexdense encodes "
                         "in one process with numba threads")
    if device is not None and str(device).split(":")[0] != "cpu":
        raise InputError(f"device={str(device)!r} is not supported: lexdense encodes on the CPU (device='cpu' or None)")
    for name in kwargs:
        if name not in _ST_KWARGS:
            raise InputError(f"encode() got an unexpected argument {name!r}")
    if kwargs.get("processing_kwargs"):
        raise InputError("processing_kwargs is not supported: lexdense has no tokenizer settings to override")


def torch_or_error(what: str):
    """torch, or a one-line MissingExtraError naming ``what`` needed it."""
    try:
        import torch
    except ImportError:
        from lexdense.extras import MissingExtraError

        raise MissingExtraError(f"{what} needs torch, which is not installed: pip install torch "
                                "(or keep the default numpy output)") from None
    return torch
