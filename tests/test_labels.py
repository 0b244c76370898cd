import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lexdense import LexDense
from lexdense.cli import app
from lexdense.labels import KeywordTopics
from lexdense.sources import datasets

KEYWORDS = {"sci.space": ["space", "nasa", "orbit"], "rec.sport.hockey": ["hockey", "nhl", "goalie"],
            "sci.crypt": ["encryption", "key", "privacy"], "sci.med": ["doctor", "disease", "patients"]}


@pytest.fixture(scope="module")
def four_groups():
    test = datasets.newsgroups("test")
    index = [i for i, label in enumerate(test.labels) if label in KEYWORDS][:1200]
    texts, truth = [test.texts[i] for i in index], np.asarray([test.labels[i] for i in index])
    model = LexDense.load("lexdense-base")
    return model, texts, truth, model.encode(texts)


def test_refined_topics_label_documents_and_rank_them(four_groups):
    from sklearn.metrics import roc_auc_score

    model, texts, truth, vectors = four_groups
    topics = KeywordTopics(KEYWORDS, model=model).fit(vectors=vectors)
    predicted = np.asarray(topics.predict(vectors=vectors))
    assert (predicted == truth).mean() > 0.8
    proba = topics.predict_proba(vectors=vectors)
    assert np.allclose(proba.sum(axis=1), 1)
    for k, label in enumerate(topics.labels):
        assert roc_auc_score(truth == label, proba[:, k]) > 0.9
    # Texts and vectors give the same answer; the estimator scores any new text.
    assert topics.predict(texts[:5]) == topics.predict(vectors=vectors[:5])
    assert topics.predict(["the goalie made a save in the third period"]) == ["rec.sport.hockey"]


def test_abstain_unknown_keywords_and_diagnostics(four_groups):
    model, _, truth, vectors = four_groups
    keywords = {**KEYWORDS, "sci.med": ["doctor", "disease", "zzqxvorp"]}
    cautious = KeywordTopics(keywords, model=model, abstain=0.9).fit(vectors=vectors)
    predicted = cautious.predict(vectors=vectors)
    sure = [p for p in predicted if p is not None]
    assert 0 < len(sure) < len(predicted)
    assert np.mean([p == t for p, t in zip(predicted, truth) if p is not None]) > 0.85
    assert cautious.unknown_keywords == ["zzqxvorp"]
    report = cautious.diagnostics()
    assert report["sci.med"]["keywords"]["zzqxvorp"]["unknown_word"] is True
    for entry in report.values():
        assert sum(k["pulls_documents"] for k in entry["keywords"].values()) == entry["documents"]
    assert sum(e["documents"] for e in report.values()) == len(vectors)


def test_bad_keyword_definitions_are_named():
    with pytest.raises(ValueError, match="at least two labels"):
        KeywordTopics({"only": ["one"]})
    with pytest.raises(ValueError, match="has no keywords"):
        KeywordTopics({"a": ["x"], "b": ["", "  "]})
    with pytest.raises(ValueError, match="abstain"):
        KeywordTopics({"a": ["x"], "b": ["y"]}, abstain=1.5)


