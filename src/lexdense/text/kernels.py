"""Compiled byte-level featurizer: the part of lexdense that must be fast.

One pass over UTF-8 bytes lowercases ASCII, splits words (ASCII letters and digits, and any
non-ASCII byte, form words; everything else separates them), hashes each word and each
adjacent word pair with 64-bit FNV-1a, looks the hashes up in an open-addressing table, and
falls back to hashed character n-grams for words the vocabulary lacks. The same walk either
sums embedding rows (inference) or emits sparse feature lists (training), so the two paths
cannot drift apart.
"""

from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit, prange

# numba's OpenMP threads keep spinning after a parallel region and starve the BLAS threads
# of the dense layers that follow; the workqueue pool does not (measured: 65k -> 110k short
# docs/s on 2 cores). A user's own NUMBA_THREADING_LAYER wins.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
SPACE = np.uint64(0x20)
EMPTY = np.int32(-1)
# Words longer than this are hashed whole but only their first bytes make character n-grams:
# a 10 kB base64 blob must not cost 30k table rows.
MAX_NGRAM_WORD_BYTES = 48


@njit(inline="always")
def _is_word_byte(b):
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b >= 128


@njit(inline="always")
def _lower(b):
    if 65 <= b <= 90:
        return b + 32
    return b


@njit(inline="always")
def _fnv_step(h, b):
    return (h ^ np.uint64(b)) * FNV_PRIME


@njit(inline="always")
def _lookup(keys, values, key):
    mask = np.uint64(keys.shape[0] - 1)
    slot = key & mask
    while True:
        value = values[slot]
        if value == EMPTY:
            return EMPTY
        if keys[slot] == key:
            return value
        slot = (slot + np.uint64(1)) & mask


@njit(cache=True)
def build_table(hashes):
    """Open-addressing table (load <= 0.5) mapping each hash to its index in ``hashes``."""
    capacity = 16
    while capacity < 2 * hashes.shape[0]:
        capacity *= 2
    keys = np.zeros(capacity, dtype=np.uint64)
    values = np.full(capacity, EMPTY, dtype=np.int32)
    mask = np.uint64(capacity - 1)
    duplicates = 0
    for i in range(hashes.shape[0]):
        slot = hashes[i] & mask
        while values[slot] != EMPTY and keys[slot] != hashes[i]:
            slot = (slot + np.uint64(1)) & mask
        if values[slot] != EMPTY:
            duplicates += 1
            continue
        keys[slot] = hashes[i]
        values[slot] = i
    return keys, values, duplicates


