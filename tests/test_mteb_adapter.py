"""The MTEB adapter against the installed `mteb` package (no hub data needed)."""

import numpy as np
import pytest

mteb = pytest.importorskip("mteb")

from lexdense import LexDense  # noqa: E402
from lexdense.eval.metrics import ndcg_at_k, rank_of_relevant, recall_at_k  # noqa: E402
from lexdense.eval.mteb_adapter import as_mteb_model  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return LexDense.load("lexdense-base")


def test_adapter_satisfies_mteb_encoder_protocol(model):
    from mteb.models.models_protocols import EncoderProtocol

    adapter = as_mteb_model(model)
    assert isinstance(adapter, EncoderProtocol)
    assert adapter.mteb_model_meta.name == "lexdense/lexdense-base"
    assert adapter.mteb_model_meta.embed_dim == 384


def test_adapter_encodes_mteb_style_batches(model):
    import datasets
    from torch.utils.data import DataLoader

    texts = [f"the cat number {i} sat on the mat" for i in range(50)] + ["stock markets fell"]
    loader = DataLoader(datasets.Dataset.from_dict({"text": texts}), batch_size=16)
    adapter = as_mteb_model(model)
    vectors = adapter.encode(loader, task_metadata=None, hf_split="test", hf_subset="default")
    np.testing.assert_allclose(vectors, model.encode(texts), rtol=1e-5, atol=1e-6)
    from mteb.similarity_functions import cos_sim

    np.testing.assert_allclose(adapter.similarity(vectors[:5], vectors), cos_sim(vectors[:5], vectors).numpy(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(adapter.similarity_pairwise(vectors[:5], vectors[5:10]),
                               np.diag(cos_sim(vectors[:5], vectors[5:10]).numpy()), rtol=1e-4, atol=1e-5)


def test_retrieval_metrics_match_mteb_evaluator():
    from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores

    rng = np.random.default_rng(0)
    sims = rng.random((40, 200))
    relevant = rng.integers(0, 200, size=40)
    sims[np.arange(20), relevant[:20]] += 0.5  # half the queries find their document easily
    results = {f"q{i}": {f"d{j}": float(sims[i, j]) for j in range(200)} for i in range(40)}
    qrels = {f"q{i}": {f"d{relevant[i]}": 1} for i in range(40)}
    theirs = calculate_retrieval_scores(results, qrels, [10, 100])
    ranks = rank_of_relevant(sims, relevant)
    assert ndcg_at_k(ranks, 10) == pytest.approx(theirs.ndcg["NDCG@10"], abs=1e-4)
    assert recall_at_k(ranks, 100) == pytest.approx(theirs.recall["Recall@100"], abs=1e-4)


def test_fewshot_undersampling_matches_mteb():
    from types import SimpleNamespace

    import datasets
    from mteb.abstasks.classification import AbsTaskClassification

    from lexdense.eval.tasks import mteb_undersample

    rng = np.random.default_rng(1)
    labels = [str(x) for x in rng.integers(0, 6, size=300)]
    dataset = datasets.Dataset.from_dict({"label": labels, "text": [str(i) for i in range(300)]})
    fake_task = SimpleNamespace(seed=42, samples_per_label=8, label_column_name="label")
    theirs, order = [], None
    for experiment in range(10):
        _, order, selected = AbsTaskClassification._undersample_data(fake_task, dataset, experiment, order)
        theirs.append(list(selected))
    assert mteb_undersample(labels, samples_per_label=8, n_experiments=10, seed=42) == theirs
    assert AbsTaskClassification.evaluator_model.max_iter == 100 and AbsTaskClassification.n_experiments == 10


def test_bootstrapped_clustering_matches_mteb():
    import random

    from mteb.abstasks.clustering import _evaluate_clustering_bootstrapped

    from lexdense.eval.tasks import bootstrapped_v_measure

    rng = np.random.default_rng(2)
    labels = [str(x) for x in rng.integers(0, 4, size=400)]
    vectors = rng.normal(size=(400, 16)).astype(np.float32) + np.eye(16)[[int(x) for x in labels]] * 2
    theirs, _ = _evaluate_clustering_bootstrapped(
        vectors, [[label] for label in labels], n_clusters=10, cluster_size=400, kmean_batch_size=512,
        max_depth=None, rng_state=random.Random(42), seed=42)
    ours = bootstrapped_v_measure(vectors, labels, n_runs=10, sample_size=400)
    np.testing.assert_allclose(ours, theirs["v_measure"]["Level 0"], rtol=1e-9)
