"""Evaluate any embedder on lexdense's offline tasks.

    from lexdense.eval import evaluate
    scores = evaluate(model)                    # anything with encode(list[str]) -> ndarray
    scores = evaluate(model, tasks=["r8-classification"], quick=True)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import numpy as np

SUITE_VERSION = "0.1"


class _TimedEncoder:
    """Wraps ``encode`` to count texts, bytes and seconds spent embedding."""

    def __init__(self, encoder):
        if not callable(getattr(encoder, "encode", None)):
            raise TypeError(f"expected an object with an encode(list[str]) method, got {type(encoder).__name__}")
        self.encoder = encoder
        self.texts = 0
        self.bytes = 0
        self.seconds = 0.0

    def __call__(self, texts: list[str]) -> np.ndarray:
        start = time.perf_counter()
        vectors = np.asarray(self.encoder.encode(list(texts)), dtype=np.float32)
        self.seconds += time.perf_counter() - start
        self.texts += len(texts)
        self.bytes += sum(len(t.encode("utf-8")) for t in texts)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"encode returned shape {vectors.shape} for {len(texts)} texts")
        return vectors


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


def evaluate(encoder, tasks: Sequence[str] | None = None, quick: bool = False) -> dict:
    """Run ``tasks`` (default: all) with ``encoder``; returns per-task scores and speed.

    :param encoder: any object with ``encode(list[str]) -> ndarray (n, dim)``.
    :param tasks: task names from :data:`lexdense.eval.tasks.TASKS`.
    :param quick: small subsamples, for smoke tests.
    """
    from lexdense.eval.tasks import TASKS

    names = list(tasks) if tasks else list(TASKS)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise ValueError(f"unknown task '{unknown[0]}': expected one of {', '.join(TASKS)}")
    timed = _TimedEncoder(encoder)
    results: dict[str, dict] = {}
    for name in names:
        task = TASKS[name](quick)
        scores = task.run(timed)
        results[name] = {"kind": task.kind, "fingerprint": fingerprint(task), **scores}
    kinds = sorted({r["kind"] for r in results.values()})
    summary = {f"mean_{kind}": float(np.mean([r["main_score"] for r in results.values() if r["kind"] == kind]))
               for kind in kinds}
    summary["mean"] = float(np.mean([r["main_score"] for r in results.values()]))
    return {
        "suite_version": SUITE_VERSION,
        "quick": quick,
        "tasks": results,
        "summary": summary,
        "speed": {"texts": timed.texts, "seconds": timed.seconds,
                  "docs_per_s": timed.texts / max(timed.seconds, 1e-9),
                  "mib_per_s": timed.bytes / max(timed.seconds, 1e-9) / 2**20},
    }
