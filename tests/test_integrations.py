"""The plug points of the ecosystem (issue 14): sentence-transformers' encode arguments and
model directory, scikit-learn estimators, a BERTopic backend, LangChain-style embeddings, and
the containers of texts encode takes."""

import asyncio
import json
import socket

import numpy as np
import pytest

from conftest import make_model
from lexdense import LexDense
from lexdense.errors import InputError, InputTypeError, NotFittedError
from lexdense.extras import MissingExtraError

TEXTS = ["the cat sat on the mat", "", "?!", "zebra crossing xqzv", "New York stock market fell sharply",
         "the dog", "new york city"]

SPORT = ["the team won the football match", "a great goal in the second half", "the striker scored twice",
         "the coach praised the players", "fans cheered in the stadium", "the league title race is close",
         "the goalkeeper saved a penalty", "the tennis player won the final", "the runner broke the record",
         "the club signed a new midfielder", "the referee showed a red card", "basketball playoffs start tonight"]
FOOD = ["add the flour and stir the sauce", "bake the bread for forty minutes", "chop the onions and garlic",
        "the soup needs more salt", "whisk the eggs with sugar", "roast the chicken in the oven",
        "a recipe for chocolate cake", "fry the potatoes in olive oil", "simmer the tomatoes slowly",
        "season the salad with lemon", "knead the dough until smooth", "the pasta is cooked al dente"]


def one_line(info) -> str:
    message = str(info.value)
    assert message and "\n" not in message, message
    return message


@pytest.fixture(scope="module")
def base() -> LexDense:
    return LexDense.load("lexdense-base")


# -- encode: the arguments of SentenceTransformer.encode --------------------------------------
def test_convert_to_numpy_and_tensor(tiny_model):
    torch = pytest.importorskip("torch")
    x = tiny_model.encode(TEXTS)
    listed = tiny_model.encode(TEXTS, convert_to_numpy=False)
    assert isinstance(listed, list) and len(listed) == len(TEXTS)
    assert all(isinstance(v, torch.Tensor) and v.shape == (24,) for v in listed)
    np.testing.assert_array_equal(torch.stack(listed).numpy(), x)
    tensor = tiny_model.encode(TEXTS, convert_to_tensor=True, convert_to_numpy=False)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (7, 24) and tensor.dtype == torch.float32
    np.testing.assert_array_equal(tensor.numpy(), x)
    one = tiny_model.encode("the cat", convert_to_tensor=True)
    assert isinstance(one, torch.Tensor) and one.shape == (24,)
    assert isinstance(tiny_model.encode("the cat", convert_to_numpy=False), torch.Tensor)
    assert tiny_model.encode([], convert_to_tensor=True).shape == (0, 24)
    assert tiny_model.encode([], convert_to_numpy=False) == []
    packed = tiny_model.encode(TEXTS, convert_to_tensor=True, precision="ubinary")
    assert packed.dtype == torch.uint8 and packed.shape == (7, 3)
    assert isinstance(tiny_model.encode(TEXTS, convert_to_numpy=True), np.ndarray)


