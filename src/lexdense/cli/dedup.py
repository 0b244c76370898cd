"""`lexdense dedup`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from lexdense.cli._common import _claim_output, _corpus_batches, _guard, _with_outputs, app, err
from lexdense.cli.options import CORPUS_HELP, ModelOption, TextFieldOption
from lexdense.errors import InputError
from lexdense.model import DEFAULT_MODEL


@app.command()
@_guard
def dedup(
    input: Path = typer.Argument(..., help=CORPUS_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet: one row per document with group and keep"),
    threshold: float = typer.Option(0.98, help="Cosine at or above which two documents are duplicates"),
    keep: str = typer.Option("first", help="Which document of a group to keep: first or longest"),
    model: ModelOption = DEFAULT_MODEL,
    text_field: TextFieldOption = "text",
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
        raise InputError(f"{input}: no documents")
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
