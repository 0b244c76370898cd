import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_model
from lexdense import LexDense, ModelFileError


def test_single_string_gives_one_vector(tiny_model):
    one = tiny_model.encode("the cat sat on the mat")
    many = tiny_model.encode(["the cat sat on the mat", "stock market"])
    assert one.shape == (24,) and many.shape == (2, 24)
    np.testing.assert_allclose(one, many[0], rtol=1e-5, atol=1e-6)  # float32 BLAS: batch shape changes rounding
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, rtol=1e-5)


def test_batching_does_not_change_vectors(tiny_model):
    texts = [f"the cat {i} sat on mat number {i * 7}" for i in range(50)]
    full = tiny_model.encode(texts, batch_size=1024)
    small = tiny_model.encode(texts, batch_size=3)
    np.testing.assert_allclose(full, small, rtol=1e-5, atol=1e-6)


def test_case_and_punctuation_do_not_matter(tiny_model):
    a, b = tiny_model.encode(["The CAT, sat!", "the cat sat"])
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_empty_and_whitespace_give_zero_vectors(tiny_model):
    vectors = tiny_model.encode(["", "   \n\t", "?!", "cat"])
    assert np.all(vectors[:3] == 0)
    assert np.linalg.norm(vectors[3]) == pytest.approx(1.0, rel=1e-5)
    assert tiny_model.encode([]).shape == (0, 24)


@pytest.mark.parametrize("bad, message", [
    (["ok", None], "got NoneType at index 1"),
    (["ok", 3], "got int at index 1"),
    ([b"bytes"], "got bytes at index 0"),
    (42, "expected a list of str, got int"),
])
def test_bad_items_are_named(tiny_model, bad, message):
    with pytest.raises(TypeError, match=message):
        tiny_model.encode(bad)


def test_unknown_options_are_named(tiny_model):
    with pytest.raises(ValueError, match="unknown precision 'float16'"):
        tiny_model.encode(["a"], precision="float16")
    with pytest.raises(ValueError, match="truncate_dim"):
        tiny_model.encode(["a"], truncate_dim=0)
    with pytest.raises(ValueError, match="batch_size"):
        tiny_model.encode(["a"], batch_size=0)


def test_truncation_renormalises_prefix(tiny_model):
    full = tiny_model.encode(["the cat sat"], normalize_embeddings=False)
    cut = tiny_model.encode(["the cat sat"], truncate_dim=8)
    expected = full[:, :8] / np.linalg.norm(full[:, :8])
    np.testing.assert_allclose(cut, expected, rtol=1e-5)


def test_precisions(tiny_model):
    texts = ["the cat sat", "stock market fell", "new york city"]
    x = tiny_model.encode(texts)
    i8 = tiny_model.encode(texts, precision="int8")
    u8 = tiny_model.encode(texts, precision="uint8")
    assert i8.dtype == np.int8 and u8.dtype == np.uint8 and i8.shape == x.shape
    np.testing.assert_array_equal(i8.astype(np.int16) + 128, u8)
    # Ranges are the model's (-0.5, 0.5): values map monotonically onto 0..255.
    order = np.argsort(x[0])
    assert np.all(np.diff(u8[0][order].astype(int)) >= 0)
    ub = tiny_model.encode(texts, precision="ubinary")
    b = tiny_model.encode(texts, precision="binary")
    assert ub.shape == (3, 3) and ub.dtype == np.uint8
    np.testing.assert_array_equal(np.unpackbits(ub, axis=1)[:, :24], (x > 0).astype(np.uint8))
    np.testing.assert_array_equal(b.astype(np.int16) + 128, ub)


def test_save_load_roundtrip(tmp_path, tiny_model):
    path = tiny_model.save(tmp_path / "m")
    assert sorted(p.name for p in path.iterdir()) == [".lexdense-output", "README.md", "config.json",
                                                     "model.safetensors", "modules.json", "tokenizer.json"]
    loaded = LexDense.load(path)
    texts = ["the cat sat on the mat", "zebra crossing", "new york"]
    np.testing.assert_allclose(loaded.encode(texts), tiny_model.encode(texts), rtol=1e-6)


