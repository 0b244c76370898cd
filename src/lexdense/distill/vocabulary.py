"""Mine the word and word-pair vocabulary of a corpus by document frequency."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from lexdense.text.featurizer import words


@dataclass
class Vocabulary:
    """Known words then known word pairs, with document frequency based IDF and the SIF
    weight a / (a + p(token)) of Arora et al. (p = share of all word occurrences)."""

    tokens: list[str]
    idf: list[float]
    n_words: int
    n_documents: int
    sif: list[float]

    @property
    def n_bigrams(self) -> int:
        return len(self.tokens) - self.n_words


def mine_vocabulary(
    documents: Iterable[str],
    n_words: int = 40000,
    n_bigrams: int = 10000,
    min_df: int = 2,
    min_bigram_df: int = 5,
    extra_words: Iterable[str] = (),
    sif_a: float = 1e-4,
) -> Vocabulary:
    """Keep the ``n_words`` words and ``n_bigrams`` adjacent word pairs found in most documents.

    Exact counts (a Counter) suffice for corpora that fit a laptop; pairs count only when
    both words are kept, so a pair row always refines two known rows.

    Parameters
    ----------
    min_df
        a word must occur in at least this many documents.
    min_bigram_df
        likewise for a word pair.
    extra_words
        words kept whatever their count (e.g. the teacher's whole-word
        tokens: names and numbers the corpus lacks still get a row initialised from the
        teacher, which knows them).
    """
    word_df: Counter[str] = Counter()
    word_count: Counter[str] = Counter()
    pair_df: Counter[str] = Counter()
    n_documents = 0
    for text in documents:
        n_documents += 1
        tokens = words(text)
        word_count.update(tokens)
        word_df.update(set(tokens))
        if n_bigrams:
            pair_df.update({f"{a} {b}" for a, b in zip(tokens, tokens[1:])})
    # Ties are broken by the token itself: Counter order follows set order, which changes
    # with every interpreter's hash seed, and the vocabulary must not.
    ranked_words = sorted(word_df.items(), key=lambda item: (-item[1], item[0]))
    kept_words = [w for w, c in ranked_words if c >= min_df][:n_words]
    known = set(kept_words)
    for word in extra_words:
        word = word.lower()
        if word not in known and words(word) == [word]:
            kept_words.append(word)
            known.add(word)
    kept_pairs = []
    for pair, count in sorted(pair_df.items(), key=lambda item: (-item[1], item[0])):
        if count < min_bigram_df or len(kept_pairs) >= n_bigrams:
            break
        first, second = pair.split(" ")
        if first in known and second in known:
            kept_pairs.append(pair)
    tokens = kept_words + kept_pairs
    df = [word_df[w] for w in kept_words] + [pair_df[p] for p in kept_pairs]
    idf = [math.log((1 + n_documents) / (1 + d)) + 1.0 for d in df]
    total = max(1, sum(word_count.values()))
    sif = [sif_a / (sif_a + word_count[w] / total) for w in kept_words] + [1.0] * len(kept_pairs)
    return Vocabulary(tokens, idf, len(kept_words), n_documents, sif)
