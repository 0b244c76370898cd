"""An index on disk: one directory of parquet parts (rows, written once), a generation
directory (HNSW graph, BM25) per save, and ``manifest.json`` naming what is current.

Every file is written under a temporary name and renamed; ``manifest.json`` is replaced
last, so a crash at any point leaves the previous generation as the index.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lexdense.io.atomic import atomic_file, write_json
from lexdense.io.readers import concat_tables
from lexdense.messages import one_line
from lexdense.search.validate import IndexError_, check_bm25, check_npy_headers

if TYPE_CHECKING:
    from lexdense.search.index import SearchIndex

FORMAT = "lexdense-index"
VERSION = 1


def save_index(index: SearchIndex, path: Path) -> Path:
    """Write ``index``'s new rows and a new generation to ``path`` (the caller holds the lock)."""
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory")
    if path.exists() and not (path / "manifest.json").is_file() and any(path.iterdir()):
        raise FileExistsError(f"{path} exists and is not a lexdense index; not overwriting it")
    if index.path is not None and path.resolve() != index.path.resolve():
        # Saving elsewhere: copy the existing parts first.
        path.mkdir(parents=True, exist_ok=True)
        for part in index.parts:
            with atomic_file(path / part) as tmp:
                shutil.copyfile(index.path / part, tmp)
    path.mkdir(parents=True, exist_ok=True)
    parts = list(index.parts) if index.path is not None else []
    pending = [concat_tables(index._new_tables)] if index._new_tables else []
    for table in pending:
        name = f"part-{len(parts):05d}.parquet"
        with atomic_file(path / name) as tmp:
            pq.write_table(table, tmp)
        parts.append(name)
    generation = index.generation + 1
    gen_dir = path / f"gen-{generation:05d}"
    tmp_gen = path / f".gen-{generation:05d}.tmp"
    shutil.rmtree(tmp_gen, ignore_errors=True)
    shutil.rmtree(gen_dir, ignore_errors=True)
    tmp_gen.mkdir()
    has_ann = len(index) >= index.ann_threshold
    if has_ann:
        index._grow_ann()
        index._ann.save(str(tmp_gen / "ann.usearch"))
    has_bm25 = bool(index.use_bm25 and len(index) and index._bm25_index() is not None)
    if has_bm25:
        index._bm25_index().save(str(tmp_gen / "bm25"))
    os.replace(tmp_gen, gen_dir)
    manifest = {
        "format": FORMAT, "version": VERSION, "generation": generation, "rows": len(index),
        "dim": int(index.vectors.shape[1]) if len(index) else 0, "model": index.model_name,
        "ann_threshold": index.ann_threshold, "bm25": has_bm25, "use_bm25": index.use_bm25,
        "ann": has_ann, "parts": parts, "columns": index.table.column_names if index.table is not None else [],
    }
    write_json(path / "manifest.json", manifest)
    # Only now is the new generation the index; older ones and stray files can go.
    for child in path.iterdir():
        stale_gen = child.name.startswith(("gen-", ".gen-")) and child != gen_dir
        stray_part = child.name.startswith("part-") and child.name not in parts
        if stale_gen:
            shutil.rmtree(child, ignore_errors=True)
        elif stray_part:
            child.unlink(missing_ok=True)
    index.path, index.parts, index.generation, index._new_tables = path, parts, generation, []
    return path


def load_index(cls: type[SearchIndex], path: Path, model=None) -> SearchIndex:
    """Open the index directory ``path`` (see :meth:`SearchIndex.load`)."""
    manifest_file = path / "manifest.json"
    if not manifest_file.is_file():
        raise IndexError_(f"{path}: not a lexdense index (no manifest.json)")
    try:
        manifest = json.loads(manifest_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexError_(f"{manifest_file}: corrupt ({exc.__class__.__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexError_(f"{manifest_file}: not a lexdense index manifest")
    if manifest.get("version") != VERSION:
        raise IndexError_(f"{manifest_file}: index format version {manifest.get('version')}, "
                          f"this lexdense reads {VERSION}")
    missing = [k for k in ("ann_threshold", "parts", "rows", "generation") if k not in manifest]
    if missing:
        raise IndexError_(f"{manifest_file}: missing {', '.join(missing)}; the index is damaged")
    bad = [p for p in manifest["parts"] if not isinstance(p, str) or not re.fullmatch(r"part-\d{5}\.parquet", p)]
    if bad or not isinstance(manifest["generation"], int):
        raise IndexError_(f"{manifest_file}: invalid part name {bad[0]!r}" if bad else
                          f"{manifest_file}: invalid generation {manifest['generation']!r}")
    if not isinstance(manifest.get("model"), (str, type(None))):
        from reprlib import repr as short

        raise IndexError_(f"{manifest_file}: invalid model {short(manifest['model'])} (expected a model name)")
    chosen = model if model is not None else manifest.get("model")
    index = cls(model=chosen, ann_threshold=manifest["ann_threshold"],
                bm25=manifest.get("use_bm25", manifest["bm25"]))
    tables = []
    for part in manifest["parts"]:
        try:
            tables.append(pq.read_table(path / part))
        except (OSError, pa.ArrowException) as exc:
            raise IndexError_(f"{path / part}: unreadable ({exc})") from None
    if tables:
        table = concat_tables(tables)
        embedding = table.column("embedding").combine_chunks()
        vectors = embedding.flatten().to_numpy(zero_copy_only=False).reshape(table.num_rows, -1)
        index.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index.table = table.drop_columns(["embedding"])
    if len(index) != manifest["rows"]:
        raise IndexError_(f"{path}: manifest says {manifest['rows']} rows, parts hold {len(index)}")
    gen_dir = path / f"gen-{manifest['generation']:05d}"
    if manifest.get("ann"):
        from usearch.index import Index

        try:
            index._ann = Index.restore(str(gen_dir / "ann.usearch"))
        except Exception as exc:  # usearch raises plain RuntimeError/ValueError on bad files
            raise IndexError_(f"{gen_dir / 'ann.usearch'}: unreadable ({exc})") from None
        if index._ann is None or len(index._ann) != len(index):
            raise IndexError_(f"{gen_dir / 'ann.usearch'}: missing or does not match the rows")
        index._ann_rows = len(index)
    if manifest.get("bm25"):
        import bm25s

        check_npy_headers(gen_dir / "bm25")
        try:  # never a pickle: a damaged file can hold one
            index._bm25 = bm25s.BM25.load(str(gen_dir / "bm25"), mmap=False, allow_pickle=False,
                                          show_progress=False)
        except Exception as exc:  # bm25s fails in many ways on damaged files (EOF, npy header, JSON)
            raise IndexError_(f"{gen_dir / 'bm25'}: unreadable ({one_line(exc) or type(exc).__name__})") from None
        check_bm25(index._bm25, len(index), gen_dir / "bm25")
    index.path, index.parts, index.generation = path, list(manifest["parts"]), manifest["generation"]
    return index
