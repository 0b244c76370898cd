import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lexdense import LexDense
from lexdense.classify import ClassifierFileError, EmbeddingClassifier
from lexdense.cli import app
from lexdense.io import datasets


@pytest.fixture(scope="module")
def r8():
    model = LexDense.load("lexdense-base")
    train, test = datasets.reuters("train"), datasets.reuters("test")
    return (model.encode(train.texts[:1500]), np.asarray(train.labels[:1500]),
            model.encode(test.texts[:600]), np.asarray(test.labels[:600]))


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_numpy_prediction_equals_scikit_learn_and_is_accurate(r8, kind):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    x, y, xt, yt = r8
    clf = EmbeddingClassifier(model=None, kind=kind).fit(labels=y, vectors=x)
    reference = (LogisticRegression(C=10.0, max_iter=1000) if kind == "logreg" else
                 MLPClassifier(hidden_layer_sizes=(256,), early_stopping=True, max_iter=1000,
                               random_state=0)).fit(x, y)
    assert np.allclose(clf.predict_proba(vectors=xt), reference.predict_proba(xt), atol=1e-4)
    assert (clf.predict(vectors=xt) == yt).mean() > 0.85


def test_binary_classifier_save_load_round_trip_and_corrupt_files(tmp_path, r8):
    x, y, xt, _ = r8
    binary = np.where(y == "earn", "earn", "other")
    clf = EmbeddingClassifier(model="lexdense-base").fit(labels=binary, vectors=x)
    proba = clf.predict_proba(vectors=xt)
    assert proba.shape == (len(xt), 2) and np.allclose(proba.sum(axis=1), 1)
    clf.save(tmp_path / "clf")
    again = EmbeddingClassifier.load(tmp_path / "clf")
    assert np.array_equal(again.predict_proba(vectors=xt), proba)
    assert again.predict(["shares rose after the quarterly profit report, net income up 10 pct"])[0] in {"earn", "other"}
    (tmp_path / "clf" / "classifier.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(ClassifierFileError, match="corrupt"):
        EmbeddingClassifier.load(tmp_path / "clf")
    with pytest.raises(ClassifierFileError, match="not a lexdense classifier"):
        EmbeddingClassifier.load(tmp_path)
    with pytest.raises(ValueError, match="two distinct labels"):
        EmbeddingClassifier(model=None).fit(labels=["a"] * 3, vectors=np.ones((3, 4)))
    with pytest.raises(ValueError, match="unknown kind"):
        EmbeddingClassifier(kind="forest")


def test_classify_train_and_predict_commands(tmp_path):
    tweets = datasets.election_tweets()
    corpus = tmp_path / "tweets.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": t, "author": a}) + "\n"
                              for i, (t, a) in enumerate(zip(tweets.texts[:1500], tweets.labels[:1500]))))
    runner = CliRunner()
    trained = runner.invoke(app, ["classify", "train", str(corpus), "--label-field", "author", "--out",
                                  str(tmp_path / "clf")])
    assert trained.exit_code == 0, trained.output
    accuracy = float(trained.output.split("held-out accuracy ")[1].split()[0])
    assert accuracy > 0.7
    out = tmp_path / "pred.parquet"
    predicted = runner.invoke(app, ["classify", "predict", str(corpus), "-c", str(tmp_path / "clf"), "-o", str(out)])
    assert predicted.exit_code == 0, predicted.output
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == list(range(1500))
    assert (np.asarray(table.column("label").to_pylist()) == np.asarray(tweets.labels[:1500])).mean() > 0.8
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left
    bad = runner.invoke(app, ["classify", "train", str(corpus), "--label-field", "who", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "no field 'who'" in bad.output
