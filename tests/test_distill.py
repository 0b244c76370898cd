import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lexdense.distill import (  # noqa: E402
    distill,
    passages,
    trainer,  # noqa: E402
)
from lexdense.distill.teacher import teacher_embeddings  # noqa: E402
from lexdense.distill.vocabulary import mine_vocabulary  # noqa: E402
from lexdense.model import LexDense  # noqa: E402
from lexdense.text.featurizer import Featurizer, words  # noqa: E402

WORDS = ("apple banana cherry grape lemon mango peach plum car bus train truck bike boat "
         "plane ship red green blue black white happy sad angry calm").split()


class FakeTeacher:
    """Deterministic stand-in for a sentence-transformer: a random projection of word counts."""

    def __init__(self, dim: int = 12):
        rng = np.random.default_rng(42)
        self.table = {w: rng.normal(size=dim) for w in WORDS}
        self.dim = dim
        self.calls = 0

    def encode(self, texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
               show_progress_bar=False):
        self.calls += 1
        out = np.zeros((len(texts), self.dim))
        for i, text in enumerate(texts):
            for w in words(text):
                out[i] += self.table.get(w, 0.0)
            out[i] += 0.01
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def corpus(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(4, 12))) for _ in range(n)]


def test_passages_cut_long_documents():
    cut = passages(["a b c d e f g h i j", "one two"], max_words=4)
    assert cut == ["a b c d", "e f g h"]  # the 2-word tail and document are too short


def test_vocabulary_is_ranked_and_deterministic():
    docs = ["b a", "a c", "a b", "c d"]
    vocab = mine_vocabulary(docs, n_words=3, n_bigrams=0)
    assert vocab.tokens == ["a", "b", "c"]  # a: 3 docs; b, c: 2 each, tie broken by token
    assert vocab.idf[0] < vocab.idf[1] == vocab.idf[2]


def test_gram_kl_loss_properties():
    x = torch.randn(16, 8)
    assert float(trainer.gram_kl_loss(x, x)) == pytest.approx(0.0, abs=1e-5)
    assert float(trainer.gram_kl_loss(x, torch.randn(16, 20))) > 0.01  # dims may differ


def test_torch_student_matches_numpy_inference():
    vocab = ["apple", "banana", "red", "red apple"]
    featurizer = Featurizer(vocab, n_buckets=32)
    student = trainer.Student(len(vocab), 32, 8, 16, 6)
    with torch.no_grad():
        for p in student.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    texts = ["red apple banana", "unknownword apple", "BANANA!", "red apple red apple"]
    ids, weights, offsets = featurizer.feature_lists(texts)
    with torch.no_grad():
        expected = student(torch.from_numpy(ids), torch.from_numpy(offsets[:-1]),
                           torch.from_numpy(weights)).numpy()
    weights_np = trainer.export_weights(student)
    weights_np["int8_ranges"] = np.zeros((2, 6), np.float32)
    model = LexDense(featurizer, weights_np, {"name": "t"})
    got = model.encode(texts, normalize_embeddings=False)
    # float16 storage of the token table costs about three decimal digits.
    np.testing.assert_allclose(got, expected, rtol=2e-2, atol=2e-2)
    cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert np.all(cosine > 0.999)


def test_teacher_cache_resumes_after_lost_shard(tmp_path):
    teacher = FakeTeacher()
    texts = corpus(50)
    first = teacher_embeddings(teacher, texts, tmp_path, "fake", shard_size=10)
    assert teacher.calls == 5
    again = teacher_embeddings(teacher, texts, tmp_path, "fake", shard_size=10)
    assert teacher.calls == 5
    np.testing.assert_array_equal(first, again)
    shards = sorted(tmp_path.glob("*/shard-*.parquet"))
    shards[2].unlink()  # killed while writing shard 2: it never appeared
    shards[3].write_bytes(shards[3].read_bytes()[:100])  # a torn file is recomputed too
    resumed = teacher_embeddings(teacher, texts, tmp_path, "fake", shard_size=10)
    assert teacher.calls == 7
    np.testing.assert_allclose(resumed, first, rtol=1e-6)
    # Overlapping texts in another order are served from the cache.
    subset = teacher_embeddings(teacher, texts[::-1][:30] + ["a brand new text"], tmp_path, "fake")
    assert teacher.calls == 8
    np.testing.assert_allclose(subset[:30], first[::-1][:30], rtol=1e-6)


def _tiny_distill(tmp_path, seed=0, loss="cosine"):
    return distill("fake", corpus(), None, n_words=100, n_bigrams=20, n_buckets=64, d_embed=8,
                   d_hidden=16, epochs=6, batch_size=32, lr=1e-2, loss=loss, max_passages=None,
                   cache_dir=tmp_path, seed=seed, show_progress=False, teacher_model=FakeTeacher(),
                   validation_share=0.1)


