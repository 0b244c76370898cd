import numpy as np
import pytest

from lexdense.model import FORMAT, FORMAT_VERSION, LexDense
from lexdense.text.featurizer import Featurizer

VOCAB = ["the", "cat", "sat", "on", "mat", "dog", "stock", "market", "fell", "new", "york",
         "city", "new york", "the cat"]


def make_model(seed: int = 0, d_embed: int = 16, d_hidden: int = 32, d_out: int = 24,
               n_buckets: int = 64, vocab=VOCAB) -> LexDense:
    rng = np.random.default_rng(seed)
    featurizer = Featurizer(list(vocab), n_buckets=n_buckets, ngram_range=(3, 5))
    weights = {
        "token_rows": rng.normal(size=(len(vocab), d_embed)).astype(np.float16),
        "char_rows": rng.normal(size=(n_buckets, d_embed)).astype(np.float16),
        "hidden.weight": rng.normal(size=(d_hidden, d_embed)).astype(np.float32) * 0.3,
        "hidden.bias": rng.normal(size=d_hidden).astype(np.float32) * 0.1,
        "back.weight": rng.normal(size=(d_embed, d_hidden)).astype(np.float32) * 0.3,
        "out.weight": rng.normal(size=(d_out, d_embed)).astype(np.float32),
        "out.bias": rng.normal(size=d_out).astype(np.float32) * 0.1,
        "int8_ranges": np.stack([-np.ones(d_out), np.ones(d_out)]).astype(np.float32) * 0.5,
    }
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": "tiny",
              "d_embed": d_embed, "d_hidden": d_hidden, "d_out": d_out, "n_buckets": n_buckets,
              "ngram_range": [3, 5], "use_bigrams": True}
    return LexDense(featurizer, weights, config)


@pytest.fixture
def tiny_model() -> LexDense:
    return make_model()


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_model):
    return tiny_model.save(tmp_path / "tiny")
