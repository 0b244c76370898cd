"""Embed a corpus (a file, a folder of documents or a glob pattern) into one Parquet file:
streaming, bounded memory, atomic, resumable.

Finished batches are written as numbered part files (each atomically) in
``OUT.parts/``; the final ``OUT`` appears by rename only once every part is merged. A job
killed midway keeps its finished parts, and ``resume=True`` continues after the last one.
A folder of shards mapped to a folder of outputs is :mod:`lexdense.io.embed_shards`.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lexdense.errors import InputError
from lexdense.io.atomic import atomic_file, write_json
from lexdense.io.folder import open_corpus
from lexdense.io.parts import merge_parts
from lexdense.io.readers import Reader
from lexdense.io.workers import _check_workers, _worker_context, _worker_pool, worker_model

__all__ = ["ARROW_TYPES", "EmbedSettings", "EmbedStats", "embed_directory", "embed_file", "embedding_column",
           "input_fingerprint", "_worker_context"]

ARROW_TYPES = {"float32": pa.float32(), "int8": pa.int8(), "uint8": pa.uint8(),
               "binary": pa.int8(), "ubinary": pa.uint8()}


@dataclass(frozen=True)
class EmbedSettings:
    """What an embed job writes (a resumed job must have the same).

    Parameters
    ----------
    text_field
        column or key holding the text (jsonl, csv, tsv, parquet).
    batch_rows
        records per batch (and per part file).
    precision
        float32, int8, uint8, binary or ubinary.
    truncate_dim
        keep only the first dimensions.
    keep_text
        copy the text column into the output.
    lines
        in a folder, read .txt files one document a line (else one document a file).
    """

    text_field: str = "text"
    batch_rows: int = 4096
    precision: str = "float32"
    truncate_dim: int | None = None
    keep_text: bool = False
    lines: bool = False


@dataclass
class EmbedStats:
    documents: int = 0
    bytes: int = 0
    seconds: float = 0.0
    resumed_documents: int = 0
    replaced_bytes: int = 0
    read: str | None = None  # a folder's reader: what it read and skipped


def embedding_column(vectors: np.ndarray, precision: str) -> pa.Array:
    values = pa.array(vectors.ravel(), type=ARROW_TYPES[precision])
    return pa.FixedSizeListArray.from_arrays(values, vectors.shape[1])


def embed_file(model, input_path, out, **options) -> EmbedStats:
    """Embed every record of ``input_path`` and write ``out`` (Parquet); one writer at a
    time per output (a second gets a one-line error). See :func:`_embed_file`."""
    from lexdense.io.atomic import one_writer

    return one_writer(out, _embed_file, model, input_path, out, **options)


def _embed_file(
    model,
    input_path: str | Path,
    out: str | Path,
    *,
    resume: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    workers: int = 1,
    on_notice: Callable[[str], None] | None = None,
    **settings,
) -> EmbedStats:
    """Embed every record of ``input_path`` and write ``out`` (Parquet).

    Each batch becomes a part file named by its first row, written atomically; ``resume``
    skips the batches whose part exists. ``workers`` > 1 embeds batches in that many worker
    processes (one numba and one BLAS thread each) while this process reads ahead, at most
    two batches per worker in flight.

    ``input_path`` is a corpus file, or a folder (or glob pattern) read by
    :class:`~lexdense.io.folder.FolderCorpus` (each text file one document, ``id`` its path).

    Parameters
    ----------
    settings
        the fields of :class:`EmbedSettings`.
    on_batch
        called with (documents, bytes) after each batch, for progress bars.
    on_notice
        called with a one-line warning before the work (free disk space).
    """
    from lexdense.io.atomic import check_output_file

    job = EmbedSettings(**settings)
    precision, truncate_dim, keep_text = job.precision, job.truncate_dim, job.keep_text
    model.check_options(precision, truncate_dim)
    _check_workers(workers)
    check_output_file(out, [input_path])  # never the input, a directory, a device or a FIFO
    reader = open_corpus(input_path, text_field=job.text_field, batch_rows=job.batch_rows, lines=job.lines)
    root = getattr(reader, "root", None)
    if root is not None and Path(out).resolve().is_relative_to(root.resolve()):
        raise InputError(f"the output {out} is inside the input folder {root}: a later run would read it as "
                         "input; write it elsewhere")
    # Read the first batch before touching the output, so a wrong format or field fails clean.
    batches = iter(reader)
    first_batch = next(batches, None)
    if first_batch is not None and "embedding" in first_batch.column_names:
        raise InputError(f"{input_path} already has an 'embedding' column (an earlier lexdense output?): "
                         "embed the original corpus, or drop or rename that column")
    out = Path(out)
    probe = model.encode([""], precision=precision, truncate_dim=truncate_dim, show_progress_bar=False)
    vector_type = pa.list_(ARROW_TYPES[precision], probe.shape[1])
    if on_notice is not None and first_batch is not None:
        need = _output_estimate(reader, first_batch, probe.nbytes, keep_text)
        free = shutil.disk_usage(out.parent if str(out.parent) else ".").free
        if 2 * need > free:
            on_notice(f"the output needs about {2 * need / 2**20:,.0f} MiB free while it is written (its parts, "
                      f"then the merged file; an estimate), and {out.parent or '.'} has {free / 2**20:,.0f} MiB free")
    parts_dir = out.with_name(out.name + ".parts")
    if parts_dir.is_dir() and not parts_dir.is_symlink() and not any(parts_dir.iterdir()):
        parts_dir.rmdir()  # a run that died before writing its job file: nothing in it to keep
    settings = {"input": str(Path(input_path).resolve()), "input_fingerprint": reader.fingerprint(),
                "text_field": job.text_field,
                "precision": precision, "truncate_dim": truncate_dim, "keep_text": keep_text,
                "model": model.config.get("name"), "batch_rows": job.batch_rows, "parts": "by first row"}
    if job.lines:  # absent from earlier job files, which it does not change
        settings["lines"] = True
    if parts_dir.exists():
        saved = _read_job(parts_dir / "job.json")
        if saved is None:
            raise InputError(f"{parts_dir} exists and was not left by a lexdense embed job: move it away")
        if not resume:
            shutil.rmtree(parts_dir)
        elif saved.get("input_fingerprint") != settings["input_fingerprint"] and \
                {k: v for k, v in saved.items() if k != "input_fingerprint"} == \
                {k: v for k, v in settings.items() if k != "input_fingerprint"}:
            raise InputError(f"{input_path} changed since the killed run (its files, sizes, modification times "
                             "or first MiB differ), so its finished parts no longer match its rows: rerun without --resume")
        elif saved != settings:
            raise InputError(f"{parts_dir}: left by a job with other settings; rerun without --resume")
    parts_dir.mkdir(parents=True, exist_ok=True)
    write_json(parts_dir / "job.json", settings)
    finished = {part.name for part in parts_dir.glob("part-*.parquet")}
    stats = EmbedStats(resumed_documents=sum(pq.ParquetFile(parts_dir / name).metadata.num_rows
                                             for name in finished))
    options = {"precision": precision, "truncate_dim": truncate_dim, "keep_text": keep_text}
    started = time.perf_counter()

    def done(rows: int, size: int) -> None:
        stats.documents += rows
        stats.bytes += size
        if on_batch:
            on_batch(rows, size)

    def todo():
        for table in itertools.chain([first_batch] if first_batch is not None else [], batches):
            name = f"part-{table.column('row')[0].as_py():012d}.parquet"
            if name not in finished:  # batches are the same on every run of these settings
                yield table, parts_dir / name

    if workers <= 1:
        for table, part in todo():
            done(*_embed_part(model, table, part, options))
    else:
        from concurrent.futures import FIRST_COMPLETED, wait

        with _worker_pool(model, workers) as pool:
            pending: set = set()
            for table, part in todo():
                if len(pending) >= 2 * workers:  # bounded read-ahead: memory stays bounded
                    ready, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in ready:
                        done(*future.result())
                pending.add(pool.submit(_worker_part, table, part, options))
            for future in pending:
                done(*future.result())
    stats.replaced_bytes, stats.read = reader.replaced_bytes, reader.summary()
    empty = [("row", pa.int64())] + ([("text", pa.string())] if keep_text else []) + [("embedding", vector_type)]
    _merge(sorted(parts_dir.glob("part-*.parquet")), out, pa.schema(empty))
    shutil.rmtree(parts_dir)
    stats.seconds = time.perf_counter() - started
    return stats


def input_fingerprint(path: str | Path) -> dict:
    """Size, modification time and a hash of the first MiB: a resumed job checks its input
    is the file its finished parts were made from."""
    from lexdense.io.readers import file_fingerprint

    return file_fingerprint(Path(path))


def _embed_part(model, table: pa.Table, part: Path, options: dict) -> tuple[int, int]:
    """Embed one batch and write it as ``part`` (atomically); returns (rows, text bytes)."""
    texts = table.column("text").to_pylist()
    vectors = model.encode(texts, batch_size=1024, precision=options["precision"],
                           truncate_dim=options["truncate_dim"], show_progress_bar=False)
    if not options["keep_text"]:
        table = table.drop_columns(["text"])
    table = table.append_column("embedding", embedding_column(vectors, options["precision"]))
    with atomic_file(part, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    return len(texts), sum(len(t) for t in texts)


def _read_job(path: Path) -> dict | None:
    """The settings a killed job left (None: no job file); a damaged one is named."""
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: unreadable job file of a killed embed run ({exc}); remove {path.parent} "
                         "to start over") from None
    if not isinstance(saved, dict):
        raise InputError(f"{path}: not the job file of a lexdense embed run; remove {path.parent} to start over")
    return saved


def _output_estimate(reader, first_batch: pa.Table, vector_bytes: int, keep_text: bool) -> int:
    """Bytes the merged output will take, estimated from the input's size and first batch."""
    size = reader.size_bytes
    texts = first_batch.column("text").to_pylist()
    text_bytes = sum(len(t.encode("utf-8", "replace")) for t in texts) / max(len(texts), 1)
    if isinstance(reader, Reader) and reader.format == "parquet":
        documents = pq.ParquetFile(reader.path).metadata.num_rows
    else:  # a record takes at least its text and a separator
        documents = size / max(text_bytes + 1, 1)
    return int(documents * (vector_bytes + 8 + (text_bytes if keep_text else 0)))


def _merge(parts: list[Path], out: Path, empty_schema: pa.Schema) -> None:
    """The parts, in order, as the output (atomically); the embedding column last."""
    merge_parts(parts, out, empty_schema, fixed=("embedding",), last=("embedding",))


def _worker_part(table: pa.Table, part: Path, options: dict) -> tuple[int, int]:
    return _embed_part(worker_model(), table, part, options)


from lexdense.io.embed_shards import embed_directory  # noqa: E402  (it embeds each shard with embed_file)