def test_save_replaces_existing_model_atomically(tmp_path):
    first, second = make_model(seed=1), make_model(seed=2)
    path = first.save(tmp_path / "m")
    second.save(path)
    np.testing.assert_allclose(LexDense.load(path).encode("cat"), second.encode("cat"), rtol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def _corrupt(directory, name, content):
    (directory / name).write_bytes(content)


@pytest.mark.parametrize("name, content, message", [
    ("model.safetensors", b"\x00garbage", "corrupt or not safetensors"),
    ("config.json", b"{not json", "not valid JSON"),
    ("config.json", b'{"format": "other"}', "not a lexdense config"),
    ("config.json", b'{"format": "lexdense", "format_version": 99}', "format_version 99"),
    ("tokenizer.json", b"[]", "unreadable vocabulary"),
])
def test_corrupt_files_are_named(tiny_model_dir, name, content, message):
    _corrupt(tiny_model_dir, name, content)
    with pytest.raises(ModelFileError, match=message):
        LexDense.load(tiny_model_dir)


def test_shape_mismatch_is_named(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config["d_hidden"] = 7
    (tiny_model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="'hidden.weight' has shape"):
        LexDense.load(tiny_model_dir)


def test_missing_and_foreign_directories(tmp_path, tiny_model_dir):
    with pytest.raises(ModelFileError, match="no model directory"):
        LexDense.load(tmp_path / "nowhere")
    (tiny_model_dir / "tokenizer.json").unlink()
    with pytest.raises(ModelFileError, match="missing tokenizer.json"):
        LexDense.load(tiny_model_dir)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=10))
def test_encode_is_finite_unit_or_zero(texts):
    model = make_model()
    vectors = model.encode(texts)
    assert vectors.shape == (len(texts), 24) and vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    norms = np.linalg.norm(vectors, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-4) | (norms == 0))
    # A text embeds the same alone as in any batch.
    np.testing.assert_allclose(model.encode(texts[0]), vectors[0], rtol=1e-5, atol=1e-6)


def test_huge_document(tiny_model):
    text = "the cat sat on the mat and zebras graze " * 1_300_000  # ~50 MB
    vector = tiny_model.encode(text)
    assert np.isfinite(vector).all() and np.linalg.norm(vector) == pytest.approx(1.0, rel=1e-4)


def test_crash_during_save_keeps_previous_model(tmp_path, monkeypatch):
    first = make_model(seed=1)
    path = first.save(tmp_path / "m")

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.numpy.save_file", explode)
    with pytest.raises(OSError, match="disk full"):
        make_model(seed=2).save(path)
    np.testing.assert_allclose(LexDense.load(path).encode("cat"), first.encode("cat"), rtol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary left behind


def test_encode_from_many_threads_at_once():
    """numba's workqueue layer aborts the process on concurrent parallel calls; encode must
    serialise them. Run in a child process: an abort there fails the test, not pytest."""
    import subprocess
    import sys

    script = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "import numpy as np\n"
        "from lexdense import LexDense\n"
        "m = LexDense.load('lexdense-base')\n"
        "texts = [f'text number {i} about stocks and hockey' for i in range(64)]\n"
        "expected = m.encode(texts)\n"
        "with ThreadPoolExecutor(8) as pool:\n"
        "    results = list(pool.map(lambda i: m.encode(texts), range(200)))\n"
        # float32 BLAS may round differently by buffer alignment (seen on AVX2 machines): a
        # race would give other vectors, not a 1e-7 difference
        "assert all(np.allclose(r, expected, rtol=0, atol=1e-5) for r in results)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_encode_holds_blas_to_one_thread_and_gives_the_setting_back():
    import numba
    from threadpoolctl import threadpool_info

    from lexdense.blas import ONE_BLAS_THREAD as _ONE_BLAS_THREAD

    LexDense.load("lexdense-base")  # whatever BLAS libraries loading brings in, first
    _ONE_BLAS_THREAD._libraries = None  # found again now, whatever earlier tests loaded

    def blas_threads():
        return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    with _ONE_BLAS_THREAD:
        with _ONE_BLAS_THREAD:  # overlapping calls, as from two server threads
            pass
        inside = blas_threads()
    assert blas_threads() == before
    if numba.get_num_threads() > 1:
        assert all(n == 1 for n in inside.values())
    else:
        assert inside == before
    LexDense.load("lexdense-base").encode(["a text"] * 2000)
    assert blas_threads() == before