def test_tensors_without_torch_are_one_line_errors(tiny_model, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    for options in ({"convert_to_tensor": True}, {"convert_to_numpy": False}):
        with pytest.raises(MissingExtraError) as info:
            tiny_model.encode(["the cat"], **options)
        assert "needs torch" in one_line(info)
    assert tiny_model.encode(["the cat"]).shape == (1, 24)


def test_device_pool_and_output_value(tiny_model):
    torch = pytest.importorskip("torch")
    x = tiny_model.encode(TEXTS)
    for device in ("cpu", "cpu:0", torch.device("cpu"), None):
        np.testing.assert_array_equal(tiny_model.encode(TEXTS, device=device), x)
    np.testing.assert_array_equal(tiny_model.encode(TEXTS, output_value="sentence_embedding"), x)
    refused = [
        ({"device": "cuda"}, "device='cuda' is not supported"),
        ({"device": torch.device("cuda", 1)}, "device='cuda:1' is not supported"),
        ({"device": ["cpu", "cpu"]}, "multi-process encoding"),
        ({"pool": {"processes": []}}, "multi-process encoding"),
        ({"output_value": "token_embeddings"}, "output_value='token_embeddings' is not supported"),
        ({"output_value": None}, "output_value=None is not supported"),
        ({"output_value": "cls"}, "unknown output_value 'cls'"),
        ({"processing_kwargs": {"text": {"max_length": 8}}}, "processing_kwargs is not supported"),
        ({"max_length": 8}, "unexpected argument 'max_length'"),
        ({"batch_size": 0}, "batch_size must be a positive int"),
        ({"batch_size": 2.5}, "batch_size must be a positive int"),
        ({"precision": "float16"}, "unknown precision 'float16'"),
    ]
    for options, message in refused:
        with pytest.raises(InputError) as info:
            tiny_model.encode(TEXTS, **options)
        assert not isinstance(info.value, TypeError)
        assert message in one_line(info), (options, str(info.value))


def test_accepted_sentence_transformers_arguments(tiny_model):
    x = tiny_model.encode(TEXTS)
    same = tiny_model.encode(TEXTS, batch_size=np.int64(2), show_progress_bar=False, precision=None,
                             chunk_size=3, task="query", processing_kwargs={})
    np.testing.assert_allclose(same, x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tiny_model.encode(inputs=TEXTS), x, rtol=1e-6)  # sentence-transformers 6's name
    raw = tiny_model.encode(TEXTS, normalize_embeddings=False)
    assert not np.allclose(np.linalg.norm(raw[[0, 3, 4]], axis=1), 1.0)
    with pytest.raises(InputError) as info:
        tiny_model.encode(TEXTS, inputs=TEXTS)
    assert "both" in one_line(info)
    with pytest.raises(InputError) as info:
        tiny_model.encode()
    assert "needs texts" in one_line(info)


def test_prompts_are_prepended(tiny_model):
    texts = ["the cat sat", "stock market"]
    with_prompt = tiny_model.encode(texts, prompt="new york ")
    np.testing.assert_allclose(with_prompt, tiny_model.encode(["new york " + t for t in texts]), rtol=1e-6)
    assert not np.allclose(with_prompt, tiny_model.encode(texts))
    with pytest.raises(InputError) as info:
        tiny_model.encode(texts, prompt_name="query")
    assert "unknown prompt_name 'query'" in one_line(info)
    with pytest.raises(InputTypeError):
        tiny_model.encode(texts, prompt=3)

    prompted = make_model()
    prompted.config["prompts"] = {"query": "the dog ", "document": ""}
    np.testing.assert_allclose(prompted.encode(texts, prompt_name="query"),
                               tiny_model.encode(["the dog " + t for t in texts]), rtol=1e-6)
    # prompt wins over prompt_name, as in sentence-transformers
    np.testing.assert_allclose(prompted.encode(texts, prompt_name="query", prompt=""), tiny_model.encode(texts),
                               rtol=1e-6)
    prompted.config["default_prompt_name"] = "query"
    np.testing.assert_allclose(prompted.encode(texts), prompted.encode(texts, prompt_name="query"), rtol=1e-6)
    np.testing.assert_allclose(prompted.encode(texts, prompt_name="document"), tiny_model.encode(texts), rtol=1e-6)


# -- encode: containers of texts ------------------------------------------------------------
def test_containers_of_texts(tiny_model):
    x = tiny_model.encode(TEXTS)
    for texts in (tuple(TEXTS), (t for t in TEXTS), iter(TEXTS), np.array(TEXTS), np.array(TEXTS, dtype=object)):
        np.testing.assert_allclose(tiny_model.encode(texts), x, rtol=1e-6)
    assert tiny_model.encode(np.str_("the cat")).shape == (24,)  # a numpy string is one text


def test_pandas_and_pyarrow_texts(tiny_model):
    pd = pytest.importorskip("pandas")
    import pyarrow as pa

    x = tiny_model.encode(TEXTS)
    series = pd.Series(TEXTS, index=range(100, 107))  # a non-default index must not matter
    for texts in (series, pd.Series(TEXTS, dtype="string"), pa.array(TEXTS), pa.array(TEXTS, pa.large_string()),
                  pa.chunked_array([TEXTS[:3], TEXTS[3:]])):
        np.testing.assert_allclose(tiny_model.encode(texts), x, rtol=1e-6)
    refused = [
        (pd.DataFrame({"text": TEXTS}), InputTypeError, "got a DataFrame: pass one column"),
        (pa.table({"text": TEXTS}), InputTypeError, "got a Table: pass one column"),
        (pa.array([1, 2]), InputTypeError, "pyarrow array of strings, got one of int64"),
        (pa.array(["a", None]), InputTypeError, "got NoneType at index 1"),
        (pd.Series(["a", None, "b"]), InputTypeError, "got a missing value (nan) at index 1"),
        (pd.Series(["a", "b", None], dtype=object), InputTypeError, "got a missing value (None) at index 2"),
        (pd.Series(["a", float("nan")], index=[5, 3]), InputTypeError, "got a missing value (nan) at index 1"),
        (np.array([["a", "b"]]), InputError, "1-D array of texts"),
        (["ok", None], InputTypeError, "got NoneType at index 1"),  # as before
        ({"a": 1}, InputTypeError, "expected a list of str, got dict"),
    ]
    for texts, error, message in refused:
        with pytest.raises(error) as info:
            tiny_model.encode(texts)
        assert message in one_line(info), (type(texts), str(info.value))


# -- sentence-transformers: a saved model is a SentenceTransformer directory -------------------
def test_saved_model_loads_in_sentence_transformers(tmp_path, base):
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    path = base.save(tmp_path / "base")
    modules = json.loads((path / "modules.json").read_text())
    assert modules == [{"idx": 0, "name": "0", "path": "",
                        "type": "lexdense.integrations.sentence_transformers.LexDenseModule"}]
    reloaded = LexDense.load(path)
    texts = TEXTS + [f"the market in new york {i} fell again" for i in range(40)]
    st = SentenceTransformer(str(path), trust_remote_code=True, device="cpu")  # sentence-transformers >= 6 asks
    x = reloaded.encode(texts)
    y = st.encode(texts, batch_size=16)
    assert isinstance(y, np.ndarray) and y.shape == (len(texts), 384)
    np.testing.assert_allclose(y, x, atol=1e-5)
    assert np.all(y[1:3] == 0)  # no feature: the zero vector, as in lexdense
    assert st.get_embedding_dimension() == 384
    np.testing.assert_allclose(st.encode("the cat sat", convert_to_tensor=True).numpy(), reloaded.encode("the cat sat"),
                               atol=1e-5)
    np.testing.assert_allclose(st.encode(texts, truncate_dim=64, normalize_embeddings=True),
                               reloaded.encode(texts, truncate_dim=64), atol=1e-5)

    # sentence-transformers' own save writes a directory lexdense loads (and it loads again)
    st.save(str(tmp_path / "resaved"))
    np.testing.assert_allclose(LexDense.load(tmp_path / "resaved").encode(texts), x, atol=1e-6)
    again = SentenceTransformer(str(tmp_path / "resaved"), trust_remote_code=True, device="cpu")
    np.testing.assert_allclose(again.encode(texts), x, atol=1e-5)
    base.save(tmp_path / "resaved")  # a lexdense directory saved by sentence-transformers may be replaced


def test_module_built_by_hand_and_prompts(tmp_path):
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    from lexdense.integrations.sentence_transformers import LexDenseModule, to_sentence_transformer

    model = make_model()
    st = to_sentence_transformer(model)
    np.testing.assert_allclose(st.encode(TEXTS), model.encode(TEXTS), atol=1e-5)
    raw = to_sentence_transformer(model, normalize=False)
    np.testing.assert_allclose(raw.encode(TEXTS), model.encode(TEXTS, normalize_embeddings=False), atol=1e-5)
    assert repr(LexDenseModule(model)).startswith("LexDenseModule(LexDense(")

    model.config["prompts"] = {"query": "the dog ", "document": ""}
    path = model.save(tmp_path / "prompted")
    assert json.loads((path / "config_sentence_transformers.json").read_text())["prompts"]["query"] == "the dog "
    st = SentenceTransformer(str(path), trust_remote_code=True, device="cpu")
    np.testing.assert_allclose(st.encode(TEXTS, prompt_name="query"), model.encode(TEXTS, prompt_name="query"),
                               atol=1e-5)
    np.testing.assert_allclose(st.encode(TEXTS, prompt="new york "), model.encode(TEXTS, prompt="new york "),
                               atol=1e-5)


def test_fine_tuned_module_saves_its_weights(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from lexdense.integrations.sentence_transformers import LexDenseModule

    module = LexDenseModule(make_model())
    with torch.no_grad():
        module.out.bias.add_(0.5)
        module.embedding.weight.mul_(2.0)
    edited = module.to_lexdense()
    module.save(str(tmp_path))
    loaded = LexDense.load(tmp_path)
    np.testing.assert_allclose(loaded.weights["out.bias"], make_model().weights["out.bias"] + 0.5, rtol=1e-6)
    features = module.preprocess(TEXTS)
    with torch.no_grad():
        y = module(features)["sentence_embedding"].numpy()
    np.testing.assert_allclose(edited.encode(TEXTS), y, atol=1e-5)
    np.testing.assert_allclose(loaded.encode(TEXTS), y, atol=1e-5)


# -- scikit-learn ------------------------------------------------------------------------------
def test_transformer_in_a_cross_validated_pipeline():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import Pipeline

    from lexdense.integrations.sklearn import LexDenseTransformer

    texts, y = SPORT + FOOD, np.array([0] * len(SPORT) + [1] * len(FOOD))
    pipe = Pipeline([("emb", LexDenseTransformer()), ("clf", LogisticRegression())])
    scores = cross_val_score(pipe, texts, y, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert scores.mean() > 0.75  # chance is 0.5


def test_transformer_follows_sklearn_conventions(tiny_model_dir, tiny_model):
    pytest.importorskip("sklearn")
    pd = pytest.importorskip("pandas")
    from sklearn.base import clone

    from lexdense.integrations.sklearn import LexDenseTransformer

    unfitted = LexDenseTransformer(model_name="no/such/model")  # __init__ loads nothing
    assert unfitted.get_params() == {"model_name": "no/such/model", "normalize": True, "batch_size": 1024,
                                     "truncate_dim": None}
    with pytest.raises(NotFittedError) as info:
        unfitted.transform(["a"])
    one_line(info)
    with pytest.raises(ValueError):
        unfitted.fit(["a"])  # ModelFileError: no model there

    emb = LexDenseTransformer(model_name=str(tiny_model_dir), normalize=False)
    twin = clone(emb).set_params(normalize=True)
    assert twin.normalize is True and emb.normalize is False and not hasattr(twin, "model_")
    x = emb.fit_transform(TEXTS)
    assert x.shape == (7, 24) and x.dtype == np.float32
    np.testing.assert_allclose(x, tiny_model.encode(TEXTS, normalize_embeddings=False), rtol=1e-6)
    np.testing.assert_allclose(twin.fit(TEXTS).transform(np.array(TEXTS)[:, None]), tiny_model.encode(TEXTS),
                               rtol=1e-6)  # a one-column 2-D array, as a ColumnTransformer passes
    np.testing.assert_allclose(twin.transform(pd.DataFrame({"t": TEXTS})), tiny_model.encode(TEXTS), rtol=1e-6)
    with pytest.raises(InputError):
        twin.transform(pd.DataFrame({"a": TEXTS, "b": TEXTS}))
    with pytest.raises(InputTypeError):
        twin.transform("one string")
    assert list(twin.get_feature_names_out()[:2]) == ["lexdense0", "lexdense1"]
    frame = clone(twin).set_output(transform="pandas").fit_transform(TEXTS)
    assert list(frame.columns[:2]) == ["lexdense0", "lexdense1"] and frame.shape == (7, 24)
    cut = LexDenseTransformer(model_name=tiny_model, truncate_dim=8).fit(TEXTS)  # a loaded model works too
    assert cut.transform(TEXTS).shape == (7, 8) and len(cut.get_feature_names_out()) == 8


def test_classifier_wrapper_cross_validates_and_keeps_label_types():
    pytest.importorskip("sklearn")
    from sklearn.model_selection import cross_val_score

    from lexdense.integrations.sklearn import LexDenseClassifier

    texts = SPORT + FOOD
    for y in (np.array([0] * 12 + [1] * 12), np.array(["sport"] * 12 + ["food"] * 12)):
        scores = cross_val_score(LexDenseClassifier(), texts, y, cv=3)
        assert np.all(np.isfinite(scores)) and scores.mean() > 0.75
    y = np.array([10] * 12 + [2] * 12)  # "10" < "2" as strings: the order must be ours
    clf = LexDenseClassifier().fit(texts, y)
    assert list(clf.classes_) == [2, 10]
    predicted = clf.predict(texts)
    assert predicted.dtype == y.dtype and (predicted == y).mean() > 0.9
    proba = clf.predict_proba(["bake the cake", "the team scored a goal"])
    assert proba.shape == (2, 2) and proba[0, 0] > 0.5 and proba[1, 1] > 0.5
    assert clf.score(texts, y) > 0.9
    with pytest.raises(NotFittedError):
        LexDenseClassifier().predict(texts)


# -- BERTopic ------------------------------------------------------------------------------------
def test_bertopic_backend_fits_offline(monkeypatch, base):
    pytest.importorskip("bertopic")
    from lexdense.sources import datasets

    try:
        news = datasets.newsgroups("test")
    except datasets.DatasetUnavailable as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise OSError("network use in an offline test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.metrics import normalized_mutual_info_score
    from umap import UMAP

    from lexdense.integrations.bertopic import LexDenseBackend

    groups = ("rec.sport.hockey", "sci.space")
    index = [i for i, label in enumerate(news.labels) if label in groups]
    index = np.random.default_rng(0).permutation(index)[:200]
    docs, labels = [news.texts[i][:300] for i in index], [news.labels[i] for i in index]

    backend = LexDenseBackend(base)
    np.testing.assert_allclose(backend.embed(docs[:5]), base.encode(docs[:5]), rtol=1e-6)
    topic_model = BERTopic(embedding_model=backend,
                           umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                           random_state=0),
                           hdbscan_model=HDBSCAN(min_cluster_size=10, prediction_data=True))
    topics, _ = topic_model.fit_transform(docs)
    assert len(topics) == len(docs) and len(topic_model.topics_) == len(docs)
    assert len(set(topics) - {-1}) >= 2
    assert normalized_mutual_info_score(labels, topics) > 0.4
    assert topic_model.transform(["the goalie stopped the puck in overtime"])[0][0] in set(topics)


def test_bertopic_backend_loads_by_name(tiny_model_dir):
    pytest.importorskip("bertopic")
    from lexdense.integrations.bertopic import LexDenseBackend

    backend = LexDenseBackend(tiny_model_dir)
    assert backend.embed_words(["cat", "dog"]).shape == (2, 24)
    with pytest.raises(InputTypeError):
        LexDenseBackend(42)


# -- LangChain / LlamaIndex / Chroma ----------------------------------------------------------
def test_langchain_style_embeddings(tiny_model):
    from lexdense.integrations.langchain import LexDenseEmbeddings

    embeddings = LexDenseEmbeddings(tiny_model)
    docs = embeddings.embed_documents(TEXTS)
    assert isinstance(docs, list) and len(docs) == 7
    assert all(isinstance(v, list) and len(v) == 24 and all(type(f) is float for f in v) for v in docs)
    np.testing.assert_allclose(np.array(docs), tiny_model.encode(TEXTS), rtol=1e-6)
    query = embeddings.embed_query("the cat sat on the mat")
    assert isinstance(query, list) and all(type(f) is float for f in query)
    np.testing.assert_allclose(query, docs[0], rtol=1e-5, atol=1e-6)
    assert asyncio.run(embeddings.aembed_documents(TEXTS)) == docs
    assert asyncio.run(embeddings.aembed_query("the cat sat on the mat")) == query
    assert embeddings.get_text_embedding_batch(TEXTS) == docs == embeddings(TEXTS)
    assert embeddings.get_query_embedding("the cat sat on the mat") == query
    assert embeddings.embed_documents([]) == []
    raw = LexDenseEmbeddings(tiny_model, normalize=False).embed_query("the cat sat on the mat")
    np.testing.assert_allclose(raw, tiny_model.encode("the cat sat on the mat", normalize_embeddings=False),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(InputTypeError) as info:
        embeddings.embed_documents("one string")
    one_line(info)
    with pytest.raises(InputTypeError) as info:
        embeddings.embed_query(["a list"])
    one_line(info)
    with pytest.raises(InputTypeError):
        LexDenseEmbeddings(42)


def test_langchain_embeddings_load_by_name(tiny_model_dir, tiny_model):
    from lexdense.integrations.langchain import LexDenseEmbeddings

    np.testing.assert_allclose(LexDenseEmbeddings(tiny_model_dir).embed_query("cat"), tiny_model.encode("cat"),
                               rtol=1e-6)
