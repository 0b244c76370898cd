"""The shipped lexdense-base: present, small, valid, and semantically sane."""


import numpy as np
import pytest

from lexdense import LexDense
from lexdense.model import SHIPPED_MODELS_DIR


@pytest.fixture(scope="module")
def model():
    return LexDense.load("lexdense-base")


def test_shipped_files_and_size():
    directory = SHIPPED_MODELS_DIR / "lexdense-base"
    names = sorted(p.name for p in directory.iterdir() if p.name != ".lexdense-output")  # `make model`'s marker
    assert names == ["README.md", "config.json", "model.safetensors", "tokenizer.json"]
    total = sum(p.stat().st_size for p in directory.iterdir())
    assert total <= 50 * 2**20, f"{total / 2**20:.1f} MiB"


def test_card_states_recipe_and_figures():
    card = (SHIPPED_MODELS_DIR / "lexdense-base" / "README.md").read_text()
    for needle in ("all-MiniLM-L6-v2", "make model", "Ablations", "nDCG@10", "docs/s"):
        assert needle in card


def test_config_describes_the_tensors(model):
    assert model.dim == 384
    assert model.config["teacher"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert model.weights["token_rows"].shape[0] == len(model.featurizer.vocabulary)


@pytest.mark.parametrize("anchor, near, far", [
    ("the central bank raised interest rates", "the fed lifts borrowing costs", "my cat sleeps all day"),
    ("how do I install the printer driver on linux", "printer setup on a linux machine", "a recipe for apple pie"),
    ("the team won the championship game", "victory in the final match", "the senate passed the budget bill"),
    ("doctors treat patients in the hospital", "physicians and nurses at the clinic", "the stock market fell"),
])
def test_related_texts_are_closer_than_unrelated(model, anchor, near, far):
    a, n, f = model.encode([anchor, near, far])
    assert a @ n > a @ f + 0.1


def test_unknown_words_still_embed_by_character_ngrams(model):
    # Made-up words have no vocabulary row; their character n-grams still give a vector,
    # and spelling variants land near each other.
    a, b, c = model.encode(["zorblaxification", "zorblaxifications", "quantum chromodynamics"])
    assert np.linalg.norm(a) == pytest.approx(1.0, rel=1e-4)
    assert a @ b > a @ c


def test_truncated_vectors_keep_neighbours(model):
    texts = ["interest rates rise", "central bank policy", "football match result", "goal in extra time"]
    full = model.encode(texts)
    cut = model.encode(texts, truncate_dim=64)
    assert np.argsort(-(full @ full.T), axis=1)[:, 1].tolist() == np.argsort(-(cut @ cut.T), axis=1)[:, 1].tolist()