@njit(cache=True)
def hash_strings(buf, offsets):
    """FNV-1a of each lowercased byte string ``buf[offsets[i]:offsets[i+1]]``."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = FNV_OFFSET
        for j in range(offsets[i], offsets[i + 1]):
            h = _fnv_step(h, _lower(buf[j]))
        out[i] = h
    return out


@njit(inline="always")
def _padded_byte(buf, start, length, k):
    # '<' word '>' without copying: k indexes the virtual padded word.
    if k == 0:
        return 60
    if k == length + 1:
        return 62
    return _lower(buf[start + k - 1])


@njit(inline="always")
def _oov_token(position_hash, oov_rate_per_mille):
    # Deterministic pseudo-random choice, so training features are reproducible.
    mixed = position_hash * np.uint64(0x9E3779B97F4A7C15)
    return np.int64(mixed >> np.uint64(40)) % 1000 < oov_rate_per_mille


# Most character n-grams one word can have: (48 + 2) - n + 1 for n = 1..8, summed.
MAX_WORD_NGRAMS = 8 * (MAX_NGRAM_WORD_BYTES + 2)


@njit(inline="always")
def _next_word(buf, i, end, prev_hash):
    """Skip separators from ``i``; return (start, stop, word hash, pair hash) of the next word.

    The pair hash continues FNV-1a from the previous word's hash through a space, so it
    equals the hash of the string "previous word".
    """
    while i < end and not _is_word_byte(buf[i]):
        i += 1
    start = i
    h = FNV_OFFSET
    hb = _fnv_step(prev_hash, SPACE)
    while i < end and _is_word_byte(buf[i]):
        b = _lower(buf[i])
        h = _fnv_step(h, b)
        hb = _fnv_step(hb, b)
        i += 1
    return start, i, h, hb


@njit(inline="always")
def _char_buckets(buf, start, length, n_min, n_max, n_buckets, buckets):
    """Write the hashed n-gram buckets of the word ``buf[start:start+length]``; return how many."""
    short_len = min(length, MAX_NGRAM_WORD_BYTES)
    count = 0
    for k in range(short_len + 2):
        g = FNV_OFFSET
        for n in range(1, n_max + 1):
            if k + n > short_len + 2:
                break
            g = _fnv_step(g, _padded_byte(buf, start, short_len, k + n - 1))
            if n >= n_min:
                buckets[count] = np.int64(g % np.uint64(n_buckets))
                count += 1
    return count


@njit(inline="always")
def _next_features(buf, i, end, prev_hash, have_prev, keys, values, n_min, n_max, n_buckets, use_bigrams,
                   oov_rate_per_mille, doc_index, position, buckets):
    """The walk's one step: find the next word from ``i`` and look up its features.

    Returns (start, stop, word hash, row, n_grams, pair). ``start == stop``: no word is left.
    ``row`` is the word's table row, or EMPTY for an unknown word (or one dropped by the
    training-time OOV rate), whose ``n_grams`` character buckets are then in ``buckets``.
    ``pair`` is the row of (previous word, word), or EMPTY. Both walks below take their
    features from here, so inference and training cannot drift apart.
    """
    start, stop, h, hb = _next_word(buf, i, end, prev_hash)
    row = EMPTY
    n_grams = 0
    pair = EMPTY
    if start == stop:
        return start, stop, h, row, n_grams, pair
    row = _lookup(keys, values, h)
    if row != EMPTY and oov_rate_per_mille > 0:
        salt = h ^ (np.uint64(doc_index) * np.uint64(0x85EBCA6B)) ^ np.uint64(position + 1)
        if _oov_token(salt, oov_rate_per_mille):
            row = EMPTY
    if row == EMPTY:
        n_grams = _char_buckets(buf, start, stop - start, n_min, n_max, n_buckets, buckets)
    if use_bigrams and have_prev:
        pair = _lookup(keys, values, hb)
    return start, stop, h, row, n_grams, pair


@njit(cache=True, parallel=True)
def embed_sum(buf, offsets, keys, values, token_rows, char_rows, n_min, n_max, use_bigrams, out):
    """Sum embedding rows of each document's features into ``out`` (n_docs, dim).

    Known words and known word pairs add their (IDF-folded) row; an unknown word adds the
    mean of its character n-gram rows. Returns the number of features found per document.
    """
    n_docs = offsets.shape[0] - 1
    dim = token_rows.shape[1]
    n_buckets = char_rows.shape[0]
    found = np.zeros(n_docs, dtype=np.int64)
    for d in prange(n_docs):
        acc = out[d]
        for c in range(dim):
            acc[c] = 0.0
        buckets = np.empty(MAX_WORD_NGRAMS, dtype=np.int64)
        end = offsets[d + 1]
        i = offsets[d]
        prev_hash = np.uint64(0)
        have_prev = False
        count = 0
        while True:
            start, i, h, row, n_grams, pair = _next_features(buf, i, end, prev_hash, have_prev, keys, values, n_min,
                                                             n_max, n_buckets, use_bigrams, 0, 0, 0, buckets)
            if start == i:
                break
            if row != EMPTY:
                for c in range(dim):
                    acc[c] += token_rows[row, c]
                count += 1
            elif n_grams > 0:
                inv = np.float32(1.0 / n_grams)
                for g in range(n_grams):
                    bucket = buckets[g]
                    for c in range(dim):
                        acc[c] += char_rows[bucket, c] * inv
                count += 1
            if pair != EMPTY:
                for c in range(dim):
                    acc[c] += token_rows[pair, c]
                count += 1
            prev_hash = h
            have_prev = True
        found[d] = count
    return found


@njit(inline="always")
def _put(ids, weights, cursor, row, weight, emit):
    """Write (row, weight) at ``cursor`` when ``emit`` (the counting pass only counts); next cursor."""
    if emit:
        ids[cursor] = row
        weights[cursor] = weight
    return cursor + 1


@njit(cache=True)
def _walk_features(buf, start_doc, end_doc, keys, values, n_rows, n_buckets, n_min, n_max,
                   use_bigrams, oov_rate_per_mille, doc_index, ids, weights, cursor, emit, buckets):
    """Walk one document; when ``emit`` write (row id, weight) pairs at ``cursor``.

    Rows >= n_rows are character buckets. Returns the new cursor.
    """
    i = start_doc
    prev_hash = np.uint64(0)
    have_prev = False
    position = 0
    while True:
        start, i, h, row, n_grams, pair = _next_features(buf, i, end_doc, prev_hash, have_prev, keys, values,
                                                         n_min, n_max, n_buckets, use_bigrams,
                                                         oov_rate_per_mille, doc_index, position, buckets)
        if start == i:
            break
        position += 1
        if row != EMPTY:
            cursor = _put(ids, weights, cursor, row, 1.0, emit)
        else:
            for g in range(n_grams):
                cursor = _put(ids, weights, cursor, n_rows + buckets[g], 1.0 / n_grams, emit)
        if pair != EMPTY:
            cursor = _put(ids, weights, cursor, pair, 1.0, emit)
        prev_hash = h
        have_prev = True
    return cursor


@njit(cache=True)
def feature_lists(buf, offsets, keys, values, n_rows, n_buckets, n_min, n_max, use_bigrams,
                  oov_rate_per_mille, first_doc_index):
    """Sparse features of every document, CSR style: (ids, weights, doc_offsets).

    Character n-gram weights are 1/k for a word of k n-grams, so a bag sums exactly what
    :func:`embed_sum` sums once the rows are the same.
    """
    n_docs = offsets.shape[0] - 1
    doc_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    dummy_ids = np.zeros(0, dtype=np.int64)
    dummy_weights = np.zeros(0, dtype=np.float32)
    buckets = np.empty(MAX_WORD_NGRAMS, dtype=np.int64)
    for d in range(n_docs):
        size = _walk_features(buf, offsets[d], offsets[d + 1], keys, values, n_rows, n_buckets,
                              n_min, n_max, use_bigrams, oov_rate_per_mille,
                              first_doc_index + d, dummy_ids, dummy_weights, 0, False, buckets)
        doc_offsets[d + 1] = doc_offsets[d] + size
    ids = np.empty(doc_offsets[n_docs], dtype=np.int64)
    weights = np.empty(doc_offsets[n_docs], dtype=np.float32)
    for d in range(n_docs):
        _walk_features(buf, offsets[d], offsets[d + 1], keys, values, n_rows, n_buckets,
                       n_min, n_max, use_bigrams, oov_rate_per_mille, first_doc_index + d,
                       ids, weights, doc_offsets[d], True, buckets)
    return ids, weights, doc_offsets
