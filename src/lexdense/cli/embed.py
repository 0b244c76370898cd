"""`lexdense embed, distill, info, eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from lexdense.cli._common import _claim_directory, _guard, _load_encoder, app, err
from lexdense.cli.options import ModelOption, TextFieldOption
from lexdense.errors import InputError
from lexdense.model import DEFAULT_MODEL


@app.command()
@_guard
def embed(
    input: Path = typer.Argument(..., help="Corpus: .txt (one document a line), .jsonl, .csv, .tsv, .parquet; "
                                           "or a folder or quoted glob pattern of documents (each text file is "
                                           "one document, its relative path the id)"),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet file (a directory with --shards)"),
    model: ModelOption = DEFAULT_MODEL,
    text_field: TextFieldOption = "text",
    precision: str = typer.Option("float32", help="float32, int8, uint8, binary or ubinary"),
    truncate_dim: Optional[int] = typer.Option(None, help="Keep only the first dimensions"),
    batch_rows: int = typer.Option(4096, help="Records per batch (memory bound)"),
    keep_text: bool = typer.Option(False, help="Copy the text column into the output"),
    resume: bool = typer.Option(False, help="Continue a killed job from its finished parts"),
    engine: str = typer.Option("local", help="local, or ray (Parquet in, Parquet shards out, Ray Data)"),
    ray_address: Optional[str] = typer.Option(None, help="With --engine ray: a cluster address, or 'auto'"),
    workers: Optional[int] = typer.Option(None, help="Worker processes (default 1): a file's batches, or a "
                                                      "directory's shards, embedded at once; --engine ray: actor "
                                                      "pool size"),
    shards: bool = typer.Option(False, "--shards", help="INPUT is a folder of corpus files (shards): write one "
                                                        "Parquet shard per input shard into the --out folder, with "
                                                        "a manifest (a .txt shard: one document a line)"),
    lines: bool = typer.Option(False, "--lines", help="In a folder: each line of a .txt file is a document "
                                                      "(with its file's path), not the whole file"),
) -> None:
    """Embed a corpus into Parquet (ids and metadata kept beside the vectors).

    A folder (or a quoted glob pattern such as 'docs/**/*.md') is a corpus of documents: each
    text file is one document, its path relative to the folder in the 'id' column; .jsonl,
    .csv, .tsv and .parquet files in it give one document a record (with 'path' and 'record');
    binary and hidden files are skipped and counted. --shards keeps the shard mode.
    """
    from rich.markup import escape
    from rich.progress import TextColumn

    from lexdense.io.embed_job import embed_directory, embed_file
    from lexdense.io.folder import is_pattern, open_corpus
    from lexdense.model import PRECISIONS, LexDense
    from lexdense.progress import make_progress

    if precision not in PRECISIONS:
        raise InputError(f"unknown precision '{precision}': expected one of {', '.join(PRECISIONS)}")
    if engine not in ("local", "ray"):
        raise InputError(f"unknown engine '{engine}': expected local or ray")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if engine == "ray":
        from lexdense.scale import embed_parquet

        rows = embed_parquet(str(input), str(out), model=model, text_column=text_field, address=ray_address,
                             workers=workers, precision=precision, keep_text=keep_text, batch_size=batch_rows)
        err.print(f"wrote {out}: {rows:,} rows (Ray Data)")
        return
    folder = input.is_dir() or is_pattern(input)
    if shards and not input.is_dir():
        raise InputError(f"--shards needs a folder of corpus files, and {input} is not a folder")
    if shards and lines:
        raise InputError("--lines is for a folder of documents; with --shards a .txt shard is one document a line")
    if folder and not shards and out.suffix.lower() != ".parquet":
        # A folder used to mean shards in, shards out: say which mode instead of guessing.
        raise InputError(f"a folder of documents is embedded into one Parquet file: give --out a name ending in "
                         f".parquet (not {out}), or add --shards to write one Parquet shard per input file")
    encoder = LexDense.load(model)
    if shards:
        total_bytes = sum(p.stat().st_size for p in sorted(input.iterdir()) if p.is_file())
    else:
        total_bytes = open_corpus(input, text_field=text_field, lines=lines).size_bytes
    with make_progress(TextColumn("{task.fields[rate]}"), transient=False, in_bytes=True) as progress:
        task = progress.add_task("Embedding", total=total_bytes, rate="")
        import time

        start = time.perf_counter()
        seen = {"docs": 0, "bytes": 0}

        def on_batch(docs: int, size: int) -> None:
            seen["docs"] += docs
            seen["bytes"] += size
            elapsed = max(time.perf_counter() - start, 1e-9)
            progress.update(task, completed=min(seen["bytes"], total_bytes),
                            rate=f"{seen['docs'] / elapsed:,.0f} docs/s {seen['bytes'] / elapsed / 2**20:.1f} MiB/s")

        if shards:
            summary = embed_directory(encoder, input, out, text_field=text_field, batch_rows=batch_rows,
                                      precision=precision, truncate_dim=truncate_dim, keep_text=keep_text,
                                      on_batch=on_batch, workers=1 if workers is None else workers)
            progress.update(task, completed=total_bytes)
            err.print(f"wrote {out}: {summary['shards']} shards ({summary['embedded']} embedded now, "
                      f"{summary['skipped']} already done), {summary['rows']:,} rows; manifest {out / '_manifest.json'}")
            return
        stats = embed_file(encoder, input, out, text_field=text_field, batch_rows=batch_rows,
                           precision=precision, truncate_dim=truncate_dim, keep_text=keep_text,
                           resume=resume, on_batch=on_batch, workers=1 if workers is None else workers, lines=lines,
                           on_notice=lambda line: err.print(f"[yellow]warning:[/] {line}"))
        progress.update(task, completed=total_bytes)
    rate = stats.documents / max(stats.seconds, 1e-9)
    speed = (f"{rate:,.0f} docs/s, {stats.bytes / max(stats.seconds, 1e-9) / 2**20:.1f} MiB/s" if stats.documents
             else "nothing left to embed" if stats.resumed_documents else "the input has no records")
    if stats.read:
        err.print(escape(stats.read), highlight=False, soft_wrap=True)
    err.print(f"wrote {out}: {stats.documents + stats.resumed_documents:,} documents "
              f"({stats.resumed_documents:,} resumed), {speed}")
    if stats.replaced_bytes:
        err.print(f"[yellow]warning:[/] {stats.replaced_bytes} invalid UTF-8 sequences replaced by U+FFFD")


@app.command()
@_guard
def distill(
    corpus: list[Path] = typer.Option(..., "--corpus", help="Corpus files (repeat the option)"),
    out: Path = typer.Option(..., "--out", "-o", help="Output model directory"),
    teacher: str = typer.Option("sentence-transformers/all-MiniLM-L6-v2", help="sentence-transformers id or path"),
    text_field: TextFieldOption = "text",
    n_words: int = typer.Option(32000, help="Known words kept (by document frequency)"),
    n_bigrams: int = typer.Option(0, help="Known word pairs kept (0: ablations found they hurt)"),
    n_buckets: int = typer.Option(32768, help="Character n-gram rows (power of two)"),
    d_embed: int = typer.Option(256, help="Width of the token rows"),
    d_hidden: int = typer.Option(256, help="Width of the residual ReLU layer"),
    loss: str = typer.Option("cosine", help="cosine, gram-kl or cosine+gram-kl"),
    epochs: int = typer.Option(8),
    lr: float = typer.Option(3e-3),
    max_passages: int = typer.Option(80000, help="Passages labelled by the teacher"),
    cache_dir: Path = typer.Option(Path(".cache/lexdense"), help="Teacher vectors cache (resumable)"),
    seed: int = typer.Option(0),
    name: str = typer.Option("lexdense-custom", help="Name written to the model config"),
    teacher_words: bool = typer.Option(True, help="Also keep the teacher tokenizer's whole words"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out even if lexdense did not write it"),
) -> None:
    """Distil a new model from a teacher on your own corpus (CPU, minutes)."""
    from lexdense.distill import distill as run_distill
    from lexdense.io.atomic import check_output_directory
    from lexdense.io.readers import read_texts
    from lexdense.model_files import is_model_directory

    check_output_directory(out, "model", overwrite, is_model_directory)  # before any work
    _claim_directory(out)
    texts = read_texts(corpus, text_field=text_field)
    model = run_distill(teacher, texts, None, n_words=n_words, n_bigrams=n_bigrams,
                        n_buckets=n_buckets, d_embed=d_embed, d_hidden=d_hidden, loss=loss,
                        epochs=epochs, lr=lr, max_passages=max_passages, cache_dir=cache_dir,
                        seed=seed, name=name, teacher_words=teacher_words)
    model.save(out, overwrite=overwrite)
    log = model.config["distillation"]
    err.print(f"saved {out}: validation cosine to teacher {log['log'][-1].get('validation_cosine', 0):.3f} "
              f"(untrained {log['validation_cosine_untrained']:.3f}), {log['total_s']:.0f}s")


@app.command()
@_guard
def info(model: str = typer.Argument(DEFAULT_MODEL, help="Model name or directory")) -> None:
    """Show a model's settings and size."""
    import json

    from lexdense.model import LexDense

    loaded = LexDense.load(model)
    Console().print_json(json.dumps({k: v for k, v in loaded.config.items() if k != "distillation"}))


