"""`lexdense topics`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from lexdense.cli._common import _claim_output, _corpus_batches, _guard, _read_keywords, _with_outputs, app
from lexdense.cli.options import CORPUS_HELP, ModelOption, TextFieldOption
from lexdense.model import DEFAULT_MODEL


@app.command()
@_guard
def topics(
    input: Path = typer.Argument(..., help=CORPUS_HELP),
    keywords_file: Optional[Path] = typer.Option(None, "--keywords", help="JSON: label -> [keywords]"),
    label: Optional[list[str]] = typer.Option(None, "--label", "-l", help="NAME=word,word (repeatable)"),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet: label, confidence, probabilities"),
    abstain: float = typer.Option(0.0, help="Leave the label empty below this confidence; above 0 also where a "
                                  "document is about none of the labels"),
    model: ModelOption = DEFAULT_MODEL,
    text_field: TextFieldOption = "text",
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
    from lexdense.labels import LOW_CONFIDENCE, NONE_OF_THE_LABELS, KeywordTopics
    from lexdense.model import LexDense

    keywords = _read_keywords(keywords_file, label)
    embedder = LexDense.load(model)
    estimator = KeywordTopics(keywords, model=embedder, abstain=abstain)
    metas, vectors = [], []
    for batch, meta in _corpus_batches(input, text_field):
        metas.append(meta)
        vectors.append(embedder.encode(batch))
    if not vectors:
        from lexdense.errors import InputError

        raise InputError(f"{input}: no documents")
    x = np.vstack(vectors)
    estimator.fit(vectors=x)
    proba = estimator.predict_proba(vectors=x)
    predicted = estimator.predict(vectors=x)
    reasons = estimator.abstain_reasons(vectors=x)
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
    unlabelled = sum(p is None for p in predicted)
    summary = Table(title=f"{len(x):,} documents, {len(x) - unlabelled:,} labelled, {unlabelled:,} unlabelled: "
                          f"{reasons.count(NONE_OF_THE_LABELS):,} none of the labels, "
                          f"{reasons.count(LOW_CONFIDENCE):,} low confidence (below {abstain:g})")
    for column in ("label", "labelled", "closest (of all)", "strongest keywords (documents pulled)", "warnings"):
        summary.add_column(column)
    for name, entry in report.items():
        words = sorted(entry["keywords"].items(), key=lambda kv: -kv[1]["pulls_documents"])
        warnings = [f"'{w}' closer to {d['closer_to']}" for w, d in words if d["closer_to"]]
        warnings += [f"'{w}' unknown word" for w, d in words if d["unknown_word"]]
        summary.add_row(escape(name), f"{predicted.count(name):,}", f"{entry['documents']:,}",
                        escape(", ".join(f"{w} ({d['pulls_documents']})" for w, d in words[:4])),
                        escape("; ".join(warnings[:3])))
    Console(stderr=True).print(summary)
