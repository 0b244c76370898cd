"""Embed a corpus file into Parquet: streaming, bounded memory, atomic, resumable.

Finished batches are written as numbered part files (each atomically) in
``OUT.parts/``; the final ``OUT`` appears by rename only once every part is merged. A job
killed midway keeps its finished parts, and ``resume=True`` continues after the last one.
"""

from __future__ import annotations

import itertools
import json
import os
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
from lexdense.io.readers import Reader, conform, stacked_schema

ARROW_TYPES = {"float32": pa.float32(), "int8": pa.int8(), "uint8": pa.uint8(),
               "binary": pa.int8(), "ubinary": pa.uint8()}


@dataclass
class EmbedStats:
    documents: int = 0
    bytes: int = 0
    seconds: float = 0.0
    resumed_documents: int = 0
    replaced_bytes: int = 0


def embedding_column(vectors: np.ndarray, precision: str) -> pa.Array:
    values = pa.array(vectors.ravel(), type=ARROW_TYPES[precision])
    return pa.FixedSizeListArray.from_arrays(values, vectors.shape[1])


def embed_file(model, input_path, out, **options) -> EmbedStats:
    """Embed every record of ``input_path`` and write ``out`` (Parquet); one writer at a
    time per output (a second gets a one-line error). See :func:`_embed_file`."""
    from lexdense.io.atomic import exclusive_lock

    with exclusive_lock(out):
        return _embed_file(model, input_path, out, **options)


def _embed_file(
    model,
    input_path: str | Path,
    out: str | Path,
    *,
    text_field: str = "text",
    batch_rows: int = 4096,
    precision: str = "float32",
    truncate_dim: int | None = None,
    keep_text: bool = False,
    resume: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    workers: int = 1,
    on_notice: Callable[[str], None] | None = None,
) -> EmbedStats:
    """Embed every record of ``input_path`` and write ``out`` (Parquet).

    Each batch becomes a part file named by its first row, written atomically; ``resume``
    skips the batches whose part exists. ``workers`` > 1 embeds batches in that many worker
    processes (one numba and one BLAS thread each) while this process reads ahead, at most
    two batches per worker in flight.

    :param on_batch: called with (documents, bytes) after each batch, for progress bars.
    :param on_notice: called with a one-line warning before the work (free disk space).
    """
    from lexdense.io.atomic import check_output_file

    model.check_options(precision, truncate_dim)
    _check_workers(workers)
    check_output_file(out, [input_path])  # never the input, a directory, a device or a FIFO
    reader = Reader(input_path, text_field=text_field, batch_rows=batch_rows)
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
        need = _output_estimate(input_path, first_batch, probe.nbytes, keep_text)
        free = shutil.disk_usage(out.parent if str(out.parent) else ".").free
        if 2 * need > free:
            on_notice(f"the output needs about {2 * need / 2**20:,.0f} MiB free while it is written (its parts, "
                      f"then the merged file; an estimate), and {out.parent or '.'} has {free / 2**20:,.0f} MiB free")
    parts_dir = out.with_name(out.name + ".parts")
    if parts_dir.is_dir() and not parts_dir.is_symlink() and not any(parts_dir.iterdir()):
        parts_dir.rmdir()  # a run that died before writing its job file: nothing in it to keep
    settings = {"input": str(Path(input_path).resolve()), "input_fingerprint": input_fingerprint(input_path),
                "text_field": text_field,
                "precision": precision, "truncate_dim": truncate_dim, "keep_text": keep_text,
                "model": model.config.get("name"), "batch_rows": batch_rows, "parts": "by first row"}
    if parts_dir.exists():
        saved = _read_job(parts_dir / "job.json")
        if saved is None:
            raise InputError(f"{parts_dir} exists and was not left by a lexdense embed job: move it away")
        if not resume:
            shutil.rmtree(parts_dir)
        elif saved.get("input_fingerprint") != settings["input_fingerprint"] and \
                {k: v for k, v in saved.items() if k != "input_fingerprint"} == \
                {k: v for k, v in settings.items() if k != "input_fingerprint"}:
            raise InputError(f"{input_path} changed since the killed run (size, modification time or first "
                             "MiB differ), so its finished parts no longer match its rows: rerun without --resume")
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
    stats.replaced_bytes = reader.replaced_bytes
    empty = [("row", pa.int64())] + ([("text", pa.string())] if keep_text else []) + [("embedding", vector_type)]
    _merge(sorted(parts_dir.glob("part-*.parquet")), out, pa.schema(empty))
    shutil.rmtree(parts_dir)
    stats.seconds = time.perf_counter() - started
    return stats


