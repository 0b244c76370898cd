"""Semantic search over an on-disk index: exact or approximate (usearch HNSW), metadata
filters, BM25 (``bm25s``), and hybrid ranking by a weighted sum of both scores.

    from lexdense.search import SearchIndex
    index = SearchIndex.build(texts, metadata={"source": sources})   # embeds with lexdense-base
    index.save("news.index")
    SearchIndex.load("news.index").search("vaccine trial", k=5, mode="hybrid", where={"source": "bbc"})

On disk an index is a directory::

    manifest.json          what is current: model, dim, rows, parts, generation
    part-00000.parquet     rows: text, metadata columns, embedding (written once, never changed)
    gen-00001/ann.usearch  the HNSW graph of that generation (absent below the ANN threshold)
    gen-00001/bm25/        the BM25 index of that generation

Modules, one job each: ``index`` (SearchIndex), ``fusion`` (hybrid scores), ``passages``
(the passage of a hit that matched, query words to mark), ``store`` (the directory, written
atomically), ``validate`` (refusing a damaged index at load).
"""

from lexdense.search.fusion import DENSE_WEIGHT
from lexdense.search.index import SearchIndex
from lexdense.search.passages import best_passages, highlight_spans, passage_spans
from lexdense.search.store import FORMAT, VERSION
from lexdense.search.validate import IndexError_

__all__ = ["DENSE_WEIGHT", "FORMAT", "VERSION", "IndexError_", "SearchIndex", "best_passages",
           "highlight_spans", "passage_spans"]
