"""`lexdense classify train / test / predict`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from lexdense.cli._common import _claim_directory, _claim_output, _corpus_batches, _guard, _result_names, app, err
from lexdense.cli.options import ModelOption, TextFieldOption
from lexdense.errors import InputError
from lexdense.model import DEFAULT_MODEL

classify_app = typer.Typer(no_args_is_help=True, help="Train and apply text classifiers on embeddings.")


app.add_typer(classify_app, name="classify")


@classify_app.command("train")
@_guard
def classify_train(
    input: Path = typer.Argument(..., help="Labelled corpus: .jsonl, .csv, .tsv, .parquet, or a folder of such files"),
    out: Path = typer.Option(..., "--out", "-o", help="Classifier directory"),
    label_field: str = typer.Option("label", help="Field holding the label"),
    text_field: TextFieldOption = "text",
    kind: str = typer.Option("logreg", help="logreg or mlp"),
    model: ModelOption = DEFAULT_MODEL,
    c: float = typer.Option(10.0, "--C", help="Inverse L2 strength (logreg)"),
    holdout: float = typer.Option(0.1, help="Share kept out to report accuracy (0 to train on all)"),
    split: str = typer.Option("random", help="Which documents are held out: random (of each label, every copy of "
                                             "a text on one side) or last (the end of the file: later documents, "
                                             "when the file is in time order)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out even if lexdense did not write it"),
) -> None:
    """Train a classifier on a labelled file; prints accuracy on a held-out share it never trained on."""
    import numpy as np

    from lexdense.classify import EmbeddingClassifier
    from lexdense.io.atomic import check_output_directory
    from lexdense.model import LexDense

    if not 0 <= holdout < 1:
        raise InputError(f"--holdout must be in [0, 1), got {holdout}")
    if split not in ("random", "last"):
        raise InputError(f"unknown --split '{split}': expected random or last")
    check_output_directory(out, "classifier", overwrite, lambda p: (p / "classifier.json").is_file())
    _claim_directory(out)
    embedder = LexDense.load(model)
    texts, labels, vectors = _labelled(input, text_field, label_field, embedder)
    x, y = np.vstack(vectors), np.asarray(labels)
    from lexdense.classify import classification_report, holdout_split

    if split == "last":
        cut = len(y) - int(len(y) * holdout)
        train, test = np.arange(cut), np.arange(cut, len(y))
    else:
        train, test = holdout_split(texts, labels, holdout) if holdout else (np.arange(len(y)), np.arange(0))
    clf = EmbeddingClassifier(model=embedder, kind=kind, C=c)
    clf.model_name = model
    clf.fit(labels=y[train], vectors=x[train])
    if len(test):
        report = classification_report(y[test], clf.predict(vectors=x[test]))
        low, high = report["accuracy_95ci"]
        drawn = ("the last documents of the file" if split == "last" else
                 "drawn at random from each label of the file, copies of a training text excluded")
        err.print(f"held-out accuracy {report['accuracy']:.3f} (95% interval {low:.3f}-{high:.3f}), macro F1 "
                  f"{report['macro_f1']:.3f}, on {len(test):,} documents never trained on, {drawn}; the saved "
                  "classifier is the one scored. It estimates accuracy on documents like these: on later or other "
                  "data it can be lower (--split last holds out the end of the file; lexdense classify test "
                  "scores a test file)")
    clf.save(out, overwrite=overwrite)
    err.print(f"{out}: {kind} classifier on {len(train):,} documents, labels: {', '.join(map(str, clf.classes_[:10]))}"
              + (" ..." if len(clf.classes_) > 10 else ""))


def _labelled(input: Path, text_field: str, label_field: str, embedder):
    """(texts, labels as text, vector batches) of the labelled documents of a corpus."""
    texts: list[str] = []
    labels: list[str] = []
    vectors = []
    for batch, meta in _corpus_batches(input, text_field):
        if label_field not in meta.column_names:
            raise InputError(f"{input}: no field '{label_field}' (fields: {', '.join(meta.column_names)}); "
                             "use --label-field")
        column = meta.column(label_field).to_pylist()
        keep = [i for i, label in enumerate(column) if label is not None and str(label) != ""]
        texts.extend(batch[i] for i in keep)
        labels.extend(str(column[i]) for i in keep)
        vectors.append(embedder.encode([batch[i] for i in keep]))
    if not labels:
        raise InputError(f"{input}: no labelled document (every record lacks '{label_field}' or the file is empty)")
    return texts, labels, vectors


@classify_app.command("test")
@_guard
def classify_test(
    classifier: Path = typer.Argument(..., help="Directory from 'classify train'"),
    input: Path = typer.Argument(..., help="Labelled test corpus: .jsonl, .csv, .tsv, .parquet or a folder"),
    label_field: str = typer.Option("label", help="Field holding the true label"),
    text_field: TextFieldOption = "text",
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON (stdout)"),
) -> None:
    """Score a classifier on a labelled file (fastText's test): accuracy with its 95% interval,
    and per class precision, recall, F1 and support."""
    import json

    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from lexdense.classify import EmbeddingClassifier, classification_report

    clf = EmbeddingClassifier.load(classifier)
    _, labels, vectors = _labelled(input, text_field, label_field, clf.model)
    report = classification_report(labels, clf.predict(vectors=np.vstack(vectors)))
    unknown = sorted(set(map(str, labels)) - set(map(str, clf.classes_)))
    if json_out:
        print(json.dumps({**report, "labels_unknown_to_classifier": unknown}))
        return
    low, high = report["accuracy_95ci"]
    table = Table(title=f"{report['documents']:,} documents: accuracy {report['accuracy']:.3f} (95% interval "
                        f"{low:.3f}-{high:.3f}), macro F1 {report['macro_f1']:.3f}", title_justify="left")
    for column in ("label", "precision", "recall", "F1", "documents"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label, entry in report["classes"].items():
        table.add_row(escape(label), f"{entry['precision']:.3f}", f"{entry['recall']:.3f}", f"{entry['f1']:.3f}",
                      f"{entry['support']:,}")
    Console().print(table)
    if unknown:
        err.print(f"[yellow]warning:[/] labels the classifier never saw (always wrong): {escape(', '.join(unknown))}")


@classify_app.command("predict")
@_guard
def classify_predict(
    input: Path = typer.Argument(..., help="Corpus: .txt, .jsonl, .csv, .tsv, .parquet, or a folder of documents"),
    classifier: Path = typer.Option(..., "--classifier", "-c", help="Directory from 'classify train'"),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet file"),
    text_field: TextFieldOption = "text",
    keep_text: bool = typer.Option(False, help="Copy the text column into the output"),
) -> None:
    """Label every document of a corpus: label, confidence and one probability per class."""
    _claim_output(out, [input])

    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from lexdense.classify import EmbeddingClassifier
    from lexdense.io.atomic import _temp_prefix
    from lexdense.io.parts import merge_parts

    clf = EmbeddingClassifier.load(classifier)
    n = 0
    names = ["text"] if keep_text else []
    names += ["label", "confidence", "probabilities"]
    # Batches become part files, merged at the end under one schema (a field whose type changes
    # after the first batch, a folder's files with other columns); results are stored under
    # private names until every input column name is known.
    private = {name: f"__lexdense_result__{name}" for name in names}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=_temp_prefix(out), suffix=".parts.tmp", dir=out.parent) as tmp:
        parts, inputs = [], set()
        for texts, meta in _corpus_batches(input, text_field):
            proba = clf.predict_proba(texts)
            best = proba.argmax(axis=1)
            outputs = {"text": pa.array(texts, pa.string())} if keep_text else {}
            outputs.update({"label": pa.array(clf.classes_[best].tolist()),  # the classes' own type
                            "confidence": pa.array(proba[range(len(best)), best].astype("float32")),
                            "probabilities": pa.FixedSizeListArray.from_arrays(
                                pa.array(proba.astype("float32").ravel()), proba.shape[1])})
            inputs.update(meta.column_names)
            table = meta
            for name, values in outputs.items():
                table = table.append_column(private[name], values)
            parts.append(Path(tmp) / f"part-{len(parts):09d}.parquet")
            pq.write_table(table, parts[-1])
            n += len(texts)
        if not parts:
            raise InputError(f"{input}: no documents")
        renamed = _result_names(names, inputs)
        merge_parts(parts, out, pa.schema([]), fixed=tuple(private.values()), last=tuple(private.values()),
                    rename={private[name]: renamed[name] for name in names},
                    metadata={b"lexdense.classes": "\t".join(map(str, clf.classes_)).encode()})
    err.print(f"{out}: {n:,} documents labelled")
