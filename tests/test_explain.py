import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lexdense import LexDense
from lexdense.cli import app
from lexdense.explain import Explainer, fisher_scores, probe


@pytest.fixture(scope="module")
def explainer():
    return Explainer(model=LexDense.load("lexdense-base"))


def test_explanation_names_the_topic_and_its_fidelity_is_the_reconstruction(explainer):
    result = explainer.explain("NASA launched the space shuttle to repair the Hubble telescope")
    names = [c["concept"] for c in result["concepts"][:5]]
    assert {"nasa", "shuttle", "telescope", "hubble"} & set(names)
    assert 0.3 < result["fidelity"] <= 1
    vector = explainer.model.encode(["NASA launched the space shuttle to repair the Hubble telescope"])[0]
    index, weights, fidelity = explainer.code(vector)
    x = vector / np.linalg.norm(vector)
    residual = x - explainer.vectors[index].T @ weights
    assert fidelity == pytest.approx(1 - residual @ residual, abs=1e-6) and (weights > 0).all()
    assert explainer.explain("")["fidelity"] == 0.0  # no words: nothing to explain, no crash


def test_compare_gives_exact_leave_one_out_effects(explainer):
    a, b = "The central bank raised interest rates", "Interest rates were lifted by the Fed"
    result = explainer.compare(a, b)
    words = {e["word"]: e["cosine_drop"] for e in result["shared_words"]}
    assert set(words) == {"interest", "rates", "the"} and words["rates"] > words["the"]
    m = explainer.model
    va, vb = m.encode(["the central bank raised interest", "interest were lifted by the fed"])
    expected = result["cosine"] - float(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb))
    assert words["rates"] == pytest.approx(expected, abs=1e-5)


def test_custom_concept_banks(explainer):
    bank = Explainer(model=explainer.model, concepts={"sport": ["hockey", "baseball", "goal"],
                                                      "space": ["nasa", "orbit", "rocket"],
                                                      "money": ["bank", "interest", "inflation"]})
    top = bank.explain("the rocket reached orbit after launch")["concepts"][0]["concept"]
    assert top == "space"
    with pytest.raises(ValueError, match="at least two concepts"):
        Explainer(model=explainer.model, concepts=["only"])


def test_probe_finds_the_dimension_that_carries_a_concept():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 12))
    labels = np.where(np.arange(600) % 3 == 0, "a", np.where(np.arange(600) % 3 == 1, "b", "c"))
    x[labels == "a", 3] += 3.0
    x[labels == "b", 7] += 3.0
    x[labels == "b", 3] += 1.5
    assert fisher_scores(x, labels == "a").argmax() == 3
    result = probe(x, labels, ks=[1, 2, 4, 12], top_dims=2)
    assert result["concepts"]["a"]["top_dims"][0] == 3 and result["concepts"]["a"]["dims_for_95pct"] <= 2
    assert result["concepts"]["a"]["accuracy_by_dims"][1] > 0.75  # chance is 0.5
    jac = np.asarray(result["top_dims_jaccard"])
    assert np.allclose(jac, jac.T) and np.allclose(np.diag(jac), 1)
    a, b = result["names"].index("a"), result["names"].index("b")
    assert jac[a, b] > 0  # a and b share dimension 3


def test_explain_command(tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["explain", "NASA launched the space shuttle", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["concepts"]
    corpus = tmp_path / "l.jsonl"
    from lexdense.sources import datasets

    reuters = datasets.reuters("train")
    corpus.write_text("".join(json.dumps({"text": t, "label": l}) + "\n"
                              for t, l in zip(reuters.texts[:600], reuters.labels[:600])))
    probed = runner.invoke(app, ["explain", "--probe", str(corpus), "--json"])
    assert probed.exit_code == 0, probed.output
    assert "earn" in json.loads(probed.stdout)["concepts"]
    assert runner.invoke(app, ["explain"]).exit_code == 2


def test_a_concept_bank_with_no_known_feature_is_one_error(tmp_path):
    """Fuzzing found it: concepts that embed to zero vectors left the sparse coding no column."""
    with pytest.raises(ValueError, match="no concept of the bank"):
        Explainer(model=LexDense.load("lexdense-base"), concepts=["\x00", "\x00 \x00"])
    bank = tmp_path / "concepts.txt"
    bank.write_bytes(b"\x00\n\x00")
    result = CliRunner().invoke(app, ["explain", "--concepts", str(bank), "--", "cat"])
    assert result.exit_code == 2 and "no concept of the bank" in result.output
