"""The install: a light core, one extra per feature, one error base, one not-fitted error."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib

import lexdense
from lexdense import extras
from lexdense.errors import LexDenseError, NotFittedError

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("fastapi", "uvicorn", "umap-learn", "pyod", "plotly", "matplotlib", "torch", "ray",
         "scikit-learn", "sentence-transformers")


def test_extras_table_matches_pyproject():
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras.EXTRAS) == set(optional) - {"all", "test"}
    everything = optional["all"][0]
    for name in extras.EXTRAS:
        if name != "mteb":
            assert name in everything, f"extra '{name}' missing from lexdense[all]"


def test_require_names_the_pip_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    with pytest.raises(extras.MissingExtraError) as info:
        extras.require("serve", "the service")
    message = str(info.value)
    assert "\n" not in message and "pip install 'lexdense[serve]'" in message and "fastapi" in message
    assert isinstance(info.value, ImportError) and isinstance(info.value, LexDenseError)
    extras.require("classify")  # installed here: no error
    with pytest.raises(KeyError):
        extras.missing("no-such-extra")


def test_extra_for_maps_import_errors():
    assert extras.extra_for(ModuleNotFoundError("x", name="sklearn.linear_model")) == "classify"
    assert extras.extra_for(ModuleNotFoundError("x", name="fastapi")) == "serve"
    assert extras.extra_for(ModuleNotFoundError("x", name="left_pad")) is None


def test_every_error_lexdense_raises_on_purpose_has_one_base():
    from lexdense.classify import ClassifierFileError
    from lexdense.io.atomic import LockedError, OutputExistsError
    from lexdense.io.readers import CorpusError
    from lexdense.search import IndexError_
    from lexdense.sources.datasets import DatasetUnavailable

    for error in (lexdense.ModelFileError, ClassifierFileError, IndexError_, CorpusError, LockedError,
                  OutputExistsError, DatasetUnavailable, extras.MissingExtraError, NotFittedError):
        assert issubclass(error, LexDenseError), error.__name__


def _workflows():
    from lexdense.anomaly import AnomalyDetector
    from lexdense.classify import EmbeddingClassifier
    from lexdense.discover import TopicDiscovery
    from lexdense.labels import KeywordTopics

    vectors = np.eye(4, dtype=np.float32)
    return [
        ("classifier", lambda: EmbeddingClassifier(model=None).predict(vectors=vectors)),
        ("discovery", lambda: TopicDiscovery(model=None).transform(vectors=vectors)),
        ("anomaly", lambda: AnomalyDetector(model=None).decision_function(vectors=vectors)),
        ("keyword topics", lambda: KeywordTopics({"a": ["b"], "c": ["d"]}, model=None).predict(vectors=vectors)),
    ]


@pytest.mark.parametrize("name,call", _workflows(), ids=[n for n, _ in _workflows()])
def test_not_fitted_is_one_error(name, call):
    with pytest.raises(NotFittedError, match=r"is not fitted: call fit\(\)"):
        call()


def test_cli_missing_extra_is_one_line(tmp_path):
    """A command whose extra is absent says which extra to install, in one line, exit 2."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("a cat sat\na dog ran\n")
    blocker = tmp_path / "block"
    blocker.mkdir()
    # A meta-path finder that hides usearch and bm25s, as on a core install.
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('usearch', 'bm25s'):\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\", name=name)\n"
        "sys.meta_path.insert(0, _Hide())\n")
    env = dict(os.environ, PYTHONPATH=f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    result = subprocess.run([sys.executable, "-m", "lexdense.cli", "index", str(corpus), "--out",
                             str(tmp_path / "idx")], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install 'lexdense[search]'" in lines[0], result.stderr
    assert not (tmp_path / "idx").exists()


@pytest.mark.skipif(os.environ.get("LEXDENSE_SKIP_INSTALL_TEST") == "1", reason="LEXDENSE_SKIP_INSTALL_TEST=1")
def test_core_install_encodes_without_heavy_packages(tmp_path):
    """`pip install .` with no extras, in a fresh venv: loads and encodes the shipped model, and
    brings none of the heavy packages (a web server, UMAP, PyOD, plots, torch, ray, sklearn)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-2000:]
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                            text=True, check=True).stdout.lower()
    names = {line.split("==")[0].replace("_", "-") for line in listed.splitlines()}
    assert "lexdense" in names and "numpy" in names
    assert not names & set(HEAVY), names & set(HEAVY)
    code = ("from lexdense import LexDense; v = LexDense.load().encode(['a b', 'the stock market fell']); "
            "print(v.shape, round(float((v[1] ** 2).sum()), 3))")
    run = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split(")")[0] == "(2, 384"
    # The CLI runs too, and a command whose extra is missing names it in one line.
    corpus = tmp_path / "c.txt"
    corpus.write_text("a cat sat\na dog ran\n")
    lexdense_cli = venv / "bin" / "lexdense"
    embedded = subprocess.run([str(lexdense_cli), "embed", str(corpus), "--out", str(tmp_path / "v.parquet")],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert embedded.returncode == 0, embedded.stderr[-2000:]
    labelled = tmp_path / "l.jsonl"
    labelled.write_text("".join(f'{{"text": "text number {i}", "label": "{i % 2}"}}\n' for i in range(40)))
    refused = subprocess.run([str(lexdense_cli), "classify", "train", str(labelled),
                              "--out", str(tmp_path / "clf")], capture_output=True, text=True, timeout=300,
                             cwd=tmp_path)
    assert refused.returncode == 2
    assert "pip install 'lexdense[classify]'" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
