"""`lexdense discover`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from lexdense.cli._common import CORPUS_HELP, _claim_output, _guard, _read_corpus, _with_outputs, app
from lexdense.model import DEFAULT_MODEL


@app.command()
@_guard
def discover(
    input: Path = typer.Argument(..., help=CORPUS_HELP),
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
