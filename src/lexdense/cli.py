"""The `lexdense` command line."""

from __future__ import annotations

import contextvars
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from lexdense.model import DEFAULT_MODEL
from lexdense.neighbors import ANN_THRESHOLD

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Fast lexical-dense text embeddings on CPUs.",
)
err = Console(stderr=True)
_CLAIMS: contextvars.ContextVar = contextvars.ContextVar("lexdense_output_claims")


def _fail(message: str) -> None:
    from rich.markup import escape

    from lexdense.messages import one_line

    # One line whatever the message holds (a field name with a newline, a library's
    # multi-line text): control characters are escaped.
    err.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _guard(function):
    """Turn expected errors (bad input, bad files) into one line instead of a traceback."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        import contextlib

        with contextlib.ExitStack() as claims:  # output locks of _claim_output, held to the end
            token = _CLAIMS.set(claims)
            try:
                return _guarded(function, *args, **kwargs)
            finally:
                _CLAIMS.reset(token)

    return wrapper


def _claim_output(out: Path, inputs) -> None:
    """Before any work: refuse an output that is an input, a directory, a device or a FIFO,
    and hold its lock until the command ends (a second writer gets one line at once)."""
    from lexdense.io.atomic import check_output_file, exclusive_lock

    check_output_file(out, inputs)
    _CLAIMS.get().enter_context(exclusive_lock(out))


def _claim_directory(out: Path) -> None:
    """Hold an output directory's lock from before any work until the command ends."""
    from lexdense.io.atomic import exclusive_lock

    _CLAIMS.get().enter_context(exclusive_lock(out))


# The extra each command needs beyond the core install (pyproject.toml's optional-dependencies).
COMMAND_EXTRAS = {"distill": "train", "evaluate_command": "eval", "index_command": "search", "search": "search",
                  "classify_train": "classify", "dedup": "search", "topics": "topics", "anomalies": "anomaly",
                  "discover": "topics", "explain": "explain", "serve": "serve"}


def _guarded(function, *args, **kwargs):
    """Run a command; expected errors (bad input, bad files) become one line, not a traceback."""
    from lexdense.classify import ClassifierFileError
    from lexdense.errors import LexDenseError
    from lexdense.extras import extra_for, require
    from lexdense.io.datasets import DatasetUnavailable
    from lexdense.io.readers import CorpusError
    from lexdense.model import ModelFileError
    from lexdense.search import IndexError_

    try:
        if function.__name__ in COMMAND_EXTRAS:  # before any work: a missing extra leaves nothing behind
            require(COMMAND_EXTRAS[function.__name__], f"'lexdense {function.__name__.removesuffix('_command')}'")
        return function(*args, **kwargs)
    except LexDenseError as exc:
        _fail(str(exc))
    except ImportError as exc:  # an optional dependency of this command is not installed
        extra = extra_for(exc)
        if extra is None:
            raise
        _fail(f"this command needs {exc.name}, which is not installed: pip install 'lexdense[{extra}]'")
    except (CorpusError, ModelFileError, DatasetUnavailable, IndexError_, ClassifierFileError, ValueError, TypeError,
            FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        _fail(str(exc))
    except OSError as exc:  # a full disk, an unreadable file: one line, never a traceback
        import errno

        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno == errno.ENOSPC:
            _fail(f"no space left on the device{where}: nothing half-written was kept; free some space and "
                  "rerun (embed: with --resume, finished parts are kept)")
        _fail(f"{exc.strerror or exc}{where}")
    except KeyboardInterrupt:
        _fail("interrupted; finished parts are kept, rerun with --resume")
    except Exception as exc:  # safetensors reports a failed write (a full disk) as its own error type
        if type(exc).__name__ != "SafetensorError":
            raise
        _fail(f"could not write a safetensors file: {exc}; nothing half-written was kept")


@app.command()
@_guard
def embed(
    input: Path = typer.Argument(..., help="Corpus: .txt (one document a line), .jsonl, .csv, .tsv, .parquet, "
                                           "or a directory of such shards"),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet file (a directory for a directory input)"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model name or directory"),
    text_field: str = typer.Option("text", help="Field holding the text (jsonl, csv, parquet)"),
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
) -> None:
    """Embed a corpus into Parquet (ids and metadata kept beside the vectors)."""
    from rich.progress import TextColumn

    from lexdense.io.embed_job import embed_directory, embed_file
    from lexdense.io.readers import Reader
    from lexdense.model import PRECISIONS, LexDense
    from lexdense.progress import make_progress

    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}': expected one of {', '.join(PRECISIONS)}")
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine '{engine}': expected local or ray")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if engine == "ray":
        from lexdense.scale import embed_parquet

        rows = embed_parquet(str(input), str(out), model=model, text_column=text_field, address=ray_address,
                             workers=workers, precision=precision, keep_text=keep_text, batch_size=batch_rows)
        err.print(f"wrote {out}: {rows:,} rows (Ray Data)")
        return
    encoder = LexDense.load(model)
    if input.is_dir():
        shards = sorted(p for p in input.iterdir() if p.is_file())
        total_bytes = sum(p.stat().st_size for p in shards)
    else:
        total_bytes = Reader(input, text_field=text_field).size_bytes
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

        if input.is_dir():
            summary = embed_directory(encoder, input, out, text_field=text_field, batch_rows=batch_rows,
                                      precision=precision, truncate_dim=truncate_dim, keep_text=keep_text,
                                      on_batch=on_batch, workers=1 if workers is None else workers)
            progress.update(task, completed=total_bytes)
            err.print(f"wrote {out}: {summary['shards']} shards ({summary['embedded']} embedded now, "
                      f"{summary['skipped']} already done), {summary['rows']:,} rows; manifest {out / '_manifest.json'}")
            return
        stats = embed_file(encoder, input, out, text_field=text_field, batch_rows=batch_rows,
                           precision=precision, truncate_dim=truncate_dim, keep_text=keep_text,
                           resume=resume, on_batch=on_batch, workers=1 if workers is None else workers,
                           on_notice=lambda line: err.print(f"[yellow]warning:[/] {line}"))
        progress.update(task, completed=total_bytes)
    rate = stats.documents / max(stats.seconds, 1e-9)
    speed = (f"{rate:,.0f} docs/s, {stats.bytes / max(stats.seconds, 1e-9) / 2**20:.1f} MiB/s" if stats.documents
             else "nothing left to embed" if stats.resumed_documents else "the input has no records")
    err.print(f"wrote {out}: {stats.documents + stats.resumed_documents:,} documents "
              f"({stats.resumed_documents:,} resumed), {speed}")
    if stats.replaced_bytes:
        err.print(f"[yellow]warning:[/] {stats.replaced_bytes} invalid UTF-8 sequences replaced by U+FFFD")