def test_distill_learns_the_teacher(tmp_path):
    model = _tiny_distill(tmp_path)
    log = model.config["distillation"]
    assert log["log"][-1]["validation_cosine"] > log["validation_cosine_untrained"] + 0.05
    assert log["log"][-1]["validation_cosine"] > 0.8
    assert log["log"][-1]["train_loss"] < log["log"][0]["train_loss"]
    # The exported model agrees with the teacher on held-out texts.
    texts = corpus(40, seed=7)
    teacher = FakeTeacher().encode(texts)
    student = model.encode(texts)
    # Outputs live in the teacher's rotated basis: compare similarity structure.
    t_sims, s_sims = teacher @ teacher.T, student @ student.T
    assert np.corrcoef(t_sims.ravel(), s_sims.ravel())[0, 1] > 0.85


def test_distill_is_reproducible(tmp_path):
    torch.manual_seed(1)
    a = _tiny_distill(tmp_path / "a")
    torch.manual_seed(2)  # the caller's generator state must not matter
    b = _tiny_distill(tmp_path / "b")
    for name in a.weights:
        np.testing.assert_array_equal(a.weights[name], b.weights[name])


def test_distill_gram_kl_runs_and_saves(tmp_path):
    model = _tiny_distill(tmp_path, loss="gram-kl")
    path = model.save(tmp_path / "model")
    again = LexDense.load(path)
    np.testing.assert_allclose(again.encode("apple banana"), model.encode("apple banana"), rtol=1e-6)


def test_distill_adds_long_passages(tmp_path):
    teacher = FakeTeacher()
    docs = [" ".join(corpus(20, seed=s)) for s in range(30)]  # documents of ~160 words
    model = distill("fake", docs, None, n_words=100, n_buckets=64, d_embed=8, d_hidden=16, epochs=1,
                    max_passages=50, long_passages=10, long_words=40, cache_dir=tmp_path, show_progress=False,
                    teacher_model=teacher, validation_share=0.1)
    log = model.config["distillation"]
    assert log["n_passages"] == 60 and log["long_passages"] == 10 and log["long_words"] == 40


