import math

import numpy as np
import pytest
from typer.testing import CliRunner

from lexdense import LexDense
from lexdense.cli import app
from lexdense.eval import evaluate
from lexdense.eval.metrics import ndcg_at_k, rank_of_relevant, recall_at_k
from lexdense.eval.tasks import Clustering, Retrieval


def test_metrics_on_hand_checked_cases():
    sims = np.array([[0.9, 0.1, 0.0],
                     [0.5, 0.4, 0.6],
                     [0.7, 0.7, 0.1]])
    ranks = rank_of_relevant(sims, np.array([0, 1, 1]))
    # Query 2 ties with a wrong document: the tie counts against it (rank 1, not better).
    assert ranks.tolist() == [1, 3, 1]
    assert ndcg_at_k(ranks, 10) == pytest.approx((1 + 1 / math.log2(4) + 1) / 3)
    assert ndcg_at_k(np.array([11]), 10) == 0.0
    assert recall_at_k(np.array([1, 100, 101]), 100) == pytest.approx(2 / 3)


class LabelEncoder:
    """Cheats: one-hot of the label each text belongs to (a perfect embedder)."""

    def __init__(self, texts, labels):
        names = sorted(set(labels))
        self.lookup = {t: names.index(l) for t, l in zip(texts, labels)}
        self.size = len(names)

    def encode(self, texts):
        out = np.zeros((len(texts), self.size), np.float32)
        out[np.arange(len(texts)), [self.lookup[t] for t in texts]] = 1.0
        return out


def test_clustering_and_retrieval_reach_one_with_a_perfect_encoder():
    texts = [f"doc {i}" for i in range(60)]
    labels = [str(i % 3) for i in range(60)]
    task = Clustering("toy", texts, labels, n_runs=2)
    assert task.run(LabelEncoder(texts, labels).encode)["main_score"] == pytest.approx(1.0)
    retrieval = Retrieval("toy", texts[:3], texts[:3], np.arange(3))
    assert retrieval.run(LabelEncoder(texts[:3], ["a", "b", "c"]).encode)["main_score"] == pytest.approx(1.0)


class RandomEncoder:
    def __init__(self):
        self.rng = np.random.default_rng(0)

    def encode(self, texts):
        return self.rng.normal(size=(len(texts), 32))


def test_shipped_model_beats_random_vectors():
    tasks = ["r8-classification", "news-title-retrieval"]
    ours = evaluate(LexDense.load("lexdense-base"), tasks=tasks, quick=True)
    noise = evaluate(RandomEncoder(), tasks=tasks, quick=True)
    assert ours["tasks"]["news-title-retrieval"]["main_score"] > noise["tasks"]["news-title-retrieval"]["main_score"] + 0.5
    assert ours["tasks"]["r8-classification"]["main_score"] > noise["tasks"]["r8-classification"]["main_score"] + 0.2
    assert ours["speed"]["texts"] > 0 and len(ours["tasks"]["r8-classification"]["fingerprint"]) == 16


def test_bad_encoders_and_tasks_are_named():
    with pytest.raises(TypeError, match="encode"):
        evaluate(object(), tasks=["r8-classification"], quick=True)
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        evaluate(RandomEncoder(), tasks=["nope"])

    class Wrong:
        def encode(self, texts):
            return np.zeros(3)

    with pytest.raises(ValueError, match="encode returned shape"):
        evaluate(Wrong(), tasks=["news-title-retrieval"], quick=True)


