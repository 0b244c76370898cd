"""What a damaged index looks like: :class:`IndexError_` and the checks that run at load, so a
damaged file is refused with one line naming it, never failing (or silently misranking) at
query time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lexdense.errors import InputError, LexDenseError
from lexdense.messages import one_line


class IndexError_(LexDenseError, ValueError):
    """A directory is not a usable lexdense index (missing or corrupt files)."""


def check_npy_headers(directory: Path) -> None:
    """Each BM25 array file must hold plain numbers: its header is read (not its data) and a
    file of Python objects (a pickle) or an unreadable header is refused, naming the file."""
    for file in sorted(directory.glob("*.npy")):
        try:
            with open(file, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise InputError(f"npy format version {version}, expected 1.0 or 2.0")
                _, _, dtype = read_header(handle)
        except Exception as exc:  # numpy raises ValueError, SyntaxError, ... on a damaged header
            raise IndexError_(f"{file}: damaged BM25 array ({one_line(exc) or type(exc).__name__})") from None
        if dtype.hasobject:
            raise IndexError_(f"{file}: damaged BM25 array (it holds Python objects, which are never loaded)")


_BM25_METHODS = ("robertson", "lucene", "atire", "bm25l", "bm25+")


def check_bm25(retriever, n_docs: int, where: Path) -> None:
    """Refuse (:class:`IndexError_`, one line naming the file) a loaded BM25 index whose
    parameters, vocabulary or arrays a query could not use: every value is checked here, at
    load, so a damaged file never fails (or silently misranks) at query time."""
    from reprlib import repr as short  # values read from a damaged file can be long

    def refuse(file: str, problem: str):
        raise IndexError_(f"{where / file}: damaged BM25 index ({problem})")

    def dtype_of(name: str, kinds: str):
        value = getattr(retriever, name, None)
        try:
            dtype = np.dtype(value) if isinstance(value, str) else None
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.kind not in kinds:
            kind = "a float" if kinds == "f" else "an integer"
            refuse("params.index.json", f"{name} {short(value)} is not {kind} type")
        return dtype

    def array(value, name: str, file: str, kinds: str, length: int) -> np.ndarray:
        if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in kinds:
            shown = (f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray)
                     else type(value).__name__)
            refuse(file, f"{name}: expected a 1-D {'float' if kinds == 'f' else 'integer'} array, got {shown}")
        if len(value) != length:
            refuse(file, f"{name}: {len(value)} entries, expected {length}")
        return value

    for name in ("method", "idf_method"):
        if getattr(retriever, name, None) not in _BM25_METHODS:
            refuse("params.index.json", f"unknown {name} {short(getattr(retriever, name, None))}")
    dtype_of("dtype", "f")
    int_dtype = dtype_of("int_dtype", "iu")
    scores = getattr(retriever, "scores", None)
    if not isinstance(scores, dict):
        refuse("data.csc.index.npy", "no score arrays")
    if type(scores.get("num_docs")) is not int or scores["num_docs"] != n_docs:
        refuse("params.index.json", f"num_docs {short(scores.get('num_docs'))}, the index has {n_docs} documents")
    indptr = scores.get("indptr")
    if not (isinstance(indptr, np.ndarray) and indptr.ndim == 1 and indptr.dtype.kind in "iu" and len(indptr)
            and indptr[0] == 0 and not np.any(np.diff(indptr.astype(np.int64)) < 0)):
        refuse("indptr.csc.index.npy", "indptr: expected a 1-D integer array of non-decreasing offsets from 0")
    n_tokens = len(indptr) - 1
    data = array(scores.get("data"), "data", "data.csc.index.npy", "f", int(indptr[-1]))
    indices = array(scores.get("indices"), "indices", "indices.csc.index.npy", "iu", len(data))
    if not np.all(np.isfinite(data)):
        refuse("data.csc.index.npy", "scores that are not finite numbers")
    if len(indices) and not 0 <= int(indices.min()) <= int(indices.max()) < n_docs:
        refuse("indices.csc.index.npy", f"document numbers outside 0..{n_docs - 1}")
    if n_tokens > np.iinfo(int_dtype).max - 1:
        refuse("params.index.json", f"int_dtype {int_dtype} cannot number {n_tokens} tokens")
    vocab = getattr(retriever, "vocab_dict", None)
    # bm25s numbers the empty string (never a query word) one past the last token
    if not isinstance(vocab, dict) or not all(isinstance(key, str) and type(value) is int
                                              and (0 <= value < n_tokens or key == "") for key, value in vocab.items()):
        refuse("vocab.index.json", f"not a map of words to token numbers 0..{n_tokens - 1}")
    if retriever.method in ("bm25l", "bm25+"):
        nonoccurrence = array(getattr(retriever, "nonoccurrence_array", None), "nonoccurrence_array",
                              "nonoccurrence_array.index.npy", "f", n_tokens)
        if not np.all(np.isfinite(nonoccurrence)):
            refuse("nonoccurrence_array.index.npy", "scores that are not finite numbers")

