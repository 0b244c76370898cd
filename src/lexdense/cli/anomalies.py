"""`lexdense anomalies`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from lexdense.cli._common import _claim_output, _guard, _read_corpus, _with_outputs, app, err
from lexdense.cli.options import ModelOption, TextFieldOption
from lexdense.errors import InputError
from lexdense.model import DEFAULT_MODEL


@app.command()
@_guard
def anomalies(
    input: Path = typer.Argument(..., help="Corpus to score: .txt, .jsonl, .csv, .tsv or .parquet"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output Parquet: score, anomaly flag, probability"),
    method: Optional[str] = typer.Option(
        None, help="knn, iforest, lof, ecod or pca (PyOD). Default: knn with --fit-on (clean normal documents), "
                   "ecod without (fitted on the scored corpus, outliers included: benchmarks/anomaly_selffit.py)"),
    contamination: float = typer.Option(0.05, help="Expected share of anomalies (sets the threshold)"),
    fit_on: Optional[Path] = typer.Option(None, help="Fit on these normal documents instead of the input"),
    select: bool = typer.Option(False, "--select", help="Pick embedding x detector on a labelled input"),
    label_field: str = typer.Option("is_anomaly", help="With --select: field that is 1/true for anomalies"),
    budget: int = typer.Option(3, help="With --select: cells measured (the rest are predicted)"),
    model: ModelOption = DEFAULT_MODEL,
    text_field: TextFieldOption = "text",
    show: int = typer.Option(5, help="Print this many of the most abnormal documents"),
) -> None:
    """Score documents by how abnormal they are (PyOD detectors on embeddings)."""
    if out is not None:
        _claim_output(out, [input])

    import numpy as np
    import pyarrow.parquet as pq
    from rich.markup import escape
    from rich.table import Table

    from lexdense.anomaly import AnomalyDetector
    from lexdense.anomaly_select import select_labelled
    from lexdense.io.atomic import atomic_file

    texts, meta = _read_corpus(input, text_field)
    if select:
        if label_field not in meta.column_names:
            raise InputError(f"--select needs a labelled sample: no field '{label_field}' in {input}")
        raw = meta.column(label_field).to_pylist()
        labels = np.asarray([str(v).lower() in ("1", "true", "yes", "anomaly") for v in raw], dtype=int)
        result = select_labelled(texts, labels, budget=budget, model=model)
        table = Table(title=f"AUROC per embedding x detector: {budget} measured here, the rest estimated "
                            f"(rank-{result['rank']} completion)")
        for column in ("embedding", "detector", "AUROC", "how"):
            table.add_column(column)
        for row in sorted(result["cells"], key=lambda r: (-r["auroc"], not r["measured"])):
            embedding, detector = row["cell"].split("|")
            table.add_row(embedding, detector, f"{row['auroc']:.3f}", "measured" if row["measured"] else "estimate")
        Console().print(table)
        held = result["holdout"]
        chosen = next(r for r in result["cells"] if r["cell"] == result["choice"])
        err.print(f"choice: {result['choice']} ({'measured' if chosen['measured'] else 'an estimate'}). Estimates "
                  f"are off by {held.get('mae_rank1', float('nan')):.3f} (rank 1) or "
                  f"{held.get('mae_additive', float('nan')):.3f} (additive) AUROC on average on the benchmark "
                  "datasets, leaving each out (benchmarks/anomaly.py)")
        return
    if out is None:
        raise InputError("--out is required (unless --select)")
    if method is None:
        method = "knn" if fit_on is not None else "ecod"
    detector = AnomalyDetector(method, contamination=contamination, model=model)
    if fit_on is not None:
        normal_texts, _ = _read_corpus(fit_on, text_field)
        detector.fit(normal_texts)
        scores = detector.decision_function(texts)
    else:
        detector.fit(texts)
        scores = detector.decision_scores_
    flags = (scores > detector.threshold_).astype(bool)
    proba = detector.anomaly_probability(scores)
    table = _with_outputs(meta, {"anomaly_score": scores, "is_anomaly": flags, "anomaly_probability": proba})
    with atomic_file(out, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    err.print(f"{out}: {len(texts):,} documents, {int(flags.sum()):,} above the threshold {detector.threshold_:.4f} "
              f"({method}, contamination {contamination})")
    if fit_on is None:
        err.print("fitted on these documents, outliers included: a sample of normal documents (--fit-on) "
                  "ranks outliers better (benchmarks/results/anomaly.json vs anomaly_selffit.json)", highlight=False)
    for row in np.argsort(-scores, kind="stable")[:show]:
        err.print(f"  {scores[row]:.4f}  {escape(repr(' '.join(texts[row].split())[:100]))}", highlight=False)