@app.command("eval")
@_guard
def evaluate_command(
    model: list[str] = typer.Option([DEFAULT_MODEL], "--model", "-m",
                                    help="lexdense name/dir, st:<sentence-transformers id or path>, potion:<dir>, "
                                         "glove, tfidf, bm25 (retrieval only)"),
    tasks: Optional[list[str]] = typer.Option(None, "--tasks", "-t", help="Task or group names: core (default), anomaly"),
    quick: bool = typer.Option(False, help="Small subsamples (smoke test)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the results here"),
    chart: Optional[Path] = typer.Option(None, "--chart", help="Write a quality-vs-throughput PNG here"),
    reuse: Optional[Path] = typer.Option(None, "--reuse", help="An earlier --json: tasks whose data fingerprint "
                                                               "matches are taken from it for the same model"),
) -> None:
    """Score embedders on the offline tasks; one column per model."""
    from rich.table import Table

    from lexdense.eval import evaluate
    from lexdense.eval.tasks import GROUPS, TASKS, expand
    from lexdense.io.atomic import write_json

    if tasks:
        unknown = [t for t in expand(tasks) if t not in TASKS]
        if unknown:
            raise InputError(f"unknown task '{unknown[0]}': expected a group ({', '.join(GROUPS)}) "
                             f"or one of {', '.join(TASKS)}")

    from lexdense.eval import read_reuse

    earlier = read_reuse(reuse) if reuse else {}
    results = {}
    for spec in model:
        name, encoder = _load_encoder(spec)
        err.print(f"evaluating {name}")
        results[name] = evaluate(encoder, tasks=tasks, quick=quick, reuse=earlier.get(name))
        reused = [t for t, r in results[name]["tasks"].items() if r.get("reused")]
        if reused:
            err.print(f"{name}: {len(reused)} tasks reused from {reuse} (same data fingerprint)")
    table = Table(title="lexdense eval (main score per task)")
    table.add_column("task")
    for name in results:
        table.add_column(name, justify="right")
    rows = list(dict.fromkeys(t for r in results.values() for t in r["tasks"]))
    for task in rows:
        table.add_row(task, *[f"{r['tasks'][task]['main_score']:.3f}" if task in r["tasks"] else "-"
                              for r in results.values()])
    complete = {name: len(r["tasks"]) == len(rows) for name, r in results.items()}
    keys = list(dict.fromkeys(k for r in results.values() for k in r["summary"]))
    for key in keys:
        table.add_row(f"[bold]{key}", *[f"[bold]{r['summary'][key]:.3f}" if key in r["summary"]
                                        and (key != "mean" or complete[name]) else "-"
                                        for name, r in results.items()])
    for name, r in results.items():
        for task, why in r.get("skipped", {}).items():
            err.print(f"[yellow]{name}: skipped {task}: {why}")
    table.add_row("docs/s", *[f"{r['speed']['docs_per_s']:,.0f}" for r in results.values()])
    Console().print(table)
    if json_out:
        write_json(json_out, results)
    if chart:
        from lexdense.eval.chart import quality_speed_chart

        quality_speed_chart({n: r for n, r in results.items() if complete[n]}, chart)