def input_fingerprint(path: str | Path) -> dict:
    """Size, modification time and a hash of the first MiB: a resumed job checks its input
    is the file its finished parts were made from."""
    import hashlib

    stat = Path(path).stat()
    with open(path, "rb") as handle:
        head = hashlib.blake2b(handle.read(1 << 20), digest_size=16).hexdigest()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_blake2b": head}


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


def _output_estimate(input_path, first_batch: pa.Table, vector_bytes: int, keep_text: bool) -> int:
    """Bytes the merged output will take, estimated from the input's size and first batch."""
    path = Path(input_path)
    size = path.stat().st_size
    texts = first_batch.column("text").to_pylist()
    text_bytes = sum(len(t.encode("utf-8", "replace")) for t in texts) / max(len(texts), 1)
    if path.suffix == ".parquet":
        documents = pq.ParquetFile(path).metadata.num_rows
    else:  # a record takes at least its text and a separator
        documents = size / max(text_bytes + 1, 1)
    return int(documents * (vector_bytes + 8 + (text_bytes if keep_text else 0)))


def _merge(parts: list[Path], out: Path, empty_schema: pa.Schema) -> None:
    with atomic_file(out, suffix=".parquet") as tmp:
        writer = None
        try:
            # One schema for every part, by the rule of every stacking of batches (a field all
            # null in one part, int in one and text in another): decided before any is written.
            schema, widened = stacked_schema([pq.read_schema(part) for part in parts],
                                             lambda i, names: pq.read_table(parts[i]).select(names))
            if "embedding" in widened:
                raise InputError(f"{parts[0].parent}: parts hold embeddings of different types; rerun without --resume")
            for part in parts:
                if writer is None:
                    writer = pq.ParquetWriter(tmp, schema)
                writer.write_table(conform(pq.read_table(part), schema, widened))
            if writer is None:  # no input record: the schema a non-empty input would have had
                pq.write_table(empty_schema.empty_table(), tmp)
        finally:
            if writer is not None:
                writer.close()


SHARD_SUFFIXES = (".parquet", ".jsonl", ".csv", ".tsv", ".txt")


def embed_directory(model, input_dir, out_dir, **options) -> dict:
    """Embed a directory of shards into a directory of Parquet shards (see
    :func:`_embed_directory`); one writer at a time per output directory."""
    from lexdense.io.atomic import exclusive_lock

    with exclusive_lock(out_dir):
        return _embed_directory(model, input_dir, out_dir, **options)


