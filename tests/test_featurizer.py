import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import VOCAB
from lexdense.text import kernels
from lexdense.text.featurizer import Featurizer, hash_strings, pack, words


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def test_hash_is_fnv1a_of_lowercased_bytes():
    strings = ["hello", "Hello", "new york", "ünï", ""]
    expected = [fnv1a(s.lower().encode()) for s in strings]
    assert hash_strings(strings).tolist() == expected


def test_word_split_matches_python_reference():
    featurizer = Featurizer(["it", "s", "state", "of", "the", "art", "42", "café"], n_buckets=64)
    text = "It's STATE-of-the-art: 42 Café!"
    ids, weights, offsets = featurizer.feature_lists([text])
    assert words(text) == ["it", "s", "state", "of", "the", "art", "42", "café"]
    # All eight words are known: one row each, in order, weight 1.
    assert ids.tolist() == list(range(8))
    assert weights.tolist() == [1.0] * 8


def test_tokenizer_json_splits_words_like_the_kernel():
    tokenizers = pytest.importorskip("tokenizers")
    featurizer = Featurizer(VOCAB, n_buckets=64)
    tokenizer = tokenizers.Tokenizer.from_str(json.dumps(featurizer.tokenizer_json()))
    text = "The CAT sat -- on the mat; the dog!"
    pieces = [piece for piece, _ in tokenizer.pre_tokenizer.pre_tokenize_str(
        tokenizer.normalizer.normalize_str(text))]
    assert pieces == words(text)


def test_bigram_rows_are_added_only_for_adjacent_known_pairs():
    featurizer = Featurizer(VOCAB, n_buckets=64)
    index = {t: i for i, t in enumerate(VOCAB)}
    ids, _, offsets = featurizer.feature_lists(["new york city", "york new", "new, york"])
    doc = lambda d: ids[offsets[d]:offsets[d + 1]].tolist()
    assert doc(0) == [index["new"], index["york"], index["new york"], index["city"]]
    assert doc(1) == [index["york"], index["new"]]
    # Punctuation separates words but does not break a pair: the kernel sees words only.
    assert doc(2) == [index["new"], index["york"], index["new york"]]


def test_unknown_word_spreads_unit_weight_over_its_char_ngrams():
    featurizer = Featurizer(VOCAB, n_buckets=64)
    ids, weights, offsets = featurizer.feature_lists(["zebra"])
    # "<zebra>" has 5 trigrams, 4 four-grams, 3 five-grams.
    assert offsets.tolist() == [0, 12]
    assert np.all(ids >= len(VOCAB)) and np.all(ids < len(VOCAB) + 64)
    assert weights.sum() == pytest.approx(1.0)


def test_oov_rate_hides_a_share_of_known_words_reproducibly():
    featurizer = Featurizer(VOCAB, n_buckets=64)
    texts = ["the cat sat on the mat"] * 200
    first = featurizer.feature_lists(texts, oov_rate=0.3)
    second = featurizer.feature_lists(texts, oov_rate=0.3)
    assert np.array_equal(first[0], second[0])
    known_unigrams = sum(int(i) in {0, 1, 2, 3, 4} for i in first[0])
    total = 200 * 6
    assert 0.6 * total < known_unigrams < 0.8 * total


def test_pack_offsets_and_lowercasing():
    buf, offsets = pack(["AB", "", "Éa"])
    assert offsets.tolist() == [0, 2, 2, 2 + len("éa".encode())]
    assert bytes(buf[2:]).decode() == "éa"
    # Lone surrogates cannot be encoded: they become a separator, not an exception.
    buf, offsets = pack(["a\ud800b"])
    assert offsets.tolist() == [0, 3]


texts_strategy = st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
                          | st.sampled_from(["new york", "the cat sat", "  ", "NEW   York!"]),
                          max_size=8)


@settings(max_examples=60, deadline=None)
@given(texts_strategy)
def test_sum_rows_equals_weighted_feature_lists(texts):
    rng = np.random.default_rng(0)
    featurizer = Featurizer(VOCAB, n_buckets=64)
    token_rows = rng.normal(size=(len(VOCAB), 8)).astype(np.float32)
    char_rows = rng.normal(size=(64, 8)).astype(np.float32)
    sums, found = featurizer.sum_rows(texts, token_rows, char_rows)
    ids, weights, offsets = featurizer.feature_lists(texts)
    table = np.vstack([token_rows, char_rows])
    for d in range(len(texts)):
        span = slice(offsets[d], offsets[d + 1])
        expected = (table[ids[span]] * weights[span, None]).sum(axis=0)
        np.testing.assert_allclose(sums[d], expected, rtol=1e-4, atol=1e-4)
        assert (found[d] == 0) == (offsets[d] == offsets[d + 1])


def test_build_table_reports_duplicates():
    hashes = np.array([1, 2, 2, 3], dtype=np.uint64)
    _, _, duplicates = kernels.build_table(hashes)
    assert duplicates == 1
    with pytest.raises(ValueError, match="duplicate"):
        Featurizer(["a", "A"], n_buckets=64)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="power of two"):
        Featurizer(["a"], n_buckets=100)
    with pytest.raises(ValueError, match="ngram_range"):
        Featurizer(["a"], ngram_range=(5, 3))


def test_words_see_what_the_kernel_sees_in_any_case():
    """One word rule: "Émigré", "ÉMIGRÉ" and "émigré" are one word to the kernel (pack()
    lowercases non-ASCII text, the kernel ASCII bytes) and to words(), which mines vocabularies
    and checks keywords; search highlights use the same pattern (WORD_RE)."""
    from lexdense.search.passages import query_words

    featurizer = Featurizer(["émigré"], n_buckets=64)
    text = "Émigré ÉMIGRÉ émigré"
    assert words(text) == ["émigré"] * 3
    ids, weights, offsets = featurizer.feature_lists([text])
    assert ids.tolist() == [0, 0, 0]
    assert query_words(text) == {"émigré"}
