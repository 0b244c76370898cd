import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lexdense import LexDense
from lexdense.classify import ClassifierFileError, EmbeddingClassifier
from lexdense.cli import app
from lexdense.sources import datasets


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


def _two_topics(path, n, extra=lambda i: {}):
    texts = ["the cat sat on the mat", "the dog sat on the cat", "stock market fell in new york",
             "new york city stock market"]
    path.write_text("".join(json.dumps({"text": f"{texts[i % 4]} {i}", "topic": "pets" if i % 4 < 2 else "money",
                                        **extra(i)}) + "\n" for i in range(n)))
    return path


def test_classification_report_by_hand():
    from lexdense.classify import classification_report

    report = classification_report(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert report["accuracy"] == 0.75 and report["documents"] == 4
    assert report["classes"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert report["classes"]["b"]["precision"] == pytest.approx(2 / 3) and report["classes"]["b"]["recall"] == 1.0
    low, high = report["accuracy_95ci"]
    assert 0.2 < low < 0.75 < high < 1.0  # four documents say little


def test_holdout_keeps_every_copy_of_a_text_on_one_side_and_each_label_in_it():
    from lexdense.classify import holdout_split

    texts = [f"doc {i % 50}" for i in range(200)] + [f"rare {i}" for i in range(20)]  # each doc 4 times
    labels = ["common"] * 200 + ["rare"] * 20
    train, test = holdout_split(texts, labels, 0.1)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(220))
    assert not {texts[i] for i in train} & {texts[i] for i in test}
    assert {labels[i] for i in test} == {"common", "rare"} and 15 <= len(test) <= 30


def test_classify_test_command_and_train_says_what_its_figure_is(tmp_path, tiny_model_dir):
    runner = CliRunner()
    corpus = _two_topics(tmp_path / "train.jsonl", 200)
    trained = runner.invoke(app, ["classify", "train", str(corpus), "--label-field", "topic", "-o", str(tmp_path / "c"),
                                  "-m", str(tiny_model_dir)])
    assert trained.exit_code == 0, trained.output
    said = " ".join(trained.output.split())
    assert "held-out accuracy" in said and "never trained on" in said and "95% interval" in said
    last = runner.invoke(app, ["classify", "train", str(corpus), "--label-field", "topic", "-o", str(tmp_path / "c"),
                               "-m", str(tiny_model_dir), "--split", "last"])
    assert last.exit_code == 0 and "the last documents of the file" in " ".join(last.output.split())
    test_file = _two_topics(tmp_path / "test.jsonl", 40)
    result = runner.invoke(app, ["classify", "test", str(tmp_path / "c"), str(test_file), "--label-field", "topic",
                                 "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["classes"]) == {"pets", "money"} and report["documents"] == 40
    assert report["classes"]["pets"]["support"] == 20 and 0 <= report["accuracy"] <= 1
    table = runner.invoke(app, ["classify", "test", str(tmp_path / "c"), str(test_file), "--label-field", "topic"])
    assert table.exit_code == 0 and "precision" in table.stdout and "pets" in table.stdout
    missing = runner.invoke(app, ["classify", "test", str(tmp_path / "c"), str(test_file)])
    assert missing.exit_code == 2 and "no field 'label'" in missing.output


def test_predict_merges_batches_whose_types_differ_and_keeps_the_input_label(tmp_path, tiny_model_dir):
    runner = CliRunner()
    train = _two_topics(tmp_path / "train.jsonl", 100)
    assert runner.invoke(app, ["classify", "train", str(train), "--label-field", "topic", "-o", str(tmp_path / "c"),
                               "-m", str(tiny_model_dir)]).exit_code == 0
    # 'meta' is an int in the first batch of 4,096 records and text after; 'label' is the user's
    corpus = _two_topics(tmp_path / "big.jsonl", 4200, lambda i: {"meta": i if i < 4096 else f"m{i}", "label": "x"})
    out = tmp_path / "pred.parquet"
    result = runner.invoke(app, ["classify", "predict", str(corpus), "-c", str(tmp_path / "c"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 4200 and str(table.schema.field("meta").type) == "string"
    assert table.column("meta").to_pylist()[4095:4097] == ["4095", "m4096"]
    assert table.column("label").to_pylist() == ["x"] * 4200  # the input's column, kept
    assert set(table.column("lexdense_label").to_pylist()) <= {"pets", "money"}
    assert table.column_names[-3:] == ["lexdense_label", "confidence", "probabilities"]
    assert table.schema.metadata[b"lexdense.classes"] in (b"money\tpets", b"pets\tmoney")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_classifier_is_a_scikit_learn_estimator_and_keeps_label_types(tmp_path, tiny_model_dir):
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import GridSearchCV, cross_val_score

    texts = [f"{w} {i}" for i, w in enumerate(["the cat sat on the mat", "stock market fell in new york"] * 30)]
    y = np.asarray([0, 1] * 30)
    clf = EmbeddingClassifier(model=str(tiny_model_dir), C=1, max_iter=200)
    params = clf.get_params()
    assert params == {"model": str(tiny_model_dir), "kind": "logreg", "C": 1, "hidden": 256, "max_iter": 200,
                      "seed": 0}
    assert clf._encoder is None  # get_params loaded no model
    assert is_classifier(clf) and clone(clf).get_params() == params
    scores = cross_val_score(clf, texts, y, cv=3)
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))
    search = GridSearchCV(clf, {"C": [0.1, 10.0]}, cv=2).fit(texts, y)
    assert search.best_params_["C"] in (0.1, 10.0)
    fitted = clf.fit(texts, y)
    assert fitted.classes_.tolist() == [0, 1] and fitted.predict(texts[:2]).dtype.kind == "i"
    assert 0 <= fitted.score(texts, y) <= 1
    fitted.save(tmp_path / "ints")
    again = EmbeddingClassifier.load(tmp_path / "ints")
    assert again.classes_.tolist() == [0, 1] and type(again.classes_.tolist()[0]) is int
    assert again.get_params()["max_iter"] == 200
    flags = EmbeddingClassifier(model=str(tiny_model_dir)).fit(texts, [bool(v) for v in y])
    flags.save(tmp_path / "bools")
    assert EmbeddingClassifier.load(tmp_path / "bools").classes_.tolist() == [False, True]
    with pytest.raises(ValueError, match="all text, all integers"):
        EmbeddingClassifier(model=str(tiny_model_dir)).fit(texts[:4], [1, "a", 1, "a"])
    with pytest.raises(ValueError, match="unknown parameter 'gamma'"):
        clf.set_params(gamma=1)
    assert clf.set_params(C=3).C == 3
