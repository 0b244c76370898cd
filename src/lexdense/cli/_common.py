"""What every command shares: the app, one-line errors, output claims, corpus helpers."""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from lexdense.errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are shown as written: "[keywords]" is not markup
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


COMMAND_EXTRAS = {"distill": "train", "evaluate_command": "eval", "index_command": "search", "search": "search",
                  "classify_train": "classify", "dedup": "search", "topics": "topics", "anomalies": "anomaly",
                  "discover": "topics", "explain": "explain", "serve": "serve"}


def _guarded(function, *args, **kwargs):
    """Run a command; expected errors (bad input, bad files) become one line, not a traceback."""
    from lexdense.errors import LexDenseError
    from lexdense.extras import extra_for, require

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
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:  # the user's environment, not a bug
        _fail(str(exc))
    except OSError as exc:  # a full disk, an unreadable file: one line, never a traceback
        import errno

        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno == errno.ENOSPC:
            _fail(f"no space left on the device{where}: nothing half-written was kept; free some space and "
                  "rerun (embed: with --resume, finished parts are kept)")
        _fail(f"{exc.strerror or exc}{where}")
    except KeyboardInterrupt:
        if function.__name__ == "embed":  # the one command that resumes
            _fail("interrupted; finished parts are kept, rerun with --resume")
        _fail("interrupted; nothing half-written was kept")
    except Exception as exc:  # safetensors reports a failed write (a full disk) as its own error type
        if type(exc).__name__ != "SafetensorError":
            raise
        _fail(f"could not write a safetensors file: {exc}; nothing half-written was kept")


def _load_encoder(spec: str):
    from lexdense.eval.encoders import load_encoder

    return load_encoder(spec)


RESULT_PREFIX = "lexdense_"
def _result_names(results: list[str], inputs: set[str]) -> dict[str, str]:
    """The name each result column is written under: its own, or ``lexdense_<name>`` where an
    input column has that name (said on stderr)."""
    renamed: dict[str, str] = {}
    for name in results:
        target = name
        while target in inputs or target in renamed.values() or (target != name and target in results):
            target = RESULT_PREFIX + target
        renamed[name] = target
    clash = {name: target for name, target in renamed.items() if name != target}
    if clash:
        err.print("[yellow]the input has columns named like results: the results are written as "
                  + ", ".join(f"{target} (input {name} kept)" for name, target in clash.items()), highlight=False)
    return renamed


def _with_outputs(meta, columns: dict):
    """``meta`` (every input column kept) plus the result columns; a result whose name an input
    column has is written as ``lexdense_<name>`` instead (said once a run), so user data is
    never replaced or dropped."""
    import numpy as np
    import pyarrow as pa

    renamed = _result_names(list(columns), set(meta.column_names))
    for name, values in columns.items():
        if not isinstance(values, (pa.Array, pa.ChunkedArray)):
            values = np.asarray(values)
            values = pa.array(values.astype(np.float32) if values.dtype.kind == "f" else values)
        meta = meta.append_column(renamed[name], values)
    return meta


def _corpus_batches(input: Path, text_field: str, batch_rows: int = 4096):
    """(texts, metadata table) batches of a corpus file, folder or glob pattern, with a docs and
    docs/s counter; a folder's reader says on stderr what it read and skipped."""
    import time

    from rich.markup import escape
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from lexdense.io.folder import open_corpus

    reader = open_corpus(input, text_field=text_field, batch_rows=batch_rows)
    start = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}: {task.completed:,.0f} docs, {task.fields[rate]}"),
                  console=err, transient=True) as progress:
        task = progress.add_task(escape(input.name), total=None, rate="")
        done = 0
        for table in reader:
            texts = table.column("text").to_pylist()
            meta = table.drop_columns([c for c in ("row", "text") if c in table.column_names])
            yield texts, meta
            done += len(texts)
            rate = done / max(time.perf_counter() - start, 1e-9)
            progress.update(task, completed=done, rate=f"{rate:,.0f} docs/s")
    _say_read(reader)


def _say_read(reader) -> None:
    """On stderr: what a folder's reader read and skipped, and replaced invalid UTF-8."""
    from rich.markup import escape

    summary = reader.summary()
    if summary:
        err.print(escape(summary), highlight=False, soft_wrap=True)
    if reader.replaced_bytes:
        err.print(f"[yellow]warning:[/] {reader.replaced_bytes:,} invalid UTF-8 sequences replaced by U+FFFD")


def _parse_where(where: Optional[list[str]]) -> dict:
    parsed: dict[str, list[str]] = {}
    for item in where or []:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise InputError(f"--where expects COLUMN=VALUE, got '{item}'")
        if not value:
            raise InputError(f"--where {item}: no value given (expected COLUMN=VALUE)")
        parsed.setdefault(column, []).append(value)
    return parsed


def _read_keywords(keywords_file: Optional[Path], label: Optional[list[str]]) -> dict:
    import json

    keywords: dict[str, list[str]] = {}
    if keywords_file:
        try:
            data = json.loads(keywords_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{keywords_file}: expected a JSON object label -> [keywords] ({exc.__class__.__name__})") from None
        if not isinstance(data, dict) or not all(isinstance(v, (list, str)) for v in data.values()):
            raise InputError(f"{keywords_file}: expected a JSON object label -> [keywords]")
        keywords.update({str(k): [v] if isinstance(v, str) else [str(w) for w in v] for k, v in data.items()})
    for item in label or []:
        name, sep, words = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--label expects NAME=word,word,..., got '{item}'")
        keywords[name.strip()] = [w for w in words.split(",") if w.strip()]
    return keywords


def _read_corpus(input: Path, text_field: str):
    """All texts and the metadata table of a corpus file (for jobs that need it whole)."""

    texts, metas = [], []
    for batch, meta in _corpus_batches(input, text_field):
        texts.extend(batch)
        metas.append(meta)
    if not texts:
        raise InputError(f"{input}: no documents")
    from lexdense.io.readers import concat_tables

    return texts, concat_tables(metas)