def test_distill_rejects_empty_and_bad_loss(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        distill("fake", [], teacher_model=FakeTeacher(), show_progress=False)
    with pytest.raises(ValueError, match="unknown loss"):
        _tiny_distill(tmp_path, loss="mse")


def test_distill_command_with_the_packaged_teacher(tmp_path):
    """End to end through the CLI with the real all-MiniLM-L6-v2 from its registry package."""
    pytest.importorskip("sentence_transformers")
    from typer.testing import CliRunner

    from lexdense.cli import app
    from lexdense.distill.teacher import resolve_teacher

    if resolve_teacher("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2":
        pytest.skip("packaged teacher not installed")
    source = tmp_path / "corpus.txt"
    source.write_text("\n".join(corpus(120)))
    out = tmp_path / "model"
    result = CliRunner().invoke(app, [
        "distill", "--corpus", str(source), "--out", str(out), "--teacher", "all-MiniLM-L6-v2",
        "--n-words", "50", "--n-bigrams", "10", "--n-buckets", "256", "--d-embed", "16",
        "--d-hidden", "32", "--epochs", "2", "--cache-dir", str(tmp_path / "cache"),
        "--no-teacher-words"])
    assert result.exit_code == 0, result.output
    model = LexDense.load(out)
    assert model.dim == 384 and model.config["teacher"] == "all-MiniLM-L6-v2"
    assert model.encode("red apple").shape == (384,)


def test_principal_basis_is_complete_and_orthonormal():
    rng = np.random.default_rng(0)
    few = rng.normal(size=(5, 12))  # fewer vectors than dimensions
    basis = trainer.principal_basis(few)
    assert basis.shape == (12, 12)
    np.testing.assert_allclose(basis.T @ basis, np.eye(12), atol=1e-5)
    rotated = few @ basis
    np.testing.assert_allclose(rotated @ rotated.T, few @ few.T, rtol=1e-4, atol=1e-4)
    energy = (rotated**2).sum(0)
    assert np.all(np.diff(energy) <= 1e-6)  # strongest dimensions first


def test_feature_weights_are_learned_and_folded_into_the_rows(tmp_path):
    model = distill("fake", corpus(), None, n_words=100, n_bigrams=0, n_buckets=64, d_embed=8, d_hidden=16,
                    epochs=3, batch_size=32, lr=1e-2, max_passages=None, cache_dir=tmp_path, show_progress=False,
                    teacher_model=FakeTeacher(), validation_share=0.1, feature_weights=True)
    assert model.config["distillation"]["feature_weights"] is True
    student = trainer.Student(10, 4, 3, 5, 2, feature_weights=True)
    with torch.no_grad():
        student.feature_weight[:] = torch.arange(14, dtype=torch.float32)
    rows = trainer.export_weights(student)["token_rows"].astype(np.float32)
    expected = (student.bag.weight[:10] * torch.arange(10)[:, None]).detach().numpy()
    np.testing.assert_allclose(rows, expected, rtol=1e-2, atol=1e-3)


def test_targets_cut_to_their_first_principal_components(tmp_path):
    model = distill("fake", corpus(), None, n_words=100, n_buckets=64, d_embed=8, d_hidden=16, epochs=2,
                    batch_size=32, max_passages=None, cache_dir=tmp_path, show_progress=False,
                    teacher_model=FakeTeacher(), d_out=5)
    assert model.dim == 5 and model.encode(["apple banana"]).shape == (1, 5)
    with pytest.raises(ValueError, match="d_out must be in 1..12"):
        distill("fake", corpus(), None, n_words=100, n_buckets=64, d_embed=8, epochs=1, max_passages=None,
                cache_dir=tmp_path, show_progress=False, teacher_model=FakeTeacher(), d_out=13)


def test_labels_only_fills_the_cache_and_returns_nothing(tmp_path):
    teacher = FakeTeacher()
    settings = dict(n_words=100, n_buckets=64, d_embed=8, d_hidden=16, epochs=2, batch_size=32,
                    max_passages=None, cache_dir=tmp_path, show_progress=False, teacher_model=teacher)
    assert distill("fake", corpus(), None, labels_only=True, **settings) is None
    calls = teacher.calls
    assert calls > 0 and any(tmp_path.glob("**/shard-*.parquet"))
    model = distill("fake", corpus(), None, **settings)  # a later sitting trains from the cache
    assert model is not None and teacher.calls == calls


def test_bfloat16_teacher_is_cached_apart_and_close_to_float32():
    from lexdense.distill.teacher import _Autocast, cache_name, load_teacher

    assert cache_name("t") == "t" and cache_name("t", "bfloat16") == "t@bfloat16"
    with pytest.raises(ValueError, match="unknown teacher precision 'int4'"):
        load_teacher("t", "int4")

    class Linear:
        def __init__(self):
            self.layer = torch.nn.Linear(6, 4)

        def encode(self, texts, normalize_embeddings=True, **_):
            x = torch.tensor([[len(t) % (i + 2) for i in range(6)] for t in texts], dtype=torch.float32)
            return self.layer(x).detach().float().numpy()

    plain = Linear()
    fast = _Autocast(plain)
    texts = ["a", "bb", "ccc long text", "dddd more"]
    full = plain.encode(texts)
    full /= np.linalg.norm(full, axis=1, keepdims=True)
    half = fast.encode(texts, normalize_embeddings=True)
    assert half.dtype == np.float32 and np.all((full * half).sum(1) > 0.99)


def test_folded_centring_and_whitening_are_exact_affine_maps(tmp_path):
    from lexdense.distill.postprocess import fold_affine

    model = _tiny_distill(tmp_path)
    texts = corpus(300, seed=3)
    raw = model.encode(texts, normalize_embeddings=False).astype(np.float64)
    centred = fold_affine(model, texts, alpha=0.0)
    np.testing.assert_allclose(centred.encode(texts, normalize_embeddings=False).mean(0), 0, atol=1e-3)
    expected = raw - raw.mean(0)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(centred.encode(texts), expected, atol=1e-3)
    white = fold_affine(model, texts, alpha=1.0).encode(texts, normalize_embeddings=False).astype(np.float64)
    cov = np.cov(white, rowvar=False)
    # Outputs span d_embed (8) of the 12 dimensions: those are whitened, the rest set to zero.
    np.testing.assert_allclose(np.diag(cov)[:8], 1.0, rtol=0.05)
    np.testing.assert_allclose(np.diag(cov)[8:], 0.0, atol=1e-6)
    assert centred.config["postprocess"]["whitening_alpha"] == 0.0
    with pytest.raises(ValueError, match="alpha must be in"):
        fold_affine(model, texts, alpha=2.0)


def test_lexdense_distill_stays_callable_after_its_submodules_are_imported():
    """Importing lexdense.distill.* rebinds the package attribute to the module; calling it
    must still be the documented function (it raised "'module' object is not callable")."""
    import importlib

    import lexdense

    importlib.import_module("lexdense.distill.trainer")
    with pytest.raises(ValueError, match="corpus is empty"):
        lexdense.distill("sentence-transformers/all-MiniLM-L6-v2", [])


def test_teacher_precision_auto_takes_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    from lexdense.distill import teacher

    assert teacher.bfloat16_is_fast("flags : fpu avx avx2 fma") is False
    assert teacher.bfloat16_is_fast("flags : fpu avx2 avx512f avx512_bf16") is True
    assert teacher.bfloat16_is_fast("flags : fpu amx_bf16 amx_tile") is True
    monkeypatch.setattr(teacher, "bfloat16_is_fast", lambda cpuinfo=None: False)
    assert teacher.resolve_precision("auto") == "float32"
    monkeypatch.setattr(teacher, "bfloat16_is_fast", lambda cpuinfo=None: True)
    assert teacher.resolve_precision("auto") == "bfloat16"
    assert teacher.resolve_precision("float32") == "float32"
    with pytest.raises(ValueError, match="unknown teacher precision 'int4'"):
        teacher.resolve_precision("int4")
