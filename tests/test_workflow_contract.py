"""One contract for every workflow estimator (lexdense.workflow): run over each of them."""

import numpy as np
import pytest

from lexdense import LexDense
from lexdense.anomaly import AnomalyDetector
from lexdense.classify import EmbeddingClassifier
from lexdense.discover import TopicDiscovery
from lexdense.errors import NotFittedError
from lexdense.labels import KeywordTopics
from lexdense.workflow import Workflow

SPORT = ["the striker scored a late goal in the match", "the goalkeeper saved a penalty kick",
         "the team won the league title after the final whistle", "fans cheered as the coach made a substitution",
         "the referee showed a red card to the defender", "a hat trick sealed the cup match for the home side"]
MONEY = ["the bank raised interest rates again", "stock prices fell as investors sold shares",
         "the central bank cut its lending rate", "bond yields rose after the inflation report",
         "the company reported quarterly earnings above forecasts", "markets rallied on the trade deal news"]
TEXTS = [f"{text} ({i})" for i in range(5) for text in SPORT + MONEY]
LABELS = [("sport" if j < len(SPORT) else "money")
          for _ in range(5) for j in range(len(SPORT) + len(MONEY))]

ESTIMATORS = {
    "classifier": (lambda model: EmbeddingClassifier(model=model), "predict_proba"),
    "keyword-topics": (lambda model: KeywordTopics({"sport": ["goal", "match"], "money": ["bank", "stock"]},
                                                   model=model), "predict_proba"),
    "discovery": (lambda model: TopicDiscovery(model=model, reducer="pca", min_cluster_size=5), "transform"),
    "anomaly": (lambda model: AnomalyDetector("knn", model=model), "decision_function"),
}


@pytest.fixture(scope="module")
def model():
    return LexDense.load("lexdense-base")


@pytest.fixture(scope="module")
def vectors(model):
    return model.encode(TEXTS)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_init_stores_settings_only(name):
    make, _ = ESTIMATORS[name]
    estimator = make("lexdense-base")
    assert isinstance(estimator, Workflow)
    assert estimator._encoder is None, "__init__ loaded the model"
    fitted = [key for key in vars(estimator) if key.endswith("_") and not key.startswith("_")]
    assert fitted == [], f"__init__ set fitted attributes {fitted}"


@pytest.mark.parametrize("name", ESTIMATORS)
def test_fit_returns_self_and_texts_agree_with_vectors(name, model, vectors):
    make, method = ESTIMATORS[name]
    on_texts = make(model)
    assert on_texts.fit(TEXTS, LABELS) is on_texts
    # vectors only: no model needed at all, except to embed keyword topics' keywords
    on_vectors = make(model if name == "keyword-topics" else None)
    assert on_vectors.fit(None, LABELS, vectors=vectors) is on_vectors
    from_texts = np.asarray(getattr(on_texts, method)(TEXTS))
    from_vectors = np.asarray(getattr(on_vectors, method)(vectors=vectors))
    assert from_texts.shape[0] == len(TEXTS)
    np.testing.assert_allclose(from_texts, from_vectors, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_classes_and_labels_mean_one_thing_each(name, model):
    """``classes_``: the names a prediction can take (where there are names); ``labels_``: one
    fitted result per document of the fit (clustering and outlier convention)."""
    make, method = ESTIMATORS[name]
    estimator = make(model).fit(TEXTS, LABELS)
    if hasattr(estimator, "classes_"):
        predicted = estimator.predict(TEXTS)
        assert set(p for p in predicted if p is not None) <= set(estimator.classes_)
    if hasattr(estimator, "labels_"):
        assert len(estimator.labels_) == len(TEXTS)
    assert len(estimator.predict(TEXTS)) == len(TEXTS)  # new documents get results from predict, in every one
    assert hasattr(estimator, "classes_") or hasattr(estimator, "labels_")


@pytest.mark.parametrize("container", ["tuple", "numpy", "pandas", "pyarrow"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_texts_in_any_container_encode_takes(name, model, container):
    """The containers users hold texts in (as LexDense.encode takes them) give the same result as a list."""
    import pyarrow as pa

    pd = pytest.importorskip("pandas")
    wrap = {"tuple": tuple, "numpy": np.asarray, "pandas": pd.Series, "pyarrow": pa.array}[container]
    make, method = ESTIMATORS[name]
    from_list = np.asarray(getattr(make(model).fit(TEXTS, LABELS), method)(TEXTS))
    estimator = make(model).fit(wrap(TEXTS), LABELS)
    np.testing.assert_allclose(np.asarray(getattr(estimator, method)(wrap(TEXTS))), from_list, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_not_fitted_and_bad_input_errors(name, model, vectors):
    make, method = ESTIMATORS[name]
    estimator = make(model)
    with pytest.raises(NotFittedError, match=r"is not fitted: call fit\(\)"):
        getattr(estimator, method)(vectors=vectors)
    with pytest.raises(TypeError, match="one string"):
        estimator.fit("one text, not a list", LABELS)
    with pytest.raises(ValueError, match="pass texts or vectors"):
        estimator.fit(None, LABELS)
    with pytest.raises(ValueError, match="non-empty"):
        estimator.fit(None, LABELS, vectors=np.zeros((0, 384), np.float32))
    with pytest.raises(ValueError, match="has no embedding model"):
        make(None).fit(TEXTS, LABELS)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_save_and_load_round_trip(name, tmp_path, model, vectors):
    from lexdense.io.atomic import OutputExistsError

    make, method = ESTIMATORS[name]
    with pytest.raises(NotFittedError):
        make(model).save(tmp_path / "unfitted")
    assert not (tmp_path / "unfitted").exists()
    fitted = make(model).fit(TEXTS, LABELS)
    fitted.save(tmp_path / name)
    loaded = type(fitted).load(tmp_path / name, model=model)
    np.testing.assert_allclose(np.asarray(getattr(loaded, method)(vectors=vectors)),
                               np.asarray(getattr(fitted, method)(vectors=vectors)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(getattr(loaded, method)(TEXTS)),
                               np.asarray(getattr(fitted, method)(TEXTS)), rtol=1e-5, atol=1e-6)
    fitted.save(tmp_path / name)  # over its own earlier save: allowed
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        fitted.save(foreign)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_load_refuses_another_class_and_damaged_files(tmp_path, model, vectors):
    from lexdense.workflow import EstimatorFileError

    TopicDiscovery(model=model, reducer="pca", min_cluster_size=5).fit(vectors=vectors).save(tmp_path / "topics")
    with pytest.raises(EstimatorFileError, match="holds a 'TopicDiscovery', not a KeywordTopics"):
        KeywordTopics.load(tmp_path / "topics")
    (tmp_path / "topics" / "estimator.json").write_text("{not json")
    with pytest.raises(EstimatorFileError, match="corrupt JSON"):
        TopicDiscovery.load(tmp_path / "topics")
    with pytest.raises(EstimatorFileError, match="not a saved AnomalyDetector"):
        AnomalyDetector.load(tmp_path / "nothing-here")
    AnomalyDetector("knn", model=None).fit(vectors=vectors).save(tmp_path / "det")
    (tmp_path / "det" / "estimator.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(EstimatorFileError, match="corrupt"):
        AnomalyDetector.load(tmp_path / "det")
