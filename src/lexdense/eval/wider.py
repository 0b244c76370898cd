"""Tasks on the 2026-12 offline sources (docs/data.md says how each is built).

Opinion text, questions, encyclopedic and e-mail text, intents and rewrites: the kinds of
text the first suite (news and newsgroups) did not see. Shared sources use only their
evaluation half (:func:`lexdense.sources.corpora.is_eval_half`); bigbench files are evaluation
only. Every split and sample is seeded, so the fingerprint of a task is stable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # for annotations only: lexdense.eval.tasks imports this module
    from lexdense.eval.tasks import (
        Classification,
        Clustering,
        PairClassification,
        Retrieval,
    )


def _t():
    """lexdense.eval.tasks (imported when a task is built: that module registers these)."""
    from lexdense.eval import tasks

    return tasks


def _stratified_halves(name: str, texts: list[str], labels: list[str], n: int | None, seed: int) -> Classification:
    """A stratified sample of ``n`` items (all when None), cut 50/50 per label into train/test."""
    index = _t().stratified_sample(labels, n, seed) if n and n < len(labels) else np.arange(len(labels))
    rng = np.random.default_rng(seed + 1)
    labels_arr = np.asarray(labels)
    train, test = [], []
    for label in np.unique(labels_arr[index]):
        members = rng.permutation(index[labels_arr[index] == label])
        half = len(members) // 2
        train.extend(members[:half])
        test.extend(members[half:])
    train, test = np.sort(train), np.sort(test)
    return _t().Classification(name, [texts[i] for i in train], [labels[i] for i in train],
                          [texts[i] for i in test], [labels[i] for i in test])


def _multiemo_sentences(quick: bool) -> Classification:
    """MultiEmo review sentences, 4 sentiment classes: 8,000 sampled, 50/50 per class."""
    from lexdense.sources import corpora

    data = corpora.multiemo("sentence")
    return _stratified_halves("multiemo-sentence-classification", data.texts, data.labels,
                              1000 if quick else 8000, 21)


def _multiemo_texts(quick: bool) -> Classification:
    """MultiEmo whole reviews, 4 sentiment classes: 4,000 sampled, 50/50 per class."""
    from lexdense.sources import corpora

    data = corpora.multiemo("text")
    return _stratified_halves("multiemo-text-classification", data.texts, data.labels,
                              600 if quick else 4000, 22)


def _snips(quick: bool) -> Classification:
    """SNIPS intents (bigbench intent_recognition): 693 utterances, 7 intents, 50/50 per class."""
    from lexdense.sources import corpora

    data = corpora.snips_intents()
    return _stratified_halves("snips-intent-classification", data.texts, data.labels, 300 if quick else None, 23)


def _spam(quick: bool) -> Classification:
    """SpamAssassin e-mail bodies (evaluation half), spam or ham, 50/50 per class."""
    from lexdense.sources import corpora

    data = corpora.spam_assassin("eval")
    return _stratified_halves("spam-classification", data.texts, data.labels, 600 if quick else None, 24)


def _bbc(quick: bool) -> Classification:
    """BBC news articles (evaluation half), 5 topics, 50/50 per class."""
    from lexdense.sources import corpora

    data = corpora.bbc_news("eval")
    return _stratified_halves("bbc-classification", data.texts, data.labels, 400 if quick else None, 25)


def _wiki_topics():
    from lexdense.sources import corpora

    leads = corpora.wiki_leads("eval")
    keep = [i for i, topic in enumerate(leads.topics) if topic and topic != "Uncategorized"]
    return [leads.texts[i] for i in keep], [leads.topics[i] for i in keep]


def _wiki_topic_classification(quick: bool) -> Classification:
    """Wikipedia lead sections (evaluation half) by topic (11, 'Uncategorized' left out)."""
    texts, topics = _wiki_topics()
    return _stratified_halves("wiki-topic-classification", texts, topics, 800 if quick else None, 26)


def _bbc_clustering(quick: bool) -> Clustering:
    from lexdense.sources import corpora

    data = corpora.bbc_news("eval")
    index = _t().stratified_sample(data.labels, 400, 27) if quick else np.arange(len(data.labels))
    return _t().Clustering("bbc-clustering", [data.texts[i] for i in index], [data.labels[i] for i in index])


def _wiki_clustering(quick: bool) -> Clustering:
    texts, topics = _wiki_topics()
    index = _t().stratified_sample(topics, 800 if quick else len(topics), 28)
    return _t().Clustering("wiki-topic-clustering", [texts[i] for i in index], [topics[i] for i in index])


def _squad(name: str, file: str, seed: int) -> Callable[[bool], Retrieval]:
    def build(quick: bool) -> Retrieval:
        """Questions -> the paragraph that answers them, among every paragraph of the file
        (2,000 questions sampled)."""
        from lexdense.sources import corpora

        data = corpora.squad_shift(file)
        rng = np.random.default_rng(seed)
        n_questions = 200 if quick else 2000
        if quick:  # the first 300 paragraphs and questions about them
            pool = [i for i, p in enumerate(data.relevant) if p < 300]
            documents = data.paragraphs[:300]
        else:
            pool, documents = list(range(len(data.questions))), data.paragraphs
        picked = np.sort(rng.choice(pool, min(n_questions, len(pool)), replace=False))
        return _t().Retrieval(name, [data.questions[i] for i in picked], documents,
                         np.asarray([data.relevant[i] for i in picked]))

    build.__doc__ = f"SQuAD-style question -> paragraph retrieval on squad_shifts/{file}.json."
    return build


def _wiki_description_retrieval(quick: bool) -> Retrieval:
    """Wikipedia short description ("Annual awards for cinematic achievements") -> its lead
    section, among every lead of the evaluation half; descriptions shared by several
    articles are left out (no single right answer)."""
    from collections import Counter

    from lexdense.sources import corpora

    leads = corpora.wiki_leads("eval")
    counts = Counter(d.lower() for d in leads.descriptions)
    n = 600 if quick else len(leads.texts)
    queries = [i for i in range(n) if leads.descriptions[i] and counts[leads.descriptions[i].lower()] == 1]
    return _t().Retrieval("wiki-description-retrieval", [leads.descriptions[i] for i in queries], leads.texts[:n],
                     np.asarray(queries))


def _bbc_title_retrieval(quick: bool) -> Retrieval:
    """BBC news title -> its article (evaluation half)."""
    from lexdense.sources import corpora

    data = corpora.bbc_news("eval")
    n = 300 if quick else len(data.texts)
    return _t().Retrieval("bbc-title-retrieval", data.titles[:n], data.texts[:n], np.arange(n))


def _vitaminc_pairs(quick: bool) -> PairClassification:
    """VitaminC: a claim and a Wikipedia sentence. 1: the sentence supports the claim;
    0: it refutes it or does not say (same page, usually a near-identical revision), so
    topic overlap alone does not separate them. 4,000 pairs sampled (seed 29)."""
    from lexdense.sources import corpora

    evidence, claims, verdicts = corpora.vitaminc()
    rng = np.random.default_rng(29)
    picked = np.sort(rng.choice(len(claims), 600 if quick else 4000, replace=False))
    return _t().PairClassification("vitaminc-pairs", [claims[i] for i in picked], [evidence[i] for i in picked],
                              np.asarray([int(verdicts[i] == "True") for i in picked]))


def _word_set(text: str) -> set[str]:
    return set(text.lower().split())


def _rewrite_pairs(quick: bool) -> PairClassification:
    """ASSET and TURK: a sentence and a human rewrite of it (1) against the same sentence and
    a rewrite of the *most word-overlapping other* source sentence (0: a hard negative, chosen
    by Jaccard overlap, so shared words alone do not separate them). One rewrite per source
    and set, chosen at random (seed 30)."""
    from lexdense.sources import corpora

    rng = np.random.default_rng(30)
    first, second, labels = [], [], []
    for name in ("asset", "turk"):
        items = corpora.gem_rewrites(name)[: 120 if quick else None]
        sources = [_word_set(source) for source, _ in items]
        for i, (source, rewrites) in enumerate(items):
            overlap = [len(sources[i] & s) / max(1, len(sources[i] | s)) if j != i else -1.0
                       for j, s in enumerate(sources)]
            j = int(np.argmax(overlap))
            first += [source, source]
            second += [rewrites[int(rng.integers(len(rewrites)))],
                       items[j][1][int(rng.integers(len(items[j][1])))]]
            labels += [1, 0]
    return _t().PairClassification("rewrite-pairs", first, second, np.asarray(labels))


TASKS: dict[str, Callable[[bool], object]] = {
    "multiemo-sentence-classification": _multiemo_sentences,
    "multiemo-text-classification": _multiemo_texts,
    "snips-intent-classification": _snips,
    "spam-classification": _spam,
    "bbc-classification": _bbc,
    "wiki-topic-classification": _wiki_topic_classification,
    "bbc-clustering": _bbc_clustering,
    "wiki-topic-clustering": _wiki_clustering,
    "squad-dev-retrieval": _squad("squad-dev-retrieval", "squaddev_v1.1", 31),
    "squad-newwiki-retrieval": _squad("squad-newwiki-retrieval", "new_wiki_v1.0", 32),
    "squad-nyt-retrieval": _squad("squad-nyt-retrieval", "nyt_v1.0", 33),
    "wiki-description-retrieval": _wiki_description_retrieval,
    "bbc-title-retrieval": _bbc_title_retrieval,
    "vitaminc-pairs": _vitaminc_pairs,
    "rewrite-pairs": _rewrite_pairs,
}
