import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lexdense import LexDense
from lexdense.cli import app
from lexdense.discover import TopicDiscovery
from lexdense.sources import datasets

GROUPS = ("rec.sport.hockey", "sci.space", "soc.religion.christian", "comp.graphics")


@pytest.fixture(scope="module")
def corpus():
    test = datasets.newsgroups("test")
    index = [i for i, label in enumerate(test.labels) if label in GROUPS]
    index = np.random.default_rng(0).permutation(index)[:800]
    texts, labels = [test.texts[i] for i in index], [test.labels[i] for i in index]
    model = LexDense.load("lexdense-base")
    return model, texts, labels, model.encode(texts)


def test_topics_match_newsgroups_and_are_reproducible(corpus):
    from sklearn.metrics import normalized_mutual_info_score

    model, texts, labels, vectors = corpus
    first = TopicDiscovery(model=model, n_topics=4, outliers="reassign", floor=0.0).fit(texts, vectors=vectors)
    k = len(first.topic_vectors_)
    assert 3 <= k <= 4 and (first.labels_ >= 0).all()  # n_topics merges down; it never splits
    assert normalized_mutual_info_score(labels, first.labels_) > 0.5
    again = TopicDiscovery(model=model, n_topics=4, outliers="reassign", floor=0.0).fit(texts, vectors=vectors)
    assert np.array_equal(first.labels_, again.labels_)
    keywords = {w for info in first.topic_info() for w in info["keywords"][:10]}
    assert keywords & {"hockey", "game", "team"} and keywords & {"space", "nasa", "orbit"}
    assert 0 < first.topic_diversity() <= 1
    assert len(first.hierarchy_) == k - 1 and first.hierarchy_[-1]["size"] == k
    # transform gives fitted documents their own topic when they were clustered
    assert (first.transform(vectors=vectors[:50]) == first.labels_[:50]).mean() > 0.8


def test_outlier_policy_is_explicit(corpus):
    model, texts, _, vectors = corpus
    kept = TopicDiscovery(model=model, min_cluster_size=25, outliers="keep").fit(texts, vectors=vectors)
    moved = TopicDiscovery(model=model, min_cluster_size=25, outliers="reassign", floor=0.3).fit(texts, vectors=vectors)
    assert kept.outlier_share_["final"] == kept.outlier_share_["clustering"] == pytest.approx((kept.labels_ < 0).mean())
    assert moved.outlier_share_["final"] <= moved.outlier_share_["clustering"]
    reassigned = (kept.labels_ < 0) & (moved.labels_ >= 0)
    sims = (vectors[reassigned] / np.linalg.norm(vectors[reassigned], axis=1, keepdims=True)) @ moved.topic_vectors_.T
    assert (sims.max(axis=1) >= 0.3 - 1e-6).all()


def test_bad_options_and_too_few_documents():
    with pytest.raises(ValueError, match="outlier policy"):
        TopicDiscovery(outliers="force")
    with pytest.raises(ValueError, match="reducer"):
        TopicDiscovery(reducer="tsne")
    with pytest.raises(ValueError, match="at least 30 documents"):
        TopicDiscovery(model=None).fit(vectors=np.random.default_rng(0).normal(size=(10, 8)))


def test_discover_command_writes_topics_report_and_plots(tmp_path, corpus):
    _, texts, _, _ = corpus
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts[:400])))
    out, report, png, kw, html = (tmp_path / n for n in ("topics.parquet", "r.json", "map.png", "kw.png", "map.html"))
    result = CliRunner().invoke(app, ["discover", str(path), "-o", str(out), "--n-topics", "4", "--report", str(report),
                                      "--map", str(png), "--keywords-chart", str(kw), "--html", str(html)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pydict()
    assert table["id"] == list(range(400)) and max(table["topic"]) <= 3
    data = json.loads(report.read_text())
    assert len(data["topics"]) <= 4 and "hierarchy" in data and 0 <= data["outlier_share"]["final"] <= 1
    for image in (png, kw):
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 10_000
    assert "plotly" in html.read_text()[:200000].lower()
    bad = CliRunner().invoke(app, ["discover", str(path), "-o", str(out), "--outliers", "force"])
    assert bad.exit_code == 2 and "outlier policy" in bad.output
