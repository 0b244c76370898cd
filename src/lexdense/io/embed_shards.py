"""Embed a folder of shards into a folder of Parquet shards, one output per input, with a
manifest of finished shards (``lexdense embed DIR --shards``); resumable after a kill."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lexdense.errors import InputError
from lexdense.io.atomic import write_json
from lexdense.io.workers import _check_workers, _worker_pool, worker_model

SHARD_SUFFIXES = (".parquet", ".jsonl", ".csv", ".tsv", ".txt")


def embed_directory(model, input_dir, out_dir, **options) -> dict:
    """Embed a directory of shards into a directory of Parquet shards (see
    :func:`_embed_directory`); one writer at a time per output directory."""
    from lexdense.io.atomic import one_writer

    return one_writer(out_dir, _embed_directory, model, input_dir, out_dir, **options)


def _embed_directory(
    model,
    input_dir: str | Path,
    out_dir: str | Path,
    *,
    on_batch: Callable[[int, int], None] | None = None,
    workers: int = 1,
    **settings,
) -> dict:
    """Embed a directory of shards into a directory of Parquet shards, one out per in.

    The shards are the files of ``input_dir`` itself (not its subfolders) ending in
    :data:`SHARD_SUFFIXES`, each read as a corpus file (a .txt shard: one document a line);
    ``settings`` are the fields of :class:`~lexdense.io.embed_job.EmbedSettings` but ``lines``.

    ``workers`` > 1 embeds that many shards at once in worker processes (each with one numba
    and one BLAS thread), so reading and writing run in parallel too; ``on_batch`` is then called once per
    finished shard.

    ``out_dir/_manifest.json`` lists finished shards (name, rows, input size); it is
    rewritten atomically after each shard, and each output shard is renamed into place
    complete, so rerunning after a kill skips finished shards, resumes the interrupted one
    from its finished parts, and leaves no duplicate or missing row. A shard whose input
    changed since it was recorded (size or mtime) is embedded again.
    """
    from lexdense.io.embed_job import EmbedSettings, embed_file

    job = EmbedSettings(**settings)
    if job.lines:
        raise InputError("lines=True is for a folder of documents: a .txt shard is always one document a line")
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
    recorded = {"text_field": job.text_field, "precision": job.precision, "truncate_dim": job.truncate_dim,
                "keep_text": job.keep_text, "model": model.config.get("name")}
    if manifest.get("settings", recorded) != recorded:
        raise InputError(f"{out_dir}: made with other settings ({manifest['settings']}); use a new output directory")
    manifest["settings"] = recorded
    todo = []
    for shard in shards:
        stat = shard.stat()
        fingerprint = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        target = out_dir / (shard.stem + ".parquet")
        record = manifest["shards"].get(shard.name)
        if not (record and record["input"] == fingerprint and target.is_file()):
            todo.append((shard, target, fingerprint))
    options = {**settings, "resume": True}

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




def _embed_shard(shard: Path, target: Path, options: dict) -> tuple[int, int]:
    from lexdense.io.embed_job import embed_file

    stats = embed_file(worker_model(), shard, target, **options)
    return stats.documents + stats.resumed_documents, stats.bytes
