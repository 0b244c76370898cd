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
    info = first.topic_info()
    assert info.column_names == ["topic", "size", "name", "keywords", "scores"]
    assert info.column("size").to_pylist() == sorted(info.column("size").to_pylist(), reverse=True)
    assert info.to_pylist()[0]["name"] == "0: " + ", ".join(first.keywords_[0][:3])
    for scores in info.column("scores").to_pylist():  # the chart's bars: descending, positive
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    keywords = {w for entry in info.to_pylist() for w in entry["keywords"][:10]}
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
    assert {"name", "scores"} <= set(data["topics"][0])
    html_text = html.read_text()
    assert all(json.dumps(name)[1:-1] in html_text for name in (t["name"] for t in data["topics"]))  # legend names
    bad = CliRunner().invoke(app, ["discover", str(path), "-o", str(out), "--outliers", "force"])
    assert bad.exit_code == 2 and "outlier policy" in bad.output


def test_keywords_leave_out_words_common_to_every_topic():
    """A word in most documents ("said" in news) names no topic, even when every topic uses
    it more often than its own words; stopwords never do."""
    rng = np.random.default_rng(0)
    topics = {0: ["orbit", "launch", "nasa"], 1: ["goalie", "hockey", "puck"], 2: ["chip", "server", "linux"]}
    texts, labels = [], []
    for topic, words in topics.items():
        for _ in range(30):
            body = list(rng.choice(words, 3)) + ["said"] * 6 + ["the", "and"] * 4
            texts.append(" ".join(rng.permutation(body)))
            labels.append(topic)
    estimator = TopicDiscovery(model=None, n_keywords=3)
    keywords, scores = estimator._keywords(texts, np.asarray(labels))
    assert [set(k) for k in keywords] == [set(w) for w in topics.values()]
    assert all(len(s) == 3 and s == sorted(s, reverse=True) for s in scores)


def test_kmeans_clusterer_and_its_settings():
    vectors = np.random.default_rng(1).normal(size=(60, 8))
    fitted = TopicDiscovery(model=None, clusterer="kmeans", n_topics=3, min_cluster_size=2).fit(vectors=vectors)
    assert sorted(set(fitted.labels_.tolist())) == [0, 1, 2] and fitted.outlier_share_["final"] == 0
    with pytest.raises(ValueError, match="needs n_topics"):
        TopicDiscovery(clusterer="kmeans")
    with pytest.raises(ValueError, match="clusterer"):
        TopicDiscovery(clusterer="spectral")


def test_save_load_keeps_topics_and_assigns_new_documents(tmp_path, corpus):
    model, texts, _, vectors = corpus
    fitted = TopicDiscovery(model=model, n_topics=4, outliers="reassign").fit(texts[:400], vectors=vectors[:400])
    loaded = TopicDiscovery.load(fitted.save(tmp_path / "topics"), model=model)
    assert loaded.topic_info().equals(fitted.topic_info())
    assert np.array_equal(loaded.transform(vectors=vectors[400:]), fitted.transform(vectors=vectors[400:]))
    assert np.array_equal(loaded.transform(texts[400:450]), fitted.transform(vectors=vectors[400:450]))
    loaded.plot_keywords(tmp_path / "kw.png")  # keyword scores are saved
    with pytest.raises(ValueError, match="documents of a fit"):
        loaded.plot_map(tmp_path / "map.png")
    with pytest.raises(ValueError, match="dimensions"):
        loaded.transform(vectors=np.ones((2, 5)))


def test_discover_command_saves_a_model_and_assigns_its_topics_to_new_documents(tmp_path, corpus):
    _, texts, _, _ = corpus
    train, new = tmp_path / "train.jsonl", tmp_path / "new.jsonl"
    train.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts[:300])))
    new.write_text("".join(json.dumps({"id": f"n{i}", "text": t}) + "\n" for i, t in enumerate(texts[300:360])))
    saved = tmp_path / "topics-model"
    fit = CliRunner().invoke(app, ["discover", str(train), "-o", str(tmp_path / "fit.parquet"), "--n-topics", "4",
                                   "--reducer", "pca", "--save-model", str(saved)])
    assert fit.exit_code == 0, fit.output
    assert (saved / "estimator.json").is_file() and (saved / "estimator.safetensors").is_file()
    assigned = CliRunner().invoke(app, ["discover", str(new), "-o", str(tmp_path / "new.parquet"),
                                        "--load-model", str(saved), "--keywords-chart", str(tmp_path / "kw.png")])
    assert assigned.exit_code == 0, assigned.output
    table = pq.read_table(tmp_path / "new.parquet").to_pydict()
    expected = TopicDiscovery.load(saved).transform(texts[300:360])
    assert table["id"] == [f"n{i}" for i in range(60)] and table["topic"] == expected.tolist()
    assert (expected >= 0).mean() > 0.5 and (tmp_path / "kw.png").stat().st_size > 10_000
    refused = CliRunner().invoke(app, ["discover", str(new), "-o", str(tmp_path / "x.parquet"),
                                       "--load-model", str(saved), "--map", str(tmp_path / "m.png")])
    assert refused.exit_code != 0 and "--load-model" in refused.output and "Traceback" not in refused.output
    missing = CliRunner().invoke(app, ["discover", str(new), "-o", str(tmp_path / "x.parquet"),
                                       "--load-model", str(tmp_path / "nothing")])
    assert missing.exit_code != 0 and "not a saved TopicDiscovery" in missing.output
