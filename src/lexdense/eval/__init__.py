"""Evaluate any embedder on lexdense's offline tasks.

    from lexdense.eval import evaluate
    scores = evaluate(model)                    # anything with encode(list[str]) -> ndarray
    scores = evaluate(model, tasks=["r8-classification"], quick=True)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lexdense.errors import InputError, InputTypeError

SUITE_VERSION = "0.2"


class _TimedEncoder:
    """Wraps ``encode`` (or a ranker's ``search``) to count texts, bytes and seconds spent.

    Encoders may return a dense array or a scipy sparse matrix (TF-IDF), which tasks keep
    sparse. An encoder with ``fit_corpus(texts)`` is fitted on each task's texts first (timed
    with encoding); one with ``search(queries, documents, k)`` and no ``encode`` is a ranker.
    """

    def __init__(self, encoder):
        if not callable(getattr(encoder, "encode", None)) and not callable(getattr(encoder, "search", None)):
            raise InputTypeError(f"expected an object with an encode(list[str]) method, got {type(encoder).__name__}")
        self.encoder = encoder
        if callable(getattr(encoder, "search", None)) and not callable(getattr(encoder, "encode", None)):
            self.search = self._search
        self.texts = 0
        self.bytes = 0
        self.seconds = 0.0
        # Tasks share texts (20NG test posts, NewsArticles): a dense encoder embeds each distinct
        # text once per run. Encoders fitted per task (TF-IDF) change, so they are not cached.
        self.cache: dict[str, np.ndarray] | None = None if callable(getattr(encoder, "fit_corpus", None)) else {}

    def _count(self, texts, start: float) -> None:
        self.seconds += time.perf_counter() - start
        self.texts += len(texts)
        self.bytes += sum(len(t.encode("utf-8")) for t in texts)

    def fit(self, texts: list[str]) -> None:
        if callable(getattr(self.encoder, "fit_corpus", None)):
            start = time.perf_counter()
            self.encoder.fit_corpus(list(texts))
            self.seconds += time.perf_counter() - start

    def __call__(self, texts: list[str]):
        texts = list(texts)
        if self.cache is not None:
            missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
            if missing:
                encoded = self._encode(missing)
                if not isinstance(encoded, np.ndarray):  # sparse output: kept as is, not cached
                    self.cache = None
                    return encoded if missing == texts else self._encode(texts)
                for text, vector in zip(missing, encoded):
                    self.cache[text] = vector
            if not texts:
                return self._encode(texts)
            return np.stack([self.cache[t] for t in texts])
        return self._encode(texts)

    def _encode(self, texts: list[str]):
        import scipy.sparse

        start = time.perf_counter()
        vectors = self.encoder.encode(list(texts))
        if scipy.sparse.issparse(vectors):
            vectors = vectors.tocsr().astype(np.float32)
        else:
            vectors = np.asarray(vectors, dtype=np.float32)
        self._count(texts, start)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise InputError(f"encode returned shape {vectors.shape} for {len(texts)} texts")
        return vectors

    def _search(self, queries: list[str], documents: list[str], k: int) -> np.ndarray:
        start = time.perf_counter()
        top = np.asarray(self.encoder.search(list(queries), list(documents), k))
        self._count(list(queries) + list(documents), start)
        return top


def task_texts(task) -> list[str]:
    """Every text a task embeds (for encoders fitted on a corpus, such as TF-IDF)."""
    texts: list[str] = []
    for field in ("train_texts", "test_texts", "texts", "queries", "documents", "first", "second"):
        texts.extend(getattr(task, field, None) or [])
    return list(dict.fromkeys(texts))


def fingerprint(task) -> str:
    """Hash of a task's texts and labels, so figures from different runs can be compared."""
    digest = hashlib.sha256()
    for field in ("train_texts", "train_labels", "test_texts", "test_labels", "texts", "labels",
                  "queries", "documents", "first", "second", "grades"):
        values = getattr(task, field, None)
        for item in ([] if values is None else values):
            digest.update(str(item).encode("utf-8", "replace"))
            digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_id(encoder) -> str | None:
    """A hash of a lexdense model's weights (None for other encoders)."""
    weights = getattr(encoder, "weights", None)
    if not isinstance(weights, dict) or "out.weight" not in weights:
        return None
    digest = hashlib.blake2b(digest_size=8)
    for key in sorted(weights):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(weights[key]).tobytes())
    return digest.hexdigest()


