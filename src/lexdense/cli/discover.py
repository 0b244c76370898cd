"""`lexdense discover`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from lexdense.cli._common import _claim_output, _guard, _read_corpus, _with_outputs, app
from lexdense.cli.options import CORPUS_HELP, TextFieldOption
from lexdense.model import DEFAULT_MODEL


@app.command()
@_guard
def discover(
    input: Path = typer.Argument(..., help=CORPUS_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet: topic per document"),
    n_topics: Optional[int] = typer.Option(None, help="Merge topics down to this many"),
    outliers: str = typer.Option("keep", help="keep (topic -1) or reassign (above --floor)"),
    floor: Optional[float] = typer.Option(None, help="Cosine to a topic vector needed to reassign or assign "
                                          "(default 0.3; with --load-model, the saved one)"),
    min_cluster_size: int = typer.Option(15, help="HDBSCAN's smallest topic"),
    reducer: str = typer.Option("umap", help="umap or pca"),
    seed: int = typer.Option(0, help="Random seed (UMAP)"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help=f"Embedding model name or directory "
                                        f"(default {DEFAULT_MODEL}; with --load-model, the one it was fitted with)"),
    text_field: TextFieldOption = "text",
    save_model: Optional[Path] = typer.Option(None, help="Save the fitted topics to this directory (JSON + "
                                              "safetensors) to assign topics to new documents later"),
    load_model: Optional[Path] = typer.Option(None, help="Assign the topics saved in this directory (by "
                                              "--save-model) to the input's documents: no new fit; a "
                                              "document below --floor gets -1"),
    report: Optional[Path] = typer.Option(None, help="Write topics, keywords and hierarchy (JSON) here"),
    map_png: Optional[Path] = typer.Option(None, "--map", help="Write a 2-D document map (PNG) here"),
    keywords_png: Optional[Path] = typer.Option(None, "--keywords-chart", help="Write keyword bar charts (PNG) here"),
    html: Optional[Path] = typer.Option(None, help="Write an interactive map (HTML, works offline) here"),
) -> None:
    """Discover topics: UMAP + HDBSCAN + class-based TF-IDF keywords, explicit outlier policy.

    Writes the topic of each document (column 'topic', -1 = outlier) beside the input's columns.
    With --load-model, assigns a saved model's topics to new documents instead of fitting."""
    _claim_output(out, [input])

    import pyarrow.parquet as pq

    from lexdense.discover import TopicDiscovery
    from lexdense.errors import InputError
    from lexdense.io.atomic import atomic_file, write_json

    if load_model is not None:
        if map_png or html:
            raise InputError("--map and --html draw the documents of a fit; a --load-model run only assigns "
                             "topics (drop --load-model to fit and draw)")
        estimator = TopicDiscovery.load(load_model, model=model)
        if floor is not None:
            estimator.floor = floor
        texts, meta = _read_corpus(input, text_field)
        labels = estimator.transform(texts)
    else:
        estimator = TopicDiscovery(model=model or DEFAULT_MODEL, reducer=reducer, min_cluster_size=min_cluster_size,
                                   n_topics=n_topics, outliers=outliers, floor=0.3 if floor is None else floor,
                                   seed=seed)
        texts, meta = _read_corpus(input, text_field)
        labels = estimator.fit(texts).labels_
    table = _with_outputs(meta, {"topic": labels.astype("int64")})
    with atomic_file(out, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    if save_model is not None and load_model is None:
        estimator.save(save_model)
    if report:
        write_json(report, {"topics": estimator.topic_info().to_pylist(), "outlier_share": estimator.outlier_share_,
                            "hierarchy": estimator.hierarchy_, "topic_diversity": estimator.topic_diversity()})
    if map_png:
        estimator.plot_map(map_png)
    if keywords_png:
        estimator.plot_keywords(keywords_png)
    if html:
        estimator.save_html_map(html, texts)
    _print_summary(estimator, labels, load_model is not None, outliers)


def _print_summary(estimator, labels, assigned: bool, outliers: str) -> None:
    import numpy as np
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    info = estimator.topic_info().to_pylist()
    counts = np.bincount(labels[labels >= 0], minlength=len(info))
    if assigned:
        title = (f"{len(info)} saved topics assigned to {len(labels):,} documents; "
                 f"{(labels < 0).mean():.1%} below the floor (-1)")
    else:
        share = estimator.outlier_share_
        title = (f"{len(info)} topics over {len(labels):,} documents; outliers {share['clustering']:.1%} "
                 f"after clustering, {share['final']:.1%} final ({outliers})")
    summary = Table(title=title)
    for column in ("topic", "documents", "keywords"):
        summary.add_column(column)
    for entry in info[:30]:
        summary.add_row(str(entry["topic"]), f"{counts[entry['topic']]:,}", escape(", ".join(entry["keywords"][:8])))
    Console(stderr=True).print(summary)
