"""`lexdense index, search`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from lexdense.cli._common import _corpus_batches, _guard, _parse_where, app, err
from lexdense.cli.options import ModelOption, TextFieldOption
from lexdense.errors import InputError
from lexdense.model import DEFAULT_MODEL
from lexdense.neighbors import ANN_THRESHOLD


@app.command("index")
@_guard
def index_command(
    input: Path = typer.Argument(..., help="Corpus: .txt, .jsonl, .csv, .tsv or .parquet"),
    out: Path = typer.Option(..., "--out", "-o", help="Index directory"),
    model: ModelOption = DEFAULT_MODEL,
    text_field: TextFieldOption = "text",
    add: bool = typer.Option(False, "--add", help="Add the documents to an existing index"),
    ann_threshold: int = typer.Option(ANN_THRESHOLD, help="Rows from which searches use the HNSW graph"),
    bm25: bool = typer.Option(True, "--bm25/--no-bm25", help="Build the BM25 index (--no-bm25: no bm25/hybrid search)"),
) -> None:
    """Build a search index (vectors, metadata, HNSW graph, BM25) from a corpus file."""
    from lexdense.search import SearchIndex

    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file, not an index directory: choose another --out"
                         + (" (it is the input)" if input.exists() and out.samefile(input) else ""))
    from lexdense.io.atomic import exclusive_lock

    with exclusive_lock(out):  # load, add and save as one: a second writer is refused, not lost
        if (out / "manifest.json").exists() and not add:
            raise InputError(f"{out} is already an index: use --add to add documents to it")
        index = SearchIndex.load(out) if add and (out / "manifest.json").exists() else \
            SearchIndex(model=model, ann_threshold=ann_threshold, bm25=bm25)
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
    mode: str = typer.Option("dense", help="dense (score: cosine), bm25 (score: BM25) or hybrid (score in 0..1: "
                             "dense and BM25 scores, each scaled over the query's candidates, summed with weights)"),
    where: Optional[list[str]] = typer.Option(None, help="Metadata filter COLUMN=VALUE (repeatable)"),
    exact: Optional[bool] = typer.Option(None, "--exact/--ann", help="Force exact or ANN search"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table"),
) -> None:
    """Search an index; prints rank, score, the passage of each hit that matched (query words
    in bold) and metadata. --json prints every field and passage_span, [start, end) of text."""
    import json

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
        table.add_column("passage", overflow="fold", max_width=80)
        extra = [c for c in (index.table.column_names if index.table is not None else []) if c != "text"][:3]
        for column in extra:
            table.add_column(column)
        for rank, hit in enumerate(hits, 1):
            table.add_row(str(rank), f"{hit['score']:.3f}", shown_passage(hit, query),
                          *[escape(str(hit.get(c, ""))[:40]) for c in extra])
        console.print(table)


_ONE_LINE = str.maketrans("\n\r\t\v\f", "     ")


def shown_passage(hit: dict, query: str, limit: int = 300) -> Text:
    """The hit's best passage (at most ``limit`` characters, "..." where text is cut), its
    query words in bold."""
    from lexdense.search import highlight_spans

    text = str(hit.get("text", ""))
    span = hit.get("passage_span")
    start, end = span if isinstance(span, list) and len(span) == 2 else (0, len(text))
    marks = highlight_spans(text[start:end], query)
    if end - start > limit and marks:  # a long passage: begin a little before its first query word
        first = start + marks[0][0]
        start = max(start, text.rfind(" ", start, max(start, first - limit // 4)) + 1)
    end = min(end, start + limit)
    shown = Text("..." if start > 0 else "")
    offset = len(shown)
    shown.append(text[start:end].translate(_ONE_LINE))  # one table cell: line breaks read as spaces
    for a, b in highlight_spans(text[start:end], query):
        shown.stylize("bold", offset + a, offset + b)
    if end < len(text):
        shown.append("...")
    return shown
