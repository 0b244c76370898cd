"""Turn texts into lexdense features: words, word pairs and character n-grams."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lexdense.errors import InputError, InputTypeError
from lexdense.text import kernels

# numba's workqueue threading layer (the default here, see kernels.py) aborts the process when
# two Python threads enter a parallel kernel (embed_sum) at once, so those calls are serialised. Each
# call already uses every core; a web server or thread pool loses nothing by queueing.
_PARALLEL = threading.Lock()

# The tokenizer.json pre-tokenizer says in HF `tokenizers` terms what the kernel does in bytes.
SEPARATOR_PATTERN = r"[^0-9A-Za-z\x{80}-\x{10FFFF}]+"
# The word rule in Python terms, for spans in the original text (search highlights, passages).
WORD_RE = re.compile(r"[0-9A-Za-z\u0080-\U0010FFFF]+")


def check_texts(texts: object) -> list[str]:
    """Validate a batch of texts, naming the first bad item."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        if not hasattr(texts, "__iter__") or isinstance(texts, (str, bytes, dict)):
            raise InputTypeError(f"expected a list of str, got {type(texts).__name__}")
        texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputTypeError(f"expected a list of str, got {type(text).__name__} at index {index}")
    return texts  # type: ignore[return-value]


def pack(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate texts as UTF-8 bytes with document offsets.

    ASCII is lowercased inside the kernel; other text is lowercased here by Python so that
    'Ünïcode' and 'ünïcode' meet. Lone surrogates become '?', a separator.
    """
    encoded = [
        t.encode("ascii") if t.isascii() else t.lower().encode("utf-8", "replace") for t in texts
    ]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    if buf.size == 0:
        buf = np.zeros(1, dtype=np.uint8)
    return buf, offsets


def words(text: str) -> list[str]:
    """The words the kernel sees in ``text`` (for vocabulary mining and explanations)."""
    return WORD_RE.findall(text.lower())  # pack() lowercases non-ASCII text the same way


def hash_strings(strings: Sequence[str]) -> np.ndarray:
    buf, offsets = pack(list(strings))
    return kernels.hash_strings(buf, offsets)


@dataclass
class Featurizer:
    """Vocabulary of words and word pairs plus the character n-gram settings.

    Parameters
    ----------
    vocabulary
        known words, then known word pairs ("new york"); row i is entry i.
    n_buckets
        rows of the character n-gram table (a power of two).
    ngram_range
        (min, max) length of character n-grams for unknown words.
    use_bigrams
        whether word pairs in the vocabulary are looked up.
    """

    vocabulary: list[str]
    n_buckets: int = 32768
    ngram_range: tuple[int, int] = (3, 5)
    use_bigrams: bool = True
    keys: np.ndarray = field(init=False, repr=False)
    values: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n_buckets < 1 or self.n_buckets & (self.n_buckets - 1):
            raise InputError(f"n_buckets must be a power of two, got {self.n_buckets}")
        n_min, n_max = self.ngram_range
        if not 1 <= n_min <= n_max <= 8:
            raise InputError(f"ngram_range must satisfy 1 <= min <= max <= 8, got {self.ngram_range}")
        hashes = hash_strings(self.vocabulary) if self.vocabulary else np.zeros(0, np.uint64)
        self.keys, self.values, duplicates = kernels.build_table(hashes)
        if duplicates:
            raise InputError(f"vocabulary has {duplicates} duplicate or colliding entries")

    @property
    def n_rows(self) -> int:
        return len(self.vocabulary)

    def feature_lists(self, texts: Sequence[str], oov_rate: float = 0.0, first_doc_index: int = 0):
        """CSR features (ids, weights, doc_offsets); ids >= n_rows are character buckets.

        Parameters
        ----------
        oov_rate
            share of known word occurrences treated as unknown (training only),
            which teaches the character table to stand in for missing words.
        """
        buf, offsets = pack(check_texts(texts))
        n_min, n_max = self.ngram_range
        return kernels.feature_lists(
            buf, offsets, self.keys, self.values, self.n_rows, self.n_buckets, n_min, n_max,
            self.use_bigrams, int(round(oov_rate * 1000)), first_doc_index,
        )

    def sum_rows(self, texts: Sequence[str], token_rows: np.ndarray, char_rows: np.ndarray):
        """Sum each text's feature rows: (sums of shape (n, dim), features found per text)."""
        buf, offsets = pack(texts)
        n_min, n_max = self.ngram_range
        out = np.empty((len(texts), token_rows.shape[1]), dtype=np.float32)
        with _PARALLEL:
            found = kernels.embed_sum(buf, offsets, self.keys, self.values, token_rows, char_rows,
                                      n_min, n_max, self.use_bigrams, out)
        return out, found

    def tokenizer_json(self) -> dict:
        """A HF `tokenizers` WordLevel description of the word split and vocabulary.

        Word pairs are listed too (they contain a space, so the pre-tokenizer never emits
        them); `tokenizers.Tokenizer.from_str` loads the result.
        """
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [],
            "normalizer": {"type": "Lowercase"},
            "pre_tokenizer": {
                "type": "Split",
                "pattern": {"Regex": SEPARATOR_PATTERN},
                "behavior": "Removed",
                "invert": False,
            },
            "post_processor": None,
            "decoder": None,
            "model": {
                "type": "WordLevel",
                "vocab": {token: i for i, token in enumerate(self.vocabulary)},
                "unk_token": "[UNK]",
            },
        }

    @staticmethod
    def vocabulary_from_tokenizer_json(path: Path) -> list[str]:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        vocab = data["model"]["vocab"]
        ordered = sorted(vocab.items(), key=lambda item: item[1])
        if [i for _, i in ordered] != list(range(len(ordered))):
            raise InputError("vocabulary ids are not 0..n-1")
        return [token for token, _ in ordered]