@app.command()
@_guard
def distill(
    corpus: list[Path] = typer.Option(..., "--corpus", "-c", help="Corpus files (repeat the option)"),
    out: Path = typer.Option(..., "--out", "-o", help="Output model directory"),
    teacher: str = typer.Option("sentence-transformers/all-MiniLM-L6-v2", help="sentence-transformers id or path"),
    text_field: str = typer.Option("text", help="Field holding the text (jsonl, csv, parquet)"),
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
    from lexdense.model import _is_model_directory

    check_output_directory(out, "model", overwrite, _is_model_directory)  # before any work
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


def _load_encoder(spec: str):
    from lexdense.eval.encoders import load_encoder

    return load_encoder(spec)


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
            raise ValueError(f"unknown task '{unknown[0]}': expected a group ({', '.join(GROUPS)}) "
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


_WARNED: set[str] = set()


def _with_outputs(meta, columns: dict):
    """``meta`` plus result columns; an input column with a result's name is replaced (said once)."""
    import numpy as np
    import pyarrow as pa

    clash = [name for name in columns if name in meta.column_names]
    if clash:
        if not set(clash) <= _WARNED:  # once per run, not once per batch
            _WARNED.update(clash)
            err.print(f"[yellow]input columns {', '.join(clash)} are replaced by results of the same name",
                      highlight=False)
        meta = meta.drop_columns(clash)
    for name, values in columns.items():
        if not isinstance(values, (pa.Array, pa.ChunkedArray)):
            values = np.asarray(values)
            values = pa.array(values.astype(np.float32) if values.dtype.kind == "f" else values)
        meta = meta.append_column(name, values)
    return meta


def _corpus_batches(input: Path, text_field: str, batch_rows: int = 4096):
    """(texts, metadata table) batches of a corpus file, with a docs and docs/s counter."""
    import time

    from rich.progress import Progress, SpinnerColumn, TextColumn

    from lexdense.io.readers import Reader

    reader = Reader(input, text_field=text_field, batch_rows=batch_rows)
    start = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}: {task.completed:,.0f} docs, {task.fields[rate]}"),
                  console=err, transient=True) as progress:
        task = progress.add_task(input.name, total=None, rate="")
        done = 0
        for table in reader:
            texts = table.column("text").to_pylist()
            meta = table.drop_columns([c for c in ("row", "text") if c in table.column_names])
            yield texts, meta
            done += len(texts)
            rate = done / max(time.perf_counter() - start, 1e-9)
            progress.update(task, completed=done, rate=f"{rate:,.0f} docs/s")