def _embed_directory(
    model,
    input_dir: str | Path,
    out_dir: str | Path,
    *,
    text_field: str = "text",
    batch_rows: int = 4096,
    precision: str = "float32",
    truncate_dim: int | None = None,
    keep_text: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> dict:
    """Embed a directory of shards into a directory of Parquet shards, one out per in.

    ``workers`` > 1 embeds that many shards at once in worker processes (each with one numba
    and one BLAS thread), so reading and writing run in parallel too; ``on_batch`` is then called once per
    finished shard.

    ``out_dir/_manifest.json`` lists finished shards (name, rows, input size); it is
    rewritten atomically after each shard, and each output shard is renamed into place
    complete, so rerunning after a kill skips finished shards, resumes the interrupted one
    from its finished parts, and leaves no duplicate or missing row. A shard whose input
    changed since it was recorded (size or mtime) is embedded again.
    """
    _check_workers(workers)
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    if not input_dir.is_dir():
        raise InputError(f"{input_dir}: not a directory")
    shards = sorted(p for p in input_dir.iterdir() if p.is_file() and p.suffix in SHARD_SUFFIXES
                    and not p.name.startswith((".", "_")))
    if not shards:
        raise InputError(f"{input_dir}: no shards ({', '.join(SHARD_SUFFIXES)})")
    stems: dict[str, Path] = {}
    for shard in shards:  # a.jsonl and a.csv would both write a.parquet: refuse before any work
        if shard.stem in stems:
            raise InputError(f"{stems[shard.stem].name} and {shard.name} would both be written to "
                             f"{shard.stem}.parquet: rename one of them")
        stems[shard.stem] = shard
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "_manifest.json").is_file():
        raise InputError(f"{out_dir} is a directory lexdense did not write: choose an empty or new output directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "_manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"shards": {}}
    settings = {"text_field": text_field, "precision": precision, "truncate_dim": truncate_dim,
                "keep_text": keep_text, "model": model.config.get("name")}
    if manifest.get("settings", settings) != settings:
        raise InputError(f"{out_dir}: made with other settings ({manifest['settings']}); use a new output directory")
    manifest["settings"] = settings
    todo = []
    for shard in shards:
        stat = shard.stat()
        fingerprint = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        target = out_dir / (shard.stem + ".parquet")
        record = manifest["shards"].get(shard.name)
        if not (record and record["input"] == fingerprint and target.is_file()):
            todo.append((shard, target, fingerprint))
    options = {"text_field": text_field, "batch_rows": batch_rows, "precision": precision,
               "truncate_dim": truncate_dim, "keep_text": keep_text, "resume": True}

    def record(shard: Path, target: Path, fingerprint: dict, rows: int) -> None:
        manifest["shards"][shard.name] = {"output": target.name, "rows": rows, "input": fingerprint}
        write_json(manifest_path, manifest)  # only this process writes the manifest

    if workers <= 1 or len(todo) <= 1:
        for shard, target, fingerprint in todo:
            stats = embed_file(model, shard, target, on_batch=on_batch, **options)
            record(shard, target, fingerprint, stats.documents + stats.resumed_documents)
    else:
        from concurrent.futures import as_completed

        with _worker_pool(model, workers) as pool:
            futures = {pool.submit(_embed_shard, shard, target, options): (shard, target, fingerprint)
                       for shard, target, fingerprint in todo}
            for future in as_completed(futures):
                shard, target, fingerprint = futures[future]
                documents, size = future.result()
                record(shard, target, fingerprint, documents)
                if on_batch:
                    on_batch(documents, size)
    done, skipped = len(todo), len(shards) - len(todo)
    return {"shards": len(shards), "embedded": done, "skipped": skipped,
            "rows": sum(r["rows"] for r in manifest["shards"].values())}


_WORKER_MODEL = None


def _check_workers(workers: object) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive int, got {workers!r}")


def _worker_pool(model, workers: int):
    """A pool of ``workers`` processes, each holding ``model`` (see :func:`_worker_context`)."""
    from concurrent.futures import ProcessPoolExecutor

    context, initargs = _worker_context(model)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(*initargs, os.getpid()))


def _worker_context(model):
    """How to start worker processes: (multiprocessing context, initializer arguments).

    Forking hands the loaded model to the workers for free (a spawned worker spends about a
    second importing and loading it, which is most of a small job), and the tables are then
    shared copy-on-write. It is safe only before numba has started its own thread pool in
    this process (an ``encode`` call does that), so otherwise workers are spawned and load
    the model from its directory.
    """
    import multiprocessing

    from numba.np.ufunc import parallel

    global _WORKER_MODEL
    if "fork" in multiprocessing.get_all_start_methods() and not parallel._is_initialized:
        _WORKER_MODEL = model
        return multiprocessing.get_context("fork"), (None,)
    source = getattr(model, "source", None)
    if source is None:
        raise InputError("workers > 1 needs a model loaded from a name or directory")
    return multiprocessing.get_context("spawn"), (source,)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this worker when its parent dies (a kill -9 of `lexdense embed`
    must not leave orphans holding memory and the output's lock)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _init_worker(source: str | None, parent: int | None = None) -> None:
    """Worker process: one numba and one BLAS thread (the pool supplies the parallelism);
    it dies with its parent."""
    global _WORKER_MODEL
    if parent is not None:
        _die_with_parent(parent)
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(1)
    threadpool_limits(1)
    if source is not None:
        from lexdense.model import LexDense

        _WORKER_MODEL = LexDense.load(source)


def _worker_part(table: pa.Table, part: Path, options: dict) -> tuple[int, int]:
    return _embed_part(_WORKER_MODEL, table, part, options)


def _embed_shard(shard: Path, target: Path, options: dict) -> tuple[int, int]:
    stats = embed_file(_WORKER_MODEL, shard, target, **options)
    return stats.documents + stats.resumed_documents, stats.bytes