def read_reuse(path) -> dict:
    """An earlier ``lexdense eval --json`` file, checked: model name -> result, each with
    ``tasks`` (task -> {kind, main_score, fingerprint, ...}); anything else is a one-line
    ValueError naming the file."""
    import json
    import numbers

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not an earlier 'lexdense eval --json' file ({' '.join(str(exc).split())})") from None

    def bad(why: str):
        return InputError(f"{path}: not an earlier 'lexdense eval --json' file ({why})")

    if not isinstance(data, dict):
        raise bad("expected an object of model -> result")
    for model, result in data.items():
        if not isinstance(result, dict) or not isinstance(result.get("tasks"), dict):
            raise bad(f"model '{model}' has no task results")
        for task, row in result["tasks"].items():
            if not (isinstance(row, dict) and isinstance(row.get("kind"), str)
                    and isinstance(row.get("main_score"), numbers.Real) and isinstance(row.get("fingerprint"), str)):
                raise bad(f"task '{task}' of '{model}' lacks kind, main_score or fingerprint")
        speed = result.get("speed")
        if "speed" in result and not (isinstance(speed, dict) and isinstance(speed.get("docs_per_s"), numbers.Real)):
            raise bad(f"the speed of '{model}' lacks docs_per_s")
    return data


def evaluate(encoder, tasks: Sequence[str] | None = None, quick: bool = False, reuse: dict | None = None) -> dict:
    """Run ``tasks`` (default: all) with ``encoder``; returns per-task scores and speed.

    Parameters
    ----------
    encoder
        any object with ``encode(list[str]) -> ndarray (n, dim)``.
    tasks
        task names from :data:`lexdense.eval.tasks.TASKS` or group names
        ("core", the default; "anomaly").
    quick
        small subsamples, for smoke tests.
    reuse
        an earlier result of the same encoder (``evaluate``'s return value): a task
        whose data fingerprint and quick setting match is taken from it, marked
        ``"reused": true``, instead of being run again (a deterministic encoder scores the
        same data the same way; speed figures count only what this run embedded). A lexdense
        model is reused only when its weights are the same (``model_id``); other encoders are
        fixed, pinned packages and are trusted by name.
    """
    from lexdense.eval.tasks import GROUPS, TASKS, expand

    names = expand(tasks)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise InputError(f"unknown task '{unknown[0]}': expected a group ({', '.join(GROUPS)}) "
                         f"or one of {', '.join(TASKS)}")
    from lexdense.sources.datasets import DatasetUnavailable

    started = time.perf_counter()
    timed = _TimedEncoder(encoder)
    kinds_supported = getattr(encoder, "task_kinds", None)
    results: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    identity = model_id(encoder)
    if reuse is not None and reuse.get("model_id") != identity:
        reuse = None
    for name in names:
        try:
            task = TASKS[name](quick)
        except DatasetUnavailable as error:
            if tasks:  # asked for by name: say why it cannot run
                raise
            skipped[name] = str(error)
            continue
        if kinds_supported is not None and task.kind not in kinds_supported:
            continue
        earlier = (reuse or {}).get("tasks", {}).get(name) if (reuse or {}).get("quick") == quick else None
        # a retrieval result from before BM25 and hybrid were reported beside an encoder's is run again
        dated = task.kind == "retrieval" and "hybrid_ndcg_at_10" not in (earlier or {}) and hasattr(encoder, "encode")
        if earlier is not None and earlier.get("fingerprint") == fingerprint(task) and not dated:
            results[name] = {**earlier, "reused": True}
            continue
        timed.fit(task_texts(task))
        scores = task.run(timed)
        results[name] = {"kind": task.kind, "fingerprint": fingerprint(task), **scores}
    if not results:
        raise InputError("no task could run: " + "; ".join(skipped.values()) if skipped else "no task selected")
    kinds = sorted({r["kind"] for r in results.values()})
    summary = {f"mean_{kind}": float(np.mean([r["main_score"] for r in results.values() if r["kind"] == kind]))
               for kind in kinds}
    summary["mean"] = float(np.mean([r["main_score"] for r in results.values()]))
    return {
        "suite_version": SUITE_VERSION,
        "model_id": identity,
        "quick": quick,
        "tasks": results,
        "skipped": skipped,
        "summary": summary,
        "wall_seconds": time.perf_counter() - started,
        # Nothing embedded in this run (every task reused): the earlier run's speed stands.
        "speed": ({**reuse["speed"], "reused": True} if timed.texts == 0 and reuse and isinstance(reuse.get("speed"), dict) else
                  {"texts": timed.texts, "seconds": timed.seconds,
                   "docs_per_s": timed.texts / max(timed.seconds, 1e-9),
                   "mib_per_s": timed.bytes / max(timed.seconds, 1e-9) / 2**20}),
    }