def _parse_where(where: Optional[list[str]]) -> dict:
    parsed: dict[str, list[str]] = {}
    for item in where or []:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise ValueError(f"--where expects COLUMN=VALUE, got '{item}'")
        if not value:
            raise ValueError(f"--where {item}: no value given (expected COLUMN=VALUE)")
        parsed.setdefault(column, []).append(value)
    return parsed


@app.command("index")
@_guard
def index_command(
    input: Path = typer.Argument(..., help="Corpus: .txt, .jsonl, .csv, .tsv or .parquet"),
    out: Path = typer.Option(..., "--out", "-o", help="Index directory"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model name or directory"),
    text_field: str = typer.Option("text", help="Field holding the text (jsonl, csv, parquet)"),
    add: bool = typer.Option(False, "--add", help="Add the documents to an existing index"),
    ann_threshold: int = typer.Option(ANN_THRESHOLD, help="Rows from which searches use the HNSW graph"),
    no_bm25: bool = typer.Option(False, help="Skip the BM25 index (no bm25/hybrid search)"),
) -> None:
    """Build a search index (vectors, metadata, HNSW graph, BM25) from a corpus file."""
    from lexdense.search import SearchIndex

    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not an index directory: choose another --out"
                         + (" (it is the input)" if input.exists() and out.samefile(input) else ""))
    from lexdense.io.atomic import exclusive_lock

    with exclusive_lock(out):  # load, add and save as one: a second writer is refused, not lost
        if (out / "manifest.json").exists() and not add:
            raise ValueError(f"{out} is already an index: use --add to add documents to it")
        index = SearchIndex.load(out) if add and (out / "manifest.json").exists() else \
            SearchIndex(model=model, ann_threshold=ann_threshold, bm25=not no_bm25)
        before = len(index)
        for texts, meta in _corpus_batches(input, text_field):
            index.add(texts, metadata=meta)
        index.save(out)
    err.print(f"{out}: {len(index):,} documents ({len(index) - before:,} added), generation {index.generation}")


