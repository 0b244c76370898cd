"""`lexdense classify train / predict`."""

from __future__ import annotations

from pathlib import Path

import typer

from lexdense.cli._common import _claim_directory, _claim_output, _corpus_batches, _guard, _with_outputs, app, err
from lexdense.errors import InputError
from lexdense.model import DEFAULT_MODEL

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
        raise InputError(f"--holdout must be in [0, 1), got {holdout}")
    check_output_directory(out, "classifier", overwrite, lambda p: (p / "classifier.json").is_file())
    _claim_directory(out)
    embedder = LexDense.load(model)
    vectors, labels = [], []
    for texts, meta in _corpus_batches(input, text_field):
        if label_field not in meta.column_names:
            raise InputError(f"{input}: no field '{label_field}' (fields: {', '.join(meta.column_names)}); "
                             "use --label-field")
        column = meta.column(label_field).to_pylist()
        keep = [i for i, label in enumerate(column) if label is not None and str(label) != ""]
        vectors.append(embedder.encode([texts[i] for i in keep]))
        labels.extend(str(column[i]) for i in keep)
    if not labels:
        raise InputError(f"{input}: no labelled document (every record lacks '{label_field}' or the file is empty)")
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
            raise InputError(f"{input}: no documents")
    err.print(f"{out}: {n:,} documents labelled")
