"""The 2026-12 offline sources (lexdense.sources.corpora) and the tasks built on them.

They need `make data` (which `make test` runs); a machine without a source skips its
tests, and says which source and why.
"""

import numpy as np
import pytest

from lexdense.eval import evaluate
from lexdense.eval.wider import TASKS as WIDER
from lexdense.model import LexDense
from lexdense.sources import corpora
from lexdense.sources.datasets import DatasetUnavailable


def need(loader, *args):
    try:
        return loader(*args)
    except DatasetUnavailable as error:
        pytest.skip(str(error))


def test_eval_half_is_a_stable_hash_of_the_name():
    names = [f"doc-{i}" for i in range(2000)]
    marks = [corpora.is_eval_half(n) for n in names]
    assert marks == [corpora.is_eval_half(n) for n in names]  # no hidden state
    assert 0.45 < np.mean(marks) < 0.55
    with pytest.raises(ValueError, match="unknown split 'test'"):
        corpora._split([1], ["a"], "test")


@pytest.mark.parametrize("loader", [corpora.wiki_leads, corpora.spam_assassin, corpora.bbc_news, corpora.brown])
def test_shared_sources_split_into_disjoint_halves(loader):
    train, held = need(loader, "train"), need(loader, "eval")
    everything = need(loader, "all")
    assert len(train.texts) + len(held.texts) == len(everything.texts)
    assert min(len(train.texts), len(held.texts)) > 0.4 * len(everything.texts)
    assert not set(train.texts) & set(held.texts)


def test_distillation_sources_read_real_text():
    chats = need(corpora.chitchat)
    assert len(chats) > 100_000 and all(len(t.split()) >= 4 for t in chats[:1000])
    glosses = need(corpora.wordnet)
    assert "entity: that which is perceived or known or inferred to have its own distinct existence (living or nonliving)" in glosses
    webster = need(corpora.dictionary, "gcide")
    assert len(webster) > 100_000 and not any("[1913 Webster]" in t for t in webster[:5000])
    with pytest.raises(ValueError, match="unknown dictionary"):
        corpora.dictionary("oed")


def test_email_bodies_drop_headers_and_tags():
    assert corpora._email_body("From: a@b\nSubject: hi\n\n<p>Hello <b>there</b></p>\n") == "Hello there"
    mails = need(corpora.spam_assassin, "eval")
    assert sum(t.startswith(("Return-Path", "Received:")) for t in mails.texts) < 0.01 * len(mails.texts)
    assert set(mails.labels) == {"spam", "ham"}


def test_squad_files_outside_the_allowed_three_are_refused():
    """Only the three listed files load (the reserved ones are never named, let alone read)."""
    with pytest.raises(ValueError, match="not one of"):
        corpora.squad_shift("some_other_v1.0")
    with pytest.raises(ValueError, match="not one of"):
        corpora.squad_shift("../squaddev_v1.1")


def test_bigbench_loaders_give_labels_and_answers():
    sentiment = need(corpora.multiemo, "sentence")
    assert set(sentiment.labels) == {"negative", "positive", "neutral", "ambivalent"}
    squad = need(corpora.squad_shift, "nyt_v1.0")
    assert len(squad.questions) == len(squad.relevant) and max(squad.relevant) == len(squad.paragraphs) - 1
    evidence, claims, verdicts = need(corpora.vitaminc)
    assert set(verdicts) == {"True", "False", "Neither"} and len(evidence) == len(claims)


def test_no_eval_text_reaches_the_recipe_corpus():
    """The recipe's corpus holds no passage of an evaluation half or of bigbench."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    import recipe

    held = need(corpora.bbc_news, "eval").texts + need(corpora.wiki_leads, "eval").texts
    train = [t for name, texts in recipe.sources().items() if name.endswith("-train") for t in texts]
    assert not set(held) & set(train)
    assert all(name in recipe.QUOTAS for name in recipe.sources())


class Noise:
    def encode(self, texts):
        return np.random.default_rng(0).normal(size=(len(texts), 32))


def test_wider_tasks_run_and_separate_a_model_from_noise():
    try:
        for build in WIDER.values():
            build(True)
    except DatasetUnavailable as error:
        pytest.skip(str(error))
    names = ["multiemo-sentence-classification", "squad-nyt-retrieval", "wiki-description-retrieval",
             "bbc-clustering", "vitaminc-pairs", "rewrite-pairs"]
    ours = evaluate(LexDense.load("lexdense-base"), tasks=names, quick=True)
    noise = evaluate(Noise(), tasks=names, quick=True)
    for name in names:
        assert ours["tasks"][name]["main_score"] > noise["tasks"][name]["main_score"] + 0.05, name
    assert {"classification", "retrieval", "clustering", "pair-classification"} <= {
        r["kind"] for r in ours["tasks"].values()}


def test_wider_splits_are_disjoint_and_seeded():
    try:
        a, b = WIDER["multiemo-text-classification"](True), WIDER["multiemo-text-classification"](True)
    except DatasetUnavailable as error:
        pytest.skip(str(error))
    assert a.train_texts == b.train_texts and not set(a.train_texts) & set(a.test_texts)
    assert set(a.train_labels) == set(a.test_labels)
