"""The part of a long document that matched a query, and the query words to mark in it.

Search ranks whole documents (what the eval measures, and what filters, counts and ids
refer to); the passage is chosen when a hit is shown, among the hit's own passages only, so
the index format is unchanged and the cost is paid for the ``k`` hits shown, not for every
document indexed. A passage is about :data:`PASSAGE_WORDS` words, cut at sentence ends.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cache

import numpy as np

from lexdense.text.featurizer import WORD_RE

PASSAGE_WORDS = 60
_TOKEN = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?;:][\"'\u201d\u2019)\]]*$")


@cache
def stopwords() -> frozenset[str]:
    """BM25's English stopwords (bm25s): words that count for no lexical match are not marked."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def query_words(query: str) -> set[str]:
    """The lowercased words of ``query`` that are not stopwords."""
    return {word for word in (m.group(0).lower() for m in WORD_RE.finditer(query)) if word not in stopwords()}


def highlight_spans(text: str, query: str) -> list[list[int]]:
    """[start, end) character spans of the words of ``text`` that are query words (stopwords
    such as "the" and "at" excluded, case-insensitive)."""
    wanted = query_words(query)
    if not wanted:
        return []
    return [[m.start(), m.end()] for m in WORD_RE.finditer(text) if m.group(0).lower() in wanted]


def passage_spans(text: str, words: int = PASSAGE_WORDS) -> list[tuple[int, int]]:
    """[start, end) character spans that cover the words of ``text`` in order: about ``words``
    words each, ending at the last sentence end (or line break) of the second half of the
    window when there is one. A text of at most ``words`` words is one passage."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    if len(tokens) <= words:
        return [(tokens[0][0], tokens[-1][1])] if tokens else [(0, len(text))]
    spans = []
    first = 0
    while first < len(tokens):
        last = min(first + words, len(tokens))  # exclusive
        if last < len(tokens):
            for end in range(last - 1, first + words // 2 - 1, -1):
                start, stop = tokens[end]
                if _SENTENCE_END.search(text, start, stop) or "\n" in text[stop:tokens[end + 1][0]]:
                    last = end + 1
                    break
        spans.append((tokens[first][0], tokens[last - 1][1]))
        first = last
    return spans


def _word_coverage(passages: list[str], wanted: set[str]) -> np.ndarray:
    """Per passage: the query words it holds, each weighted by how rare it is among the
    document's passages (log(1 + passages / passages holding it))."""
    held = [wanted & {w.lower() for w in WORD_RE.findall(p)} for p in passages]
    counts: dict[str, int] = {}
    for words in held:
        for word in words:
            counts[word] = counts.get(word, 0) + 1
    weight = {w: math.log(1 + len(passages) / c) for w, c in counts.items()}
    return np.asarray([sum(weight[w] for w in words) for words in held], np.float32)


def best_passages(texts: Sequence[str], query: str, query_vector: np.ndarray | None = None,
                  encoder=None, words: int = PASSAGE_WORDS) -> list[tuple[int, int]]:
    """For each of ``texts`` (the hits of ``query``), the [start, end) span of its passage that
    best matches the query: the passage holding the most (and rarest) query words, and with
    ``encoder`` and ``query_vector`` the highest cosine too (both scaled to [0, 1], summed).
    Ties go to the earlier passage. The passages of all texts are embedded in one call."""
    from lexdense.search.fusion import scale

    spans = [passage_spans(text, words) for text in texts]
    long = [i for i, s in enumerate(spans) if len(s) > 1]
    if not long:
        return [s[0] for s in spans]
    wanted = query_words(query)
    pieces = [[texts[i][a:b] for a, b in spans[i]] for i in long]
    cosines = None
    if encoder is not None and query_vector is not None:
        from lexdense.model import unit_rows

        flat = unit_rows(encoder.encode([p for passage in pieces for p in passage]))
        cosines = np.split(flat @ np.asarray(query_vector, np.float32).ravel(),
                           np.cumsum([len(p) for p in pieces])[:-1])
    chosen = [s[0] for s in spans]
    for n, i in enumerate(long):
        score = scale(_word_coverage(pieces[n], wanted))
        if cosines is not None:
            score = score + scale(cosines[n])
        chosen[i] = spans[i][int(np.argmax(score))]
    return chosen
