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
    result = CliRunner().invoke(app, ["topics", str(corpus), "-k", str(keywords), "--label",
                                      "sci.med=doctor,disease,patients", "-o", str(out), "--diagnostics", str(diag)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pydict()
    assert table["id"] == list(range(400))
    assert np.mean(np.asarray(table["label"]) == truth[:400]) > 0.75
    assert set(json.loads(diag.read_text())) == set(KEYWORDS)
    keywords.write_text("[1, 2]")
    bad = CliRunner().invoke(app, ["topics", str(corpus), "-k", str(keywords), "-o", str(out)])
    assert bad.exit_code == 2 and "label -> [keywords]" in bad.output
