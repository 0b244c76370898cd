"""Distil a LexDense model from a sentence-transformers teacher on a CPU.

Steps: mine words and word pairs -> teacher vectors of each token (row initialisation) ->
cut documents into short passages -> teacher vectors of the passages (cached, resumable) ->
train the student to match them -> export.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lexdense.distill.vocabulary import Vocabulary, mine_vocabulary
from lexdense.errors import InputError
from lexdense.model import FORMAT, FORMAT_VERSION, LexDense
from lexdense.text.featurizer import Featurizer, check_texts


def passages(documents: Sequence[str], max_words: int = 64, min_words: int = 3) -> list[str]:
    """Cut documents into passages of at most ``max_words`` whitespace words.

    The teacher labels short texts an order of magnitude faster than long ones, and many
    varied short passages teach more than a few long documents.
    """
    out = []
    for document in documents:
        parts = document.split()
        if len(parts) < min_words:
            continue
        for start in range(0, len(parts), max_words):
            piece = parts[start : start + max_words]
            if len(piece) >= min_words:
                out.append(" ".join(piece))
    return out


def distill(
    teacher: str = "sentence-transformers/all-MiniLM-L6-v2",
    corpus: Sequence[str] = (),
    out: str | os.PathLike | None = None,
    *,
    n_words: int = 32000,
    n_bigrams: int = 0,
    n_buckets: int = 32768,
    ngram_range: tuple[int, int] = (3, 5),
    d_embed: int = 256,
    d_hidden: int = 256,
    loss: str = "cosine",
    epochs: int = 8,
    batch_size: int = 256,
    lr: float = 3e-3,
    oov_rate: float = 0.15,
    max_passages: int | None = 80000,
    max_words: int = 24,
    long_passages: int = 0,
    long_words: int = 160,
    validation_share: float = 0.02,
    cache_dir: str | os.PathLike = ".cache/lexdense",
    seed: int = 0,
    name: str = "lexdense-custom",
    show_progress: bool = True,
    teacher_model=None,
    teacher_words: bool = True,
    teacher_precision: str = "float32",
    labels_only: bool = False,
    d_out: int | None = None,
    feature_weights: bool = False,
) -> LexDense | None:
    """Train a LexDense model on ``corpus`` (a list of documents) to imitate ``teacher``.

    Parameters
    ----------
    teacher
        sentence-transformers id or local path (offline, all-MiniLM-L6-v2 comes
        from a registry package).
    corpus
        documents; evaluation texts must be kept out by the caller.
    out
        directory to save the model to (atomically); None keeps it in memory.
    n_words
        known words kept (by document frequency).
    n_bigrams
        known word pairs kept.
    n_buckets
        rows of the character n-gram table for unknown words.
    d_embed
        width of the summed token rows; d_hidden the residual ReLU layer's.
    loss
        cosine, gram-kl (Luxical's) or cosine+gram-kl.
    oov_rate
        share of known word occurrences hidden during training, so the
        character table learns to stand in for words the vocabulary lacks.
    max_passages
        passages labelled by the teacher (a random sample, seeded).
    long_passages
        extra passages of ``long_words`` words (at least half that), so
        the student also sees sums as long as whole documents at inference.
    cache_dir
        teacher vectors are cached here and reused by later runs.
    teacher_model
        an already loaded teacher (anything with ``encode``), for tests.
    teacher_words
        also keep every whole word of the teacher's tokenizer vocabulary
        (names, numbers and words the corpus lacks start from the teacher's own vector).
    teacher_precision
        float32, bfloat16 (CPU autocast; ~1.7x faster labelling on
        CPUs with native bfloat16, several times slower elsewhere; cached apart from float32
        vectors), or auto (bfloat16 only where the CPU has it natively).
    d_out
        keep only the teacher's first ``d_out`` principal components as targets
        (None: all); a smaller output layer, and truncate_dim's order is kept.
    feature_weights
        learn a weight per feature beside its row (a trainable IDF).
    labels_only
        stop once every teacher vector is in the cache (returns None): a
        long labelling run can be split over several sittings, then trained in one.
    """
    import torch

    from lexdense.distill import teacher as teacher_io
    from lexdense.distill import trainer
    from lexdense.distill.trainer import LOSSES

    if loss not in LOSSES:
        raise InputError(f"unknown loss '{loss}': expected one of {', '.join(LOSSES)}")
    if out is not None:  # refuse a foreign directory before any work, not after it
        from lexdense.io.atomic import check_output_directory
        from lexdense.model_files import is_model_directory

        check_output_directory(out, "model", False, is_model_directory)
    documents = check_texts(list(corpus))
    if not documents:
        raise InputError("the distillation corpus is empty")
    torch.set_num_threads(os.cpu_count() or 1)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    report = _Reporter(show_progress)

    teacher_precision = teacher_io.resolve_precision(teacher_precision)
    teacher_obj = (teacher_model if teacher_model is not None
                   else teacher_io.load_teacher(teacher, teacher_precision))
    cache_key = teacher_io.cache_name(teacher, teacher_precision)
    report.stage("mining vocabulary")
    extra = teacher_io.whole_words(teacher_obj) if teacher_words else []
    vocabulary: Vocabulary = mine_vocabulary(documents, n_words=n_words, n_bigrams=n_bigrams,
                                             extra_words=extra)
    if not vocabulary.tokens:
        raise InputError("no word occurs in two documents: the corpus is too small to distil from")
    timings["vocabulary_s"] = time.perf_counter() - started

    rng = np.random.default_rng(seed)
    texts = passages(documents, max_words=max_words)
    if max_passages and len(texts) > max_passages:
        texts = [texts[i] for i in np.sort(rng.choice(len(texts), max_passages, replace=False))]
    if long_passages:
        long_texts = passages(documents, max_words=long_words, min_words=max(3, long_words // 2))
        if len(long_texts) > long_passages:
            picked = np.sort(rng.choice(len(long_texts), long_passages, replace=False))
            long_texts = [long_texts[i] for i in picked]
        texts = texts + long_texts
    if len(texts) < 8:
        raise InputError(f"only {len(texts)} passages of >= 3 words: the corpus is too small")

    t0 = time.perf_counter()
    cache = Path(cache_dir) / "teacher"
    known_words = vocabulary.tokens[: vocabulary.n_words]
    report.stage(f"teacher vectors of {len(known_words)} words")
    token_vectors = report.run(len(known_words), lambda cb: teacher_io.teacher_embeddings(
        teacher_obj, known_words, cache, cache_key, batch_size=256, on_progress=cb, log=report.log))
    timings["teacher_tokens_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report.stage(f"teacher vectors of {len(texts)} passages")
    targets = report.run(len(texts), lambda cb: teacher_io.teacher_embeddings(
        teacher_obj, texts, cache, cache_key, batch_size=64, on_progress=cb, log=report.log))
    timings["teacher_passages_s"] = time.perf_counter() - t0
    if labels_only:
        return None

    t0 = time.perf_counter()
    rotation = trainer.principal_basis(targets)
    if d_out is not None and not 1 <= d_out <= rotation.shape[1]:
        raise InputError(f"d_out must be in 1..{rotation.shape[1]}, got {d_out}")
    rotation = rotation[:, :d_out] if d_out else rotation
    rotated = targets @ rotation
    featurizer = Featurizer(vocabulary.tokens, n_buckets=n_buckets, ngram_range=tuple(ngram_range),
                            use_bigrams=vocabulary.n_bigrams > 0)
    order = rng.permutation(len(texts))
    n_val = max(1, int(len(texts) * validation_share))
    val_rows, train_rows = np.sort(order[:n_val]), np.sort(order[n_val:])
    train_texts = [texts[i] for i in train_rows]
    val_texts = [texts[i] for i in val_rows]
    train_features = trainer.Features(*featurizer.feature_lists(train_texts, oov_rate=oov_rate))
    val_features = trainer.Features(*featurizer.feature_lists(val_texts))
    # Layer initialisation draws from torch's global generator: seed it here, and give the
    # caller's generator state back afterwards.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        student = trainer.Student(featurizer.n_rows, n_buckets, d_embed, d_hidden, rotated.shape[1],
                                  feature_weights=feature_weights)
    trainer.init_from_teacher(student, token_vectors, np.asarray(vocabulary.sif, np.float32), rotation,
                              vocabulary.n_words, seed)
    initial = trainer.mean_cosine(student, val_features, rotated[val_rows])
    report.stage(f"training ({epochs} epochs, loss {loss})")
    total = max(1, len(train_rows) // batch_size) * epochs
    logs = report.run(total, lambda cb: trainer.train(
        student, train_features, rotated[train_rows], loss=loss, epochs=epochs,
        batch_size=batch_size, lr=lr, seed=seed, validation=(val_features, rotated[val_rows]),
        on_step=lambda step, _total, _loss: cb(1)))
    timings["training_s"] = time.perf_counter() - t0

    weights = trainer.export_weights(student)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "teacher": teacher,
        "teacher_precision": teacher_precision,
        "d_embed": d_embed,
        "d_hidden": d_hidden,
        "d_out": int(rotated.shape[1]),
        "n_words": vocabulary.n_words,
        "teacher_words": teacher_words,
        "n_bigrams": vocabulary.n_bigrams,
        "n_buckets": n_buckets,
        "ngram_range": list(ngram_range),
        "use_bigrams": vocabulary.n_bigrams > 0,  # no pairs kept: the kernel skips their lookups
        "output_basis": "teacher principal components (uncentred), so truncate_dim keeps the most",
        "distillation": {
            "loss": loss, "epochs": epochs, "feature_weights": feature_weights, "batch_size": batch_size, "lr": lr,
            "oov_rate": oov_rate, "seed": seed, "n_documents": len(documents),
            "n_passages": len(texts), "max_words": max_words,
            "long_passages": long_passages, "long_words": long_words,
            "validation_cosine_untrained": round(initial, 4),
            "log": [{k: round(v, 4) if isinstance(v, float) else v for k, v in log.items()}
                    for log in logs],
            "timings_s": {k: round(v, 1) for k, v in timings.items()},
            "total_s": round(time.perf_counter() - started, 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        },
    }
    weights["int8_ranges"] = np.zeros((2, rotated.shape[1]), np.float32)
    model = LexDense(featurizer, weights, config)
    sample = model.encode(texts[: min(len(texts), 20000)], normalize_embeddings=True)
    model.weights["int8_ranges"] = np.stack([sample.min(0), sample.max(0)]).astype(np.float32)
    if out is not None:
        model.save(out)
    return model


class _Reporter:
    """Rich progress for the distillation stages (quiet when show_progress is False)."""

    def __init__(self, enabled: bool):
        import sys

        self.enabled = enabled
        # A run logged to a file gets plain lines with an ETA instead of a live bar.
        self.log = self._line if enabled and not sys.stderr.isatty() else None

    @staticmethod
    def _line(text: str) -> None:
        import sys

        print(f"{time.strftime('%H:%M:%S')} distill: {text}", file=sys.stderr, flush=True)

    def stage(self, text: str) -> None:
        if self.enabled:
            from rich.console import Console

            Console(stderr=True).print(f"[bold cyan]distill[/] {text}")

    def run(self, total: int, work):
        if not self.enabled:
            return work(lambda n: None)
        from lexdense.progress import make_progress

        with make_progress(transient=True) as progress:
            task = progress.add_task("", total=total)
            return work(lambda n: progress.advance(task, n))



class _CallableModule(types.ModuleType):
    """``lexdense.distill(...)`` is documented as a function, but importing any submodule
    (``lexdense.distill.teacher``) binds the package's name ``distill`` to this module: so
    the module, called, is the function."""

    def __call__(self, *args, **kwargs):
        return distill(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