def test_eval_command_prints_table_and_writes_json(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "results.json"
    chart = tmp_path / "chart.png"
    result = CliRunner().invoke(app, ["eval", "--quick", "--tasks", "20ng-clustering", "--json", str(out),
                                      "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert "20ng-clustering" in result.output and "docs/s" in result.output
    import json

    data = json.loads(out.read_text())
    assert data["lexdense-base"]["suite_version"] and 0 < data["lexdense-base"]["summary"]["mean"] <= 1
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5000


def test_pair_classification_average_precision():
    from lexdense.eval.tasks import PairClassification

    texts = ["a", "b", "c", "d"]
    encoder = LabelEncoder(texts, ["x", "x", "y", "z"])
    task = PairClassification("toy", ["a", "a", "c"], ["b", "c", "d"], np.array([1, 0, 0]))
    assert task.run(encoder.encode)["main_score"] == pytest.approx(1.0)
    flipped = PairClassification("toy", ["a", "a", "c"], ["b", "c", "d"], np.array([0, 1, 1]))
    assert flipped.run(encoder.encode)["main_score"] < 0.75


def test_halves_tasks_separate_a_real_model_from_noise():
    tasks = ["20ng-halves-retrieval", "20ng-halves-pairs"]
    ours = evaluate(LexDense.load("lexdense-base"), tasks=tasks, quick=True)["tasks"]
    noise = evaluate(RandomEncoder(), tasks=tasks, quick=True)["tasks"]
    assert ours["20ng-halves-retrieval"]["main_score"] > noise["20ng-halves-retrieval"]["main_score"] + 0.3
    assert ours["20ng-halves-pairs"]["main_score"] > noise["20ng-halves-pairs"]["main_score"] + 0.2


def test_mteb_undersampling_takes_k_per_label_and_reshuffles():
    from lexdense.eval.tasks import mteb_undersample

    labels = ["a"] * 30 + ["b"] * 5 + ["c"] * 20
    subsets = mteb_undersample(labels, samples_per_label=8, n_experiments=3)
    for subset in subsets:
        counts = {label: sum(labels[i] == label for i in subset) for label in "abc"}
        assert counts == {"a": 8, "b": 5, "c": 8}
        assert len(set(subset)) == len(subset)
    assert subsets[0] != subsets[1]  # each experiment draws another subset
    assert subsets == mteb_undersample(labels, samples_per_label=8, n_experiments=3)


def test_fewshot_protocol_scores_below_full_training():
    ours = LexDense.load("lexdense-base")
    full = evaluate(ours, tasks=["20ng-classification"], quick=True)["tasks"]["20ng-classification"]
    few = evaluate(ours, tasks=["20ng-classification-mteb"], quick=True)["tasks"]["20ng-classification-mteb"]
    # 8 examples per newsgroup teach less than 800 documents, but far more than chance (0.05).
    assert 0.2 < few["main_score"] < full["main_score"]


def test_graded_pairs_spearman_and_new_tasks_beat_noise():
    from lexdense.eval.tasks import GradedPairs

    encoder = LabelEncoder(["a", "b", "c"], ["x", "x", "y"])
    perfect = GradedPairs("toy", ["a", "a", "a"], ["a", "b", "c"], np.array([2, 2, 0]))
    assert perfect.run(encoder.encode)["main_score"] == pytest.approx(1.0)
    tasks = ["20ng-graded-pairs", "election-tweets-classification"]
    ours = evaluate(LexDense.load("lexdense-base"), tasks=tasks, quick=True)["tasks"]
    noise = evaluate(RandomEncoder(), tasks=tasks, quick=True)["tasks"]
    assert ours["20ng-graded-pairs"]["main_score"] > noise["20ng-graded-pairs"]["main_score"] + 0.3
    assert ours["election-tweets-classification"]["main_score"] > 0.75
    assert ours["20ng-graded-pairs"]["kind"] == "sts"


def test_fortunes_loader_splits_quotes_and_drops_small_categories(tmp_path):
    from lexdense.sources.datasets import DatasetUnavailable, fortunes

    (tmp_path / "wisdom").write_bytes(b"K\x08Know thyself.\n%\nA stitch in time\n  saves nine.\n%\nHaste makes waste.\n%\n")
    (tmp_path / "wisdom.dat").write_bytes(b"\x00binary index")
    (tmp_path / "tiny").write_text("Only one quote here.\n%\n")
    data = fortunes(min_per_category=2, directory=str(tmp_path))
    assert data.texts == ["Know thyself.", "A stitch in time saves nine.", "Haste makes waste."]
    assert set(data.labels) == {"wisdom"}
    with pytest.raises(DatasetUnavailable, match="apt-get install fortunes"):
        fortunes(directory=str(tmp_path / "missing"))


def test_glove_tfidf_and_bm25_baselines():
    from lexdense.eval.baselines import Bm25, GloVeMean, Tfidf

    glove = GloVeMean()
    vectors = glove.encode(["The cat sat.", "qqqzzxv", "cat"])
    assert vectors.shape == (3, 50)
    assert not vectors[1].any()  # no known word: zero vector
    assert np.allclose(vectors[2], glove.vectors[glove.index["cat"]])

    docs = ["the stock market fell sharply", "a new vaccine trial for flu", "football cup final tonight"]
    queries = ["vaccine for the flu", "market stock prices", "cup final"]
    top = Bm25().search(queries, docs, k=3)
    assert top[:, 0].tolist() == [1, 0, 2]
    tfidf = Tfidf(min_df=1, ngram_range=(1, 1)).fit_corpus(docs + queries)
    sims = (tfidf.encode(queries) @ tfidf.encode(docs).T).toarray()
    assert sims.argmax(axis=1).tolist() == [1, 0, 2]


def test_ranker_runs_only_retrieval_and_sparse_encoder_runs_everything():
    from lexdense.eval.baselines import Bm25, Tfidf

    tasks = ["r8-classification", "news-title-retrieval", "20ng-halves-pairs"]
    bm25 = evaluate(Bm25(), tasks=tasks, quick=True)
    assert list(bm25["tasks"]) == ["news-title-retrieval"]
    assert bm25["tasks"]["news-title-retrieval"]["main_score"] > 0.5
    tfidf = evaluate(Tfidf(), tasks=tasks, quick=True)
    assert list(tfidf["tasks"]) == tasks
    assert tfidf["tasks"]["r8-classification"]["main_score"] > 0.8
    assert tfidf["tasks"]["20ng-halves-pairs"]["main_score"] > 0.6


def test_retrieval_reports_dense_bm25_and_hybrid_side_by_side():
    from lexdense.eval.baselines import Bm25

    task = ["news-title-retrieval"]
    ours = evaluate(LexDense.load("lexdense-base"), tasks=task, quick=True)["tasks"]["news-title-retrieval"]
    ranker = evaluate(Bm25(), tasks=task, quick=True)["tasks"]["news-title-retrieval"]
    for prefix in ("", "bm25_", "hybrid_"):
        assert 0 < ours[f"{prefix}ndcg_at_10"] <= 1 and 0 < ours[f"{prefix}recall_at_100"] <= 1, prefix
    assert ours["main_score"] == ours["ndcg_at_10"]  # the table's figure stays the encoder's own
    # the eval's BM25 (a SearchIndex) ranks as the BM25 baseline does: same tokenizer, k1, b
    assert ours["bm25_ndcg_at_10"] == pytest.approx(ranker["main_score"], abs=0.01)
    assert ours["hybrid_ndcg_at_10"] >= max(ours["ndcg_at_10"], ours["bm25_ndcg_at_10"])
    assert "bm25_ndcg_at_10" not in ranker  # a ranker has no vectors to fuse


def test_hybrid_keeps_the_dense_ranking_where_bm25_finds_nothing():
    queries, documents = ["xx first", "yy second", "zz third"], ["aa", "bb", "cc"]
    encoder = LabelEncoder(queries + documents, ["a", "b", "c"] * 2)
    scores = Retrieval("toy", queries, documents, np.arange(3)).run(encoder.encode)
    assert scores["ndcg_at_10"] == pytest.approx(1.0) and scores["hybrid_ndcg_at_10"] == pytest.approx(1.0)
    assert scores["bm25_ndcg_at_10"] == 0.0  # no shared word: BM25 finds nothing


def test_unavailable_dataset_is_skipped_by_default_and_named_when_asked(monkeypatch):
    from lexdense.eval import tasks as task_module
    from lexdense.sources.datasets import DatasetUnavailable

    def missing(quick):
        raise DatasetUnavailable("/nowhere not found: apt-get install fortunes")

    monkeypatch.setitem(task_module.TASKS, "fortunes-clustering", missing)
    monkeypatch.setattr(task_module, "TASKS", {"fortunes-clustering": missing,
                                               "r8-classification": task_module.TASKS["r8-classification"]})
    monkeypatch.setitem(task_module.GROUPS, "core", ["fortunes-clustering", "r8-classification"])
    result = evaluate(LexDense.load("lexdense-base"), quick=True)
    assert list(result["tasks"]) == ["r8-classification"]
    assert "apt-get install fortunes" in result["skipped"]["fortunes-clustering"]
    with pytest.raises(DatasetUnavailable):
        evaluate(LexDense.load("lexdense-base"), tasks=["fortunes-clustering"], quick=True)


def test_eval_command_marks_tasks_a_ranker_does_not_run(tmp_path):
    out = tmp_path / "results.json"
    result = CliRunner().invoke(app, ["eval", "--quick", "-m", "lexdense-base", "-m", "bm25", "--tasks",
                                      "r8-classification", "--tasks", "news-title-retrieval", "--json", str(out)])
    assert result.exit_code == 0, result.output
    r8_row = next(line for line in result.output.splitlines() if "r8-classification" in line)
    assert r8_row.rstrip(" │|").endswith("-")
    import json

    data = json.loads(out.read_text())
    assert list(data["bm25"]["tasks"]) == ["news-title-retrieval"]


def test_a_run_embeds_each_distinct_text_once():
    class Counting:
        def __init__(self):
            self.seen = []

        def encode(self, texts):
            self.seen.extend(texts)
            return np.stack([np.full(8, hash(t) % 97, dtype=np.float32) for t in texts])

    counting = Counting()
    result = evaluate(counting, tasks=["20ng-classification", "20ng-classification-mteb"], quick=True)
    assert len(counting.seen) == len(set(counting.seen))  # the second task reused the first's vectors
    assert result["speed"]["texts"] == len(counting.seen)


def test_results_carry_wall_time_at_least_the_embedding_time():
    result = evaluate(LexDense.load("lexdense-base"), tasks=["r8-classification"], quick=True)
    assert result["wall_seconds"] >= result["speed"]["seconds"] > 0


def test_reuse_takes_matching_fingerprints_and_reruns_changed_tasks():
    class Counting(RandomEncoder):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def encode(self, texts):
            self.calls += 1
            return super().encode(texts)

    first = evaluate(Counting(), tasks=["r8-classification"], quick=True)
    again = Counting()
    second = evaluate(again, tasks=["r8-classification"], quick=True, reuse=first)
    assert again.calls == 0 and second["tasks"]["r8-classification"]["reused"] is True
    assert second["tasks"]["r8-classification"]["main_score"] == first["tasks"]["r8-classification"]["main_score"]
    stale = {**first, "tasks": {"r8-classification": {**first["tasks"]["r8-classification"], "fingerprint": "x"}}}
    third = Counting()
    evaluate(third, tasks=["r8-classification"], quick=True, reuse=stale)
    assert third.calls > 0  # another data fingerprint: run again
    model = LexDense.load("lexdense-base")
    earlier = evaluate(model, tasks=["r8-classification"], quick=True)
    assert evaluate(model, tasks=["r8-classification"], quick=True, reuse=earlier)["tasks"][
        "r8-classification"].get("reused")
    other = {**earlier, "model_id": "another model's weights"}
    assert not evaluate(model, tasks=["r8-classification"], quick=True, reuse=other)["tasks"][
        "r8-classification"].get("reused")