def test_topics_command(tmp_path, four_groups):
    _, texts, truth, _ = four_groups
    corpus = tmp_path / "posts.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts[:400])))
    keywords = tmp_path / "kw.json"
    keywords.write_text(json.dumps({k: v for k, v in KEYWORDS.items() if k != "sci.med"}))
    out, diag = tmp_path / "labels.parquet", tmp_path / "diag.json"
    result = CliRunner().invoke(app, ["topics", str(corpus), "--keywords", str(keywords), "--label",
                                      "sci.med=doctor,disease,patients", "-o", str(out), "--diagnostics", str(diag)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pydict()
    assert table["id"] == list(range(400))
    assert np.mean(np.asarray(table["label"]) == truth[:400]) > 0.75
    assert set(json.loads(diag.read_text())) == set(KEYWORDS)
    keywords.write_text("[1, 2]")
    bad = CliRunner().invoke(app, ["topics", str(corpus), "--keywords", str(keywords), "-o", str(out)])
    assert bad.exit_code == 2 and "label -> [keywords]" in bad.output


THREE = ("sci.space", "rec.sport.hockey", "talk.politics.mideast")  # keywords for the first two only


@pytest.fixture(scope="module")
def three_topics(four_groups):
    model = four_groups[0]
    test = datasets.newsgroups("test")
    index = sorted(i for topic in THREE for i in [j for j, label in enumerate(test.labels) if label == topic][:300])
    texts, truth = [test.texts[i] for i in index], np.asarray([test.labels[i] for i in index])
    return model, texts, truth, model.encode(texts)


def test_abstain_also_means_none_of_the_labels(three_topics):
    model, _, truth, vectors = three_topics
    keywords = {label: KEYWORDS[label] for label in THREE[:2]}
    third, known = truth == THREE[2], truth != THREE[2]
    topics = KeywordTopics(keywords, model=model, abstain=0.5).fit(vectors=vectors)
    predicted = np.asarray(topics.predict(vectors=vectors), dtype=object)
    assert np.mean(predicted[third] == None) > 0.6  # noqa: E711 (elementwise)
    assert np.mean(predicted[known] == truth[known]) > 0.8
    reasons = topics.abstain_reasons(vectors=vectors)
    assert [r is None for r in reasons] == [p is not None for p in predicted]
    assert [reasons[i] for i in np.flatnonzero(third)].count("none of the labels") > 0.5 * third.sum()
    # Label probabilities and the none probability share each row; the none class is the reason.
    proba, none = topics.predict_proba(vectors=vectors), topics.none_proba(vectors=vectors)
    assert proba.shape == (len(vectors), 2) and none.shape == (len(vectors),)
    assert np.allclose(proba.sum(axis=1) + none, 1)
    assert none[third].mean() > none[known].mean() + 0.3
    # Before: abstention by confidence alone labels most of the third topic.
    confidence_only = KeywordTopics(keywords, model=model, abstain=0.5, none_seed_ratio=0).fit(vectors=vectors)
    before = np.asarray(confidence_only.predict(vectors=vectors), dtype=object)
    assert np.mean(before[third] == None) < np.mean(predicted[third] == None) - 0.2  # noqa: E711
    assert not confidence_only.none_proba(vectors=vectors).any()
    # abstain=0 keeps every document labelled, probabilities over the labels only.
    everyone = KeywordTopics(keywords, model=model).fit(vectors=vectors)
    assert None not in everyone.predict(vectors=vectors)
    assert set(everyone.abstain_reasons(vectors=vectors)) == {None}
    assert np.allclose(everyone.predict_proba(vectors=vectors).sum(axis=1), 1)
    assert len(everyone.none_seeds_) == 0
    with pytest.raises(ValueError, match="none_seed_ratio"):
        KeywordTopics(keywords, none_seed_ratio=-1)


def test_none_class_survives_save_and_load(tmp_path, three_topics):
    from safetensors.numpy import load_file, save_file

    model, _, _, vectors = three_topics
    topics = KeywordTopics({label: KEYWORDS[label] for label in THREE[:2]}, model=model, abstain=0.5,
                           none_seed_ratio=2).fit(vectors=vectors)
    topics.save(tmp_path / "kt")
    loaded = KeywordTopics.load(tmp_path / "kt", model=model)
    assert loaded.none_seed_ratio == 2 and loaded.abstain == 0.5
    np.testing.assert_array_equal(loaded.none_seeds_, topics.none_seeds_)
    np.testing.assert_allclose(loaded.none_proba(vectors=vectors), topics.none_proba(vectors=vectors), atol=1e-6)
    assert loaded.abstain_reasons(vectors=vectors) == topics.abstain_reasons(vectors=vectors)
    assert loaded.predict(vectors=vectors) == topics.predict(vectors=vectors)
    # A directory saved before the none class existed (no none_seeds array) still loads.
    weights = tmp_path / "kt" / "estimator.safetensors"
    arrays = load_file(str(weights))
    del arrays["none_seeds"]
    save_file(arrays, str(weights))
    assert KeywordTopics.load(tmp_path / "kt", model=model).predict(vectors=vectors) == topics.predict(vectors=vectors)


def test_topics_command_says_why_documents_are_unlabelled(tmp_path, three_topics):
    _, texts, truth, _ = three_topics
    corpus = tmp_path / "posts.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "labels.parquet"
    args = ["topics", str(corpus), "-o", str(out), "--abstain", "0.5"]
    for label in THREE[:2]:
        args += ["--label", f"{label}={','.join(KEYWORDS[label])}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    labels = np.asarray(pq.read_table(out).column("label").to_pylist(), dtype=object)
    assert np.mean(labels[truth == THREE[2]] == None) > 0.6  # noqa: E711
    flat = " ".join(result.output.split())
    unlabelled = int((labels == None).sum())  # noqa: E711
    assert f"{len(texts) - unlabelled:,} labelled, {unlabelled:,} unlabelled" in flat
    assert "none of the labels" in flat and "low confidence (below 0.5)" in flat