@app.command()
@_guard
def search(
    index_dir: Path = typer.Argument(..., help="Index directory (lexdense index)"),
    queries: list[str] = typer.Argument(..., help="One or more queries"),
    k: int = typer.Option(10, "-k", help="Results per query"),
    mode: str = typer.Option("dense", help="dense, bm25 or hybrid"),
    where: Optional[list[str]] = typer.Option(None, help="Metadata filter COLUMN=VALUE (repeatable)"),
    exact: Optional[bool] = typer.Option(None, "--exact/--ann", help="Force exact or ANN search"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table"),
) -> None:
    """Search an index; prints rank, score, text and metadata."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from lexdense.search import SearchIndex

    index = SearchIndex.load(index_dir)
    filters = _parse_where(where)
    if filters and len(index) and not index.count(filters):
        err.print(f"no document of {index_dir} matches " + " ".join(f"--where {c}={v}" for c, vs in filters.items() for v in vs))
    results = index.search(list(queries), k=k, mode=mode, where=filters, exact=exact)
    console = Console()
    for query, hits in zip(queries, results):
        if json_out:
            for rank, hit in enumerate(hits, 1):
                print(json.dumps({"query": query, "rank": rank, **hit}, ensure_ascii=False, default=str))
            continue
        table = Table(title=f"{query!r} ({mode})", title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("score", justify="right")
        table.add_column("text", overflow="fold", max_width=80)
        extra = [c for c in (index.table.column_names if index.table is not None else []) if c != "text"][:3]
        for column in extra:
            table.add_column(column)
        for rank, hit in enumerate(hits, 1):
            text = " ".join(str(hit["text"]).split())
            table.add_row(str(rank), f"{hit['score']:.3f}", escape(text[:120]),
                          *[escape(str(hit.get(c, ""))[:40]) for c in extra])
        console.print(table)


classify_app = typer.Typer(no_args_is_help=True, help="Train and apply text classifiers on embeddings.")
app.add_typer(classify_app, name="classify")


@classify_app.command("train")
@_guard
def classify_train(
    input: Path = typer.Argument(..., help="Labelled corpus: .jsonl, .csv, .tsv or .parquet"),
    out: Path = typer.Option(..., "--out", "-o", help="Classifier directory"),
    label_field: str = typer.Option("label", help="Field holding the label"),
    text_field: str = typer.Option("text", help="Field holding the text"),
    kind: str = typer.Option("logreg", help="logreg or mlp"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Embedding model name or directory"),
    c: float = typer.Option(10.0, "--C", help="Inverse L2 strength (logreg)"),
    holdout: float = typer.Option(0.1, help="Share kept out to report accuracy (0 to train on all)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out even if lexdense did not write it"),
) -> None:
    """Train a classifier on a labelled file; prints held-out accuracy."""
    import numpy as np

    from lexdense.classify import EmbeddingClassifier
    from lexdense.io.atomic import check_output_directory
    from lexdense.model import LexDense

    if not 0 <= holdout < 1:
        raise ValueError(f"--holdout must be in [0, 1), got {holdout}")
    check_output_directory(out, "classifier", overwrite, lambda p: (p / "classifier.json").is_file())
    _claim_directory(out)
    embedder = LexDense.load(model)
    vectors, labels = [], []
    for texts, meta in _corpus_batches(input, text_field):
        if label_field not in meta.column_names:
            raise ValueError(f"{input}: no field '{label_field}' (fields: {', '.join(meta.column_names)}); "
                             "use --label-field")
        column = meta.column(label_field).to_pylist()
        keep = [i for i, label in enumerate(column) if label is not None and str(label) != ""]
        vectors.append(embedder.encode([texts[i] for i in keep]))
        labels.extend(str(column[i]) for i in keep)
    if not labels:
        raise ValueError(f"{input}: no labelled document (every record lacks '{label_field}' or the file is empty)")
    x, y = np.vstack(vectors), np.asarray(labels)
    order = np.random.default_rng(0).permutation(len(y))
    n_test = int(len(y) * holdout)
    test, train = order[:n_test], order[n_test:]
    clf = EmbeddingClassifier(model=embedder, kind=kind, C=c)
    clf.model_name = model
    clf.fit(labels=y[train], vectors=x[train])
    if n_test:
        accuracy = float((clf.predict(vectors=x[test]) == y[test]).mean())
        err.print(f"held-out accuracy {accuracy:.3f} on {n_test:,} documents ({len(clf.classes_)} labels)")
    clf.save(out, overwrite=overwrite)
    err.print(f"{out}: {kind} classifier on {len(train):,} documents, labels: {', '.join(clf.classes_[:10])}"
              + (" ..." if len(clf.classes_) > 10 else ""))


@classify_app.command("predict")
@_guard
def classify_predict(
    input: Path = typer.Argument(..., help="Corpus: .txt, .jsonl, .csv, .tsv or .parquet"),
    classifier: Path = typer.Option(..., "--classifier", "-c", help="Directory from 'classify train'"),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet file"),
    text_field: str = typer.Option("text", help="Field holding the text"),
    keep_text: bool = typer.Option(False, help="Copy the text column into the output"),
) -> None:
    """Label every document of a corpus: label, confidence and one probability per class."""
    _claim_output(out, [input])

    import pyarrow as pa
    import pyarrow.parquet as pq

    from lexdense.classify import EmbeddingClassifier
    from lexdense.io.atomic import atomic_file

    clf = EmbeddingClassifier.load(classifier)
    n = 0
    with atomic_file(out, suffix=".parquet") as tmp:
        writer = None
        try:
            for texts, meta in _corpus_batches(input, text_field):
                proba = clf.predict_proba(texts)
                best = proba.argmax(axis=1)
                outputs = {"text": pa.array(texts, pa.string())} if keep_text else {}
                outputs.update({"label": pa.array(clf.classes_[best].tolist(), pa.string()),
                                "confidence": proba[range(len(best)), best],
                                "probabilities": pa.FixedSizeListArray.from_arrays(
                                    pa.array(proba.astype("float32").ravel()), proba.shape[1])})
                table = _with_outputs(meta, outputs)
                if writer is None:
                    schema = table.schema.with_metadata({b"lexdense.classes": "\t".join(clf.classes_).encode()})
                    writer = pq.ParquetWriter(tmp, schema)
                writer.write_table(table.replace_schema_metadata(writer.schema.metadata).cast(writer.schema))
                n += len(texts)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise ValueError(f"{input}: no documents")
    err.print(f"{out}: {n:,} documents labelled")


@app.command()
@_guard
def dedup(
    input: Path = typer.Argument(..., help="Corpus: .txt, .jsonl, .csv, .tsv or .parquet"),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet: one row per document with group and keep"),
    threshold: float = typer.Option(0.98, help="Cosine at or above which two documents are duplicates"),
    keep: str = typer.Option("first", help="Which document of a group to keep: first or longest"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model name or directory"),
    text_field: str = typer.Option("text", help="Field holding the text"),
    keep_list: Optional[Path] = typer.Option(None, help="Also write the kept row numbers here, one a line"),
    show: int = typer.Option(3, help="Print this many of the largest groups"),
) -> None:
    """Find near-duplicate documents: groups, a keep-list and each document's similarity."""
    _claim_output(out, [input])

    import numpy as np
    import pyarrow.parquet as pq
    from rich.markup import escape

    from lexdense.dedup import near_duplicates
    from lexdense.io.atomic import atomic_file
    from lexdense.model import LexDense

    embedder = LexDense.load(model)
    texts, metas, vectors = [], [], []
    for batch, meta in _corpus_batches(input, text_field):
        texts.extend(batch)
        metas.append(meta)
        vectors.append(embedder.encode(batch))
    if not texts:
        raise ValueError(f"{input}: no documents")
    result = near_duplicates(texts, vectors=np.vstack(vectors), threshold=threshold, keep=keep)
    from lexdense.io.readers import concat_tables

    table = concat_tables(metas)
    table = _with_outputs(table, {"row": np.arange(len(texts), dtype=np.int64), "group": result.group,
                                  "keep": result.keep, "similarity": result.similarity})
    with atomic_file(out, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    if keep_list:
        with atomic_file(keep_list) as tmp:
            tmp.write_text("".join(f"{row}\n" for row in np.flatnonzero(result.keep)))
    err.print(f"{len(texts):,} documents, {result.n_groups:,} duplicate groups, {result.n_removed:,} to remove "
              f"(threshold {threshold})")
    sizes = np.bincount(result.group, minlength=len(texts))
    for leader in np.argsort(-sizes, kind="stable")[:show]:
        if sizes[leader] < 2:
            break
        preview = escape(repr(" ".join(texts[leader].split())[:100]))
        err.print(f"[bold]group {leader}[/] ({sizes[leader]} documents): {preview}", highlight=False)


def _read_keywords(keywords_file: Optional[Path], label: Optional[list[str]]) -> dict:
    import json

    keywords: dict[str, list[str]] = {}
    if keywords_file:
        try:
            data = json.loads(keywords_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{keywords_file}: expected a JSON object label -> [keywords] ({exc.__class__.__name__})") from None
        if not isinstance(data, dict) or not all(isinstance(v, (list, str)) for v in data.values()):
            raise ValueError(f"{keywords_file}: expected a JSON object label -> [keywords]")
        keywords.update({str(k): [v] if isinstance(v, str) else [str(w) for w in v] for k, v in data.items()})
    for item in label or []:
        name, sep, words = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--label expects NAME=word,word,..., got '{item}'")
        keywords[name.strip()] = [w for w in words.split(",") if w.strip()]
    return keywords


@app.command()
@_guard
def topics(
    input: Path = typer.Argument(..., help="Corpus: .txt, .jsonl, .csv, .tsv or .parquet"),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet: label, confidence, probabilities"),
    keywords_file: Optional[Path] = typer.Option(None, "--keywords", "-k", help="JSON: label -> [keywords]"),
    label: Optional[list[str]] = typer.Option(None, "--label", "-l", help="NAME=word,word (repeatable)"),
    abstain: float = typer.Option(0.0, help="Below this confidence the label is left empty"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model name or directory"),
    text_field: str = typer.Option("text", help="Field holding the text"),
    diagnostics: Optional[Path] = typer.Option(None, help="Write per-label keyword diagnostics (JSON) here"),
) -> None:
    """Label documents with topics described only by keywords (refined Lbl2Vec; zero-shot)."""
    _claim_output(out, [input])

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from rich.markup import escape
    from rich.table import Table

    from lexdense.io.atomic import atomic_file, write_json
    from lexdense.labels import KeywordTopics
    from lexdense.model import LexDense

    keywords = _read_keywords(keywords_file, label)
    embedder = LexDense.load(model)
    estimator = KeywordTopics(keywords, model=embedder, abstain=abstain)
    metas, vectors = [], []
    for batch, meta in _corpus_batches(input, text_field):
        metas.append(meta)
        vectors.append(embedder.encode(batch))
    if not vectors:
        raise ValueError(f"{input}: no documents")
    x = np.vstack(vectors)
    estimator.fit(vectors=x)
    proba = estimator.predict_proba(vectors=x)
    predicted = estimator.predict(vectors=x)
    from lexdense.io.readers import concat_tables

    table = concat_tables(metas)
    table = _with_outputs(table, {"label": pa.array(predicted, pa.string()), "confidence": proba.max(axis=1),
                                  "probabilities": pa.FixedSizeListArray.from_arrays(
                                      pa.array(proba.astype("float32").ravel()), proba.shape[1])})
    table = table.replace_schema_metadata({b"lexdense.labels": "\t".join(estimator.labels).encode()})
    with atomic_file(out, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    report = estimator.diagnostics()
    if diagnostics:
        write_json(diagnostics, report)
    summary = Table(title=f"{len(x):,} documents, {sum(p is None for p in predicted):,} abstained")
    for column in ("label", "documents", "strongest keywords (documents pulled)", "warnings"):
        summary.add_column(column)
    for name, entry in report.items():
        words = sorted(entry["keywords"].items(), key=lambda kv: -kv[1]["pulls_documents"])
        warnings = [f"'{w}' closer to {d['closer_to']}" for w, d in words if d["closer_to"]]
        warnings += [f"'{w}' unknown word" for w, d in words if d["unknown_word"]]
        summary.add_row(escape(name), f"{entry['documents']:,}",
                        escape(", ".join(f"{w} ({d['pulls_documents']})" for w, d in words[:4])),
                        escape("; ".join(warnings[:3])))
    Console(stderr=True).print(summary)


def _read_corpus(input: Path, text_field: str):
    """All texts and the metadata table of a corpus file (for jobs that need it whole)."""

    texts, metas = [], []
    for batch, meta in _corpus_batches(input, text_field):
        texts.extend(batch)
        metas.append(meta)
    if not texts:
        raise ValueError(f"{input}: no documents")
    from lexdense.io.readers import concat_tables

    return texts, concat_tables(metas)


@app.command()
@_guard
def anomalies(
    input: Path = typer.Argument(..., help="Corpus to score: .txt, .jsonl, .csv, .tsv or .parquet"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output Parquet: score, anomaly flag, probability"),
    method: str = typer.Option("knn", help="knn, iforest, lof, ecod or pca (PyOD)"),
    contamination: float = typer.Option(0.05, help="Expected share of anomalies (sets the threshold)"),
    fit_on: Optional[Path] = typer.Option(None, help="Fit on these normal documents instead of the input"),
    select: bool = typer.Option(False, "--select", help="Pick embedding x detector on a labelled input"),
    label_field: str = typer.Option("is_anomaly", help="With --select: field that is 1/true for anomalies"),
    budget: int = typer.Option(3, help="With --select: cells measured (the rest are predicted)"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model name or directory"),
    text_field: str = typer.Option("text", help="Field holding the text"),
    show: int = typer.Option(5, help="Print this many of the most abnormal documents"),
) -> None:
    """Score documents by how abnormal they are (PyOD detectors on embeddings)."""
    if out is not None:
        _claim_output(out, [input])

    import numpy as np
    import pyarrow.parquet as pq
    from rich.markup import escape
    from rich.table import Table

    from lexdense.anomaly import AnomalyDetector, select_pair
    from lexdense.io.atomic import atomic_file

    texts, meta = _read_corpus(input, text_field)
    if select:
        if label_field not in meta.column_names:
            raise ValueError(f"--select needs a labelled sample: no field '{label_field}' in {input}")
        raw = meta.column(label_field).to_pylist()
        labels = np.asarray([str(v).lower() in ("1", "true", "yes", "anomaly") for v in raw], dtype=int)
        rng = np.random.default_rng(0)
        normal = rng.permutation(np.flatnonzero(labels == 0))
        cut = int(0.7 * len(normal))
        test = np.concatenate([normal[cut:], np.flatnonzero(labels == 1)])
        if cut < 10 or labels.sum() == 0:
            raise ValueError("--select needs at least 15 normal and 1 anomalous labelled documents")
        result = select_pair([texts[i] for i in normal[:cut]], [texts[i] for i in test], labels[test],
                             budget=budget, model=model)
        table = Table(title=f"AUROC per embedding x detector (rank-{result['rank']} completion)")
        for column in ("embedding", "detector", "AUROC", "how"):
            table.add_column(column)
        for row in sorted(result["cells"], key=lambda r: -r["auroc"]):
            embedding, detector = row["cell"].split("|")
            table.add_row(embedding, detector, f"{row['auroc']:.3f}", "measured" if row["measured"] else "predicted")
        Console().print(table)
        held = result["holdout"]
        err.print(f"choice: {result['choice']}. On the benchmark datasets this completion's error was "
                  f"{held.get('mae_rank1', float('nan')):.3f} (rank 1) vs {held.get('mae_additive', float('nan')):.3f} "
                  "(additive) AUROC, leaving each dataset out (benchmarks/anomaly.py)")
        return
    if out is None:
        raise ValueError("--out is required (unless --select)")
    detector = AnomalyDetector(method, contamination=contamination, model=model)
    if fit_on is not None:
        normal_texts, _ = _read_corpus(fit_on, text_field)
        detector.fit(normal_texts)
        scores = detector.decision_function(texts)
    else:
        detector.fit(texts)
        scores = detector.decision_scores_
    flags = (scores > detector.threshold_).astype(bool)
    proba = np.clip((scores - detector.decision_scores_.min()) /
                    max(detector.decision_scores_.max() - detector.decision_scores_.min(), 1e-12), 0, 1)
    table = _with_outputs(meta, {"anomaly_score": scores, "is_anomaly": flags, "anomaly_probability": proba})
    with atomic_file(out, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    err.print(f"{out}: {len(texts):,} documents, {int(flags.sum()):,} above the threshold {detector.threshold_:.4f} "
              f"({method}, contamination {contamination})")
    for row in np.argsort(-scores, kind="stable")[:show]:
        err.print(f"  {scores[row]:.4f}  {escape(repr(' '.join(texts[row].split())[:100]))}", highlight=False)


@app.command()
@_guard
def discover(
    input: Path = typer.Argument(..., help="Corpus: .txt, .jsonl, .csv, .tsv or .parquet"),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet: topic per document"),
    n_topics: Optional[int] = typer.Option(None, help="Merge topics down to this many"),
    outliers: str = typer.Option("keep", help="keep (topic -1) or reassign (above --floor)"),
    floor: float = typer.Option(0.3, help="Cosine to a topic vector needed to reassign or transform"),
    min_cluster_size: int = typer.Option(15, help="HDBSCAN's smallest topic"),
    reducer: str = typer.Option("umap", help="umap or pca"),
    seed: int = typer.Option(0, help="Random seed (UMAP)"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model name or directory"),
    text_field: str = typer.Option("text", help="Field holding the text"),
    report: Optional[Path] = typer.Option(None, help="Write topics, keywords and hierarchy (JSON) here"),
    map_png: Optional[Path] = typer.Option(None, "--map", help="Write a 2-D document map (PNG) here"),
    keywords_png: Optional[Path] = typer.Option(None, "--keywords-chart", help="Write keyword bar charts (PNG) here"),
    html: Optional[Path] = typer.Option(None, help="Write an interactive map (HTML, works offline) here"),
) -> None:
    """Discover topics: UMAP + HDBSCAN + class-based TF-IDF keywords, explicit outlier policy."""
    _claim_output(out, [input])

    import pyarrow.parquet as pq
    from rich.markup import escape
    from rich.table import Table

    from lexdense.discover import TopicDiscovery
    from lexdense.io.atomic import atomic_file, write_json

    estimator = TopicDiscovery(model=model, reducer=reducer, min_cluster_size=min_cluster_size, n_topics=n_topics,
                               outliers=outliers, floor=floor, seed=seed)
    texts, meta = _read_corpus(input, text_field)
    estimator.fit(texts)
    table = _with_outputs(meta, {"topic": estimator.labels_.astype("int64")})
    with atomic_file(out, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    info = estimator.topic_info()
    if report:
        write_json(report, {"topics": info, "outlier_share": estimator.outlier_share_,
                            "hierarchy": estimator.hierarchy_, "topic_diversity": estimator.topic_diversity()})
    if map_png:
        estimator.plot_map(map_png)
    if keywords_png:
        estimator.plot_keywords(keywords_png)
    if html:
        estimator.save_html_map(html, texts)
    share = estimator.outlier_share_
    summary = Table(title=f"{len(info)} topics over {len(texts):,} documents; outliers {share['clustering']:.1%} "
                          f"after clustering, {share['final']:.1%} final ({outliers})")
    for column in ("topic", "documents", "keywords"):
        summary.add_column(column)
    for entry in info[:30]:
        summary.add_row(str(entry["topic"]), f"{entry['size']:,}", escape(", ".join(entry["keywords"][:8])))
    Console(stderr=True).print(summary)


@app.command()
@_guard
def explain(
    text: Optional[str] = typer.Argument(None, help="Text to explain"),
    vs: Optional[str] = typer.Option(None, "--vs", help="Second text: explain why the two are similar"),
    concepts: Optional[Path] = typer.Option(None, help="Concept bank: .txt (one a line) or .json label -> [keywords]"),
    probe_file: Optional[Path] = typer.Option(None, "--probe", help="Labelled corpus: dimensions each label needs"),
    label_field: str = typer.Option("label", help="With --probe: the label field"),
    text_field: str = typer.Option("text", help="With --probe: the text field"),
    top: int = typer.Option(10, help="Concepts / words to show"),
    alpha: float = typer.Option(3e-4, help="Sparsity of the concept code (larger = fewer concepts)"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model name or directory"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Explain an embedding by concepts, two texts' similarity by shared words, or probe labels."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from lexdense.explain import Explainer, probe
    from lexdense.model import LexDense

    embedder = LexDense.load(model)
    console = Console()
    if probe_file is not None:
        texts, meta = _read_corpus(probe_file, text_field)
        if label_field not in meta.column_names:
            raise ValueError(f"{probe_file}: no field '{label_field}'; use --label-field")
        result = probe(embedder.encode(texts), meta.column(label_field).to_pylist())
        if json_out:
            print(json.dumps(result))
            return
        ks = sorted({k for c in result["concepts"].values() for k in c["accuracy_by_dims"]})
        table = Table(title="balanced accuracy of a probe on the top-k dimensions (Fisher score)")
        table.add_column("label")
        for k in ks:
            table.add_column(f"k={k}", justify="right")
        table.add_column("k for 95%", justify="right")
        for name, entry in result["concepts"].items():
            table.add_row(escape(name), *[f"{entry['accuracy_by_dims'][k]:.2f}" for k in ks],
                          str(entry["dims_for_95pct"]))
        console.print(table)
        return
    if text is None:
        raise ValueError("give a text to explain (or --probe FILE)")
    bank = None
    if concepts is not None:
        if concepts.suffix == ".json":
            bank = _read_keywords(concepts, None)
        else:
            bank = [line.strip() for line in concepts.read_text(encoding="utf-8", errors="replace").splitlines()
                    if line.strip()]
    explainer = Explainer(model=embedder, concepts=bank, alpha=alpha)
    if vs is not None:
        result = explainer.compare(text, vs, top=top)
        if json_out:
            print(json.dumps(result))
            return
        console.print(f"cosine {result['cosine']:.3f}")
        table = Table(title="shared words: cosine drop when removed from both texts (exact)")
        table.add_column("word")
        table.add_column("cosine drop", justify="right")
        for entry in result["shared_words"]:
            table.add_row(escape(entry["word"]), f"{entry['cosine_drop']:+.3f}")
        console.print(table)
        console.print("shared concepts: " + escape(", ".join(c["concept"] for c in result["shared_concepts"]) or "-"))
        return
    result = explainer.explain(text, top=top)
    if json_out:
        print(json.dumps(result))
        return
    table = Table(title=f"concepts reconstructing the vector: fidelity {result['fidelity']:.2f} "
                        f"with {result['n_concepts']} concepts")
    table.add_column("concept")
    table.add_column("weight", justify="right")
    for entry in result["concepts"]:
        table.add_row(escape(entry["concept"]), f"{entry['weight']:.3f}")
    console.print(table)


@app.command()
@_guard
def serve(
    index: Optional[Path] = typer.Option(None, help="Index directory for /search and the page"),
    classifier: Optional[Path] = typer.Option(None, help="Classifier directory for /classify"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model name or directory"),
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, help="Port"),
    max_texts: int = typer.Option(1024, help="Most texts per request"),
    max_body_mb: float = typer.Option(8.0, help="Largest request body (MiB)"),
    allowed_host: Optional[list[str]] = typer.Option(
        None, help="Host header name to accept (repeatable); default: the names of --host (loopback: "
                   "localhost, 127.0.0.1, ::1), any for 0.0.0.0"),
) -> None:
    """Serve /embed, /search, /classify, /topics and a search page (FastAPI + uvicorn).

    Set LEXDENSE_TOKEN in the environment to require 'Authorization: Bearer <token>'."""
    import os

    import uvicorn

    from lexdense.serve import create_app
    from lexdense.serve.app import host_names

    token = os.environ.get("LEXDENSE_TOKEN") or None
    hosts = list(allowed_host) if allowed_host else host_names(host)
    if "*" in hosts and not token:
        err.print("[yellow]warning:[/] any Host header is accepted and auth is off: set LEXDENSE_TOKEN, or "
                  "name the server's host names with --allowed-host")
    application = create_app(model=model, index=index, classifier=classifier, token=token, max_texts=max_texts,
                             max_body_bytes=int(max_body_mb * 2**20), allowed_hosts=hosts)
    err.print(f"lexdense serving on http://{host}:{port}/ (auth {'on' if token else 'off'})")
    # A keep-alive longer than uvicorn's 5 s default: a connection the server closes just as a client
    # reuses it is a client-side error; benchmarks/load.py saw one such ReadError at 5 s, none at 75 s.
    uvicorn.run(application, host=host, port=port, log_level="warning", timeout_keep_alive=75, backlog=4096)


@app.command()
@_guard
def demo(
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model name or directory"),
    teacher_docs: int = typer.Option(300, help="Articles the teacher embeds for the comparison"),
    no_teacher: bool = typer.Option(False, help="Skip the teacher comparison"),
) -> None:
    """Embed the bundled news corpus, run a few searches, compare with the teacher."""
    from lexdense.demo import run

    run(model, teacher_docs=teacher_docs, with_teacher=not no_teacher)


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.exit(1)


if __name__ == "__main__":
    main()
