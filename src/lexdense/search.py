"""Semantic search over an on-disk index: exact or approximate (usearch HNSW), metadata
filters, and hybrid ranking with BM25 (``bm25s``) by reciprocal-rank fusion.

    from lexdense.search import SearchIndex
    index = SearchIndex.build(texts, metadata={"source": sources})   # embeds with lexdense-base
    index.save("news.index")
    SearchIndex.load("news.index").search("vaccine trial", k=5, mode="hybrid", where={"source": "bbc"})

On disk an index is a directory::

    manifest.json          what is current: model, dim, rows, parts, generation
    part-00000.parquet     rows: text, metadata columns, embedding (written once, never changed)
    gen-00001/ann.usearch  the HNSW graph of that generation (absent below the ANN threshold)
    gen-00001/bm25/        the BM25 index of that generation

Every file is written under a temporary name and renamed; ``manifest.json`` is replaced
last, so a crash at any point leaves the previous generation as the index.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lexdense import neighbors
from lexdense.errors import InputError, InputTypeError, LexDenseError
from lexdense.io.atomic import atomic_file, write_json
from lexdense.io.readers import as_text, concat_tables
from lexdense.messages import one_line
from lexdense.model import DEFAULT_MODEL, as_encoder, unit_rows

FORMAT = "lexdense-index"
VERSION = 1
RRF_K = 60


class IndexError_(LexDenseError, ValueError):
    """A directory is not a usable lexdense index (missing or corrupt files)."""


class SearchIndex:
    """Vectors, texts and metadata with exact, ANN, BM25 and hybrid search.

    :param ann_threshold: at or above this many rows searches use the usearch HNSW graph;
        below it, exact search (a matrix product) is both faster and exact.
    """

    def __init__(self, model=DEFAULT_MODEL, ann_threshold: int = neighbors.ANN_THRESHOLD, bm25: bool = True):
        self.model = as_encoder(model)  # None: vectors only
        self.model_name = (model if isinstance(model, str) else
                           getattr(self.model, "config", {}).get("name") if self.model is not None else None)
        self.ann_threshold = int(ann_threshold)
        self.use_bm25 = bool(bm25)
        self._chunks: list[np.ndarray] = []  # vectors added, joined on first use
        self._rows = 0
        self.table: pa.Table | None = None  # text + metadata, one row per vector
        self.path: Path | None = None
        self.parts: list[str] = []
        self._new_tables: list[pa.Table] = []  # rows added since the last save
        self._ann = None
        self._ann_rows = 0
        self._bm25 = None
        self.generation = 0

    # -- building ---------------------------------------------------------------------
    @classmethod
    def build(cls, texts: Sequence[str], metadata: Mapping[str, Sequence] | pa.Table | None = None,
              vectors: np.ndarray | None = None, model=DEFAULT_MODEL, **options) -> SearchIndex:
        """An index of ``texts`` (embedded with ``model`` unless ``vectors`` are given)."""
        index = cls(model=None if vectors is not None and model == DEFAULT_MODEL else model, **options)
        index.add(texts, metadata=metadata, vectors=vectors)
        return index

    def __len__(self) -> int:
        return self._rows

    @property
    def vectors(self) -> np.ndarray:
        """(rows, dim) unit vectors; batches added one by one are joined once, on first use."""
        if len(self._chunks) != 1:
            self._chunks = [np.concatenate(self._chunks) if self._chunks else np.zeros((0, 0), np.float32)]
        return self._chunks[0]

    @vectors.setter
    def vectors(self, value: np.ndarray) -> None:
        self._chunks, self._rows = [value], len(value)

    def add(self, texts: Sequence[str], metadata: Mapping[str, Sequence] | pa.Table | None = None,
            vectors: np.ndarray | None = None, batch_size: int = 4096, show_progress_bar: bool = False) -> None:
        """Append documents; the ANN graph grows in place, BM25 statistics are recomputed."""
        texts = ["" if t is None else t for t in texts]
        if any(not isinstance(t, str) for t in texts):
            raise InputTypeError("texts must be strings")
        if vectors is None:
            if self.model is None:
                raise InputError("this index has no model: pass vectors=")
            vectors = self.model.encode(texts, batch_size=batch_size, show_progress_bar=show_progress_bar)
        vectors = unit_rows(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise InputError(f"vectors must be ({len(texts)}, dim), got {vectors.shape}")
        if len(self) and vectors.shape[1] != self._chunks[0].shape[1]:
            raise InputError(f"vectors have dim {vectors.shape[1]}, the index has {self._chunks[0].shape[1]}")
        table = pa.table({"text": pa.array(texts, pa.string())})
        if metadata is not None:
            columns = metadata if isinstance(metadata, pa.Table) else pa.table(dict(metadata))
            if columns.num_rows != len(texts):
                raise InputError(f"metadata has {columns.num_rows} rows for {len(texts)} texts")
            for name in columns.column_names:
                if name in ("text", "embedding"):
                    continue
                column = columns.column(name)
                if hasattr(pa, "string_view") and column.type in (pa.string_view(), pa.binary_view()):
                    # view types have no take kernel (hits, filters): store them as plain strings
                    column = column.cast(pa.string() if column.type == pa.string_view() else pa.binary())
                table = table.append_column(name, column)
        if self.table is not None and self.table.num_rows:
            table = _align(table, self.table.schema)
            self.table = concat_tables([self.table, table])
        else:
            self.table = table
        self._new_tables.append(table.append_column(
            "embedding", pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])))
        self._chunks = [vectors] if not len(self) else self._chunks + [vectors]
        self._rows += len(vectors)
        self._bm25 = None
        if self._ann is not None:
            self._grow_ann()

    # -- search -----------------------------------------------------------------------
    def _mask(self, where: Mapping[str, object] | None) -> np.ndarray | None:
        if not where:
            return None
        mask = np.ones(len(self), dtype=bool)
        for column, wanted in where.items():
            if column not in self.table.column_names:
                raise InputError(f"unknown filter column '{column}': expected one of "
                                 f"{', '.join(self.table.column_names)}")
            values = self.table.column(column)
            wanted_list = list(wanted) if isinstance(wanted, (list, tuple, set)) else [wanted]
            if not pa.types.is_string(values.type):  # numbers, lists, structs: compared as their text
                values = as_text(values)
                wanted_list = [str(w) for w in wanted_list]
            hit = pc.is_in(values, value_set=pa.array(wanted_list, type=values.type))
            mask &= hit.to_numpy(zero_copy_only=False).astype(bool)
        return mask

    def _grow_ann(self) -> None:
        if self._ann is None:
            self._ann = neighbors.hnsw(self.vectors.shape[1])
            self._ann_rows = 0
        if self._ann_rows < len(self):
            neighbors.add(self._ann, self.vectors[self._ann_rows:], first_key=self._ann_rows)
            self._ann_rows = len(self)

    def _dense(self, query_vectors: np.ndarray, k: int, mask: np.ndarray | None, exact: bool | None):
        """(rows, scores) per query, best first."""
        n = len(self)
        allowed = np.flatnonzero(mask) if mask is not None else None
        candidates = n if allowed is None else len(allowed)
        use_ann = candidates >= self.ann_threshold if exact is None else not exact
        if use_ann and n:
            self._grow_ann()
            fetch = min(n, k if allowed is None else int(min(n, max(4 * k, k * 2 * n / max(candidates, 1)))))
            keys, similarities = neighbors.search(self._ann, query_vectors, fetch, n)
            out = []
            for q in range(len(query_vectors)):
                rows, sims = keys[q], similarities[q]
                good = rows < n  # usearch pads missing results with a sentinel key
                rows, sims = rows[good], sims[good]
                if allowed is not None:
                    keep = mask[rows]
                    rows, sims = rows[keep], sims[keep]
                if len(rows) < min(k, candidates):  # the filter ate the neighbours: exact on the subset
                    out.append(self._exact(query_vectors[q:q + 1], k, allowed)[0])
                else:
                    out.append((rows[:k], sims[:k]))
            return out
        return self._exact(query_vectors, k, allowed)

    def _exact(self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None):
        base = self.vectors if allowed is None else self.vectors[allowed]
        if not len(base):
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in query_vectors]
        scores = query_vectors @ base.T
        k = min(k, base.shape[0])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out = []
        for q in range(len(query_vectors)):
            order = top[q][np.argsort(-scores[q, top[q]], kind="stable")]
            rows = order if allowed is None else allowed[order]
            out.append((rows.astype(np.int64), scores[q, order]))
        return out

    def _bm25_index(self):
        if self._bm25 is None:
            import bm25s

            tokens = bm25s.tokenize(self.table.column("text").to_pylist(), stopwords="en", show_progress=False)
            if not tokens.vocab:  # no indexable word anywhere: BM25 finds nothing
                self._bm25 = False
                return None
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
            self._bm25 = retriever
        return self._bm25 or None

    def _lexical(self, queries: list[str], k: int, mask: np.ndarray | None):
        import bm25s

        retriever = self._bm25_index()
        if retriever is None:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
        tokens = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
        out = []
        for words in tokens:
            scores = retriever.get_scores(words) if words else np.zeros(len(self), np.float32)
            scores = np.asarray(scores, dtype=np.float32)
            if mask is not None:
                scores = np.where(mask, scores, -np.inf)
            kk = min(k, len(self))
            top = np.argpartition(-scores, kk - 1)[:kk] if kk else np.zeros(0, np.int64)
            top = top[np.argsort(-scores[top], kind="stable")]
            top = top[(scores[top] > 0)]  # documents sharing no query term are not results
            out.append((top.astype(np.int64), scores[top]))
        return out

    def search(self, queries: str | Sequence[str] | np.ndarray, k: int = 10, mode: str = "dense",
               where: Mapping[str, object] | None = None, exact: bool | None = None,
               columns: Sequence[str] | None = None) -> list[dict] | list[list[dict]]:
        """Top ``k`` documents for each query.

        :param queries: a string, a list of strings, or query vectors (dense mode only).
        :param mode: "dense", "bm25" or "hybrid" (reciprocal-rank fusion of both, k=60).
        :param where: metadata filter, column -> value or list of accepted values.
        :param exact: force exact (True) or ANN (False) search; default: by ``ann_threshold``.
        :returns: for each query a list of hits ``{"row", "score", "text", <metadata>}``;
            a single string query gives one list.
        """
        if mode not in ("dense", "bm25", "hybrid"):
            raise InputError(f"unknown mode '{mode}': expected dense, bm25 or hybrid")
        if mode != "dense" and not self.use_bm25:
            raise InputError(f"this index was built without BM25 (bm25=False, --no-bm25): mode '{mode}' "
                             "needs it; search with mode 'dense' or rebuild the index with BM25")
        if not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a positive int, got {k!r}")
        single = isinstance(queries, str)
        if isinstance(queries, np.ndarray):
            if mode != "dense":
                raise InputError("query vectors only work with mode='dense'")
            query_vectors, texts = unit_rows(np.atleast_2d(queries)), None
        else:
            texts = [queries] if single else ["" if q is None else str(q) for q in queries]
            query_vectors = None
        if not len(self):
            return [] if single else [[] for _ in range(len(texts if texts is not None else query_vectors))]
        mask = self._mask(where)
        if mode in ("dense", "hybrid") and query_vectors is None:
            if self.model is None:
                raise InputError("this index was built from vectors without a model: pass query vectors")
            query_vectors = unit_rows(self.model.encode(texts))
        if mode == "dense":
            ranked = self._dense(query_vectors, k, mask, exact)
        elif mode == "bm25":
            ranked = self._lexical(texts, k, mask)
        else:
            depth = max(100, k)
            ranked = [_rrf([d, b], k) for d, b in zip(self._dense(query_vectors, depth, mask, exact),
                                                      self._lexical(texts, depth, mask))]
        if texts is not None:  # an empty query asks for nothing: no hits, not k arbitrary ones
            empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
            ranked = [empty if not text.strip() else pair for text, pair in zip(texts, ranked)]
        hits = [self._hits(rows, scores, columns) for rows, scores in ranked]
        return hits[0] if single else hits

    def count(self, where: Mapping[str, object] | None = None) -> int:
        """Documents that pass the metadata filter ``where`` (all of them without one)."""
        mask = self._mask(where)
        return len(self) if mask is None else int(mask.sum())

    def _hits(self, rows: np.ndarray, scores: np.ndarray, columns) -> list[dict]:
        names = list(columns) if columns is not None else self.table.column_names
        if not names:
            return [{"row": int(r), "score": float(s)} for r, s in zip(rows, scores)]
        taken = self.table.select(names).take(pa.array(rows, pa.int64())).to_pylist() if len(rows) else []
        return [{"row": int(r), "score": float(s), **record} for r, s, record in zip(rows, scores, taken)]

    # -- persistence ------------------------------------------------------------------
    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write new rows and a new generation; the manifest switch makes it visible.

        One writer at a time: a second process saving to the same index gets a one-line
        error (an OS lock beside the index), never a torn or lost generation.
        """
        from lexdense.io.atomic import exclusive_lock

        path = Path(path) if path is not None else self.path
        if path is None:
            raise InputError("no path: pass save(path)")
        with exclusive_lock(path):
            return self._save(path)

    def _save(self, path: Path) -> Path:
        if path.exists() and not path.is_dir():
            raise FileExistsError(f"{path} exists and is not a directory")
        if path.exists() and not (path / "manifest.json").is_file() and any(path.iterdir()):
            raise FileExistsError(f"{path} exists and is not a lexdense index; not overwriting it")
        if self.path is not None and path.resolve() != self.path.resolve():
            # Saving elsewhere: copy the existing parts first.
            path.mkdir(parents=True, exist_ok=True)
            for part in self.parts:
                with atomic_file(path / part) as tmp:
                    shutil.copyfile(self.path / part, tmp)
        path.mkdir(parents=True, exist_ok=True)
        parts = list(self.parts) if self.path is not None else []
        pending = [concat_tables(self._new_tables)] if self._new_tables else []
        for table in pending:
            name = f"part-{len(parts):05d}.parquet"
            with atomic_file(path / name) as tmp:
                pq.write_table(table, tmp)
            parts.append(name)
        generation = self.generation + 1
        gen_dir = path / f"gen-{generation:05d}"
        tmp_gen = path / f".gen-{generation:05d}.tmp"
        shutil.rmtree(tmp_gen, ignore_errors=True)
        shutil.rmtree(gen_dir, ignore_errors=True)
        tmp_gen.mkdir()
        has_ann = len(self) >= self.ann_threshold
        if has_ann:
            self._grow_ann()
            self._ann.save(str(tmp_gen / "ann.usearch"))
        has_bm25 = bool(self.use_bm25 and len(self) and self._bm25_index() is not None)
        if has_bm25:
            self._bm25_index().save(str(tmp_gen / "bm25"))
        os.replace(tmp_gen, gen_dir)
        manifest = {
            "format": FORMAT, "version": VERSION, "generation": generation, "rows": len(self),
            "dim": int(self.vectors.shape[1]) if len(self) else 0, "model": self.model_name,
            "ann_threshold": self.ann_threshold, "bm25": has_bm25, "use_bm25": self.use_bm25,
            "ann": has_ann, "parts": parts, "columns": self.table.column_names if self.table is not None else [],
        }
        write_json(path / "manifest.json", manifest)
        # Only now is the new generation the index; older ones and stray files can go.
        for child in path.iterdir():
            stale_gen = child.name.startswith(("gen-", ".gen-")) and child != gen_dir
            stray_part = child.name.startswith("part-") and child.name not in parts
            if stale_gen:
                shutil.rmtree(child, ignore_errors=True)
            elif stray_part:
                child.unlink(missing_ok=True)
        self.path, self.parts, self.generation, self._new_tables = path, parts, generation, []
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, model=None) -> SearchIndex:
        """Open an index directory; ``model`` overrides the one named in its manifest.
        A damaged index raises :class:`IndexError_` naming its manifest (one line)."""
        try:
            return cls._load(Path(path), model)
        except IndexError_:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:  # fields of the wrong kind
            detail = one_line(exc) or type(exc).__name__
            raise IndexError_(f"{Path(path) / 'manifest.json'}: damaged index ({detail})") from None

    @classmethod
    def _load(cls, path: Path, model=None) -> SearchIndex:
        manifest_file = path / "manifest.json"
        if not manifest_file.is_file():
            raise IndexError_(f"{path}: not a lexdense index (no manifest.json)")
        try:
            manifest = json.loads(manifest_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexError_(f"{manifest_file}: corrupt ({exc.__class__.__name__})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise IndexError_(f"{manifest_file}: not a lexdense index manifest")
        if manifest.get("version") != VERSION:
            raise IndexError_(f"{manifest_file}: index format version {manifest.get('version')}, "
                              f"this lexdense reads {VERSION}")
        import re

        missing = [k for k in ("ann_threshold", "parts", "rows", "generation") if k not in manifest]
        if missing:
            raise IndexError_(f"{manifest_file}: missing {', '.join(missing)}; the index is damaged")
        bad = [p for p in manifest["parts"] if not isinstance(p, str) or not re.fullmatch(r"part-\d{5}\.parquet", p)]
        if bad or not isinstance(manifest["generation"], int):
            raise IndexError_(f"{manifest_file}: invalid part name {bad[0]!r}" if bad else
                              f"{manifest_file}: invalid generation {manifest['generation']!r}")
        if not isinstance(manifest.get("model"), (str, type(None))):
            from reprlib import repr as short

            raise IndexError_(f"{manifest_file}: invalid model {short(manifest['model'])} (expected a model name)")
        chosen = model if model is not None else manifest.get("model")
        index = cls(model=chosen, ann_threshold=manifest["ann_threshold"],
                    bm25=manifest.get("use_bm25", manifest["bm25"]))
        tables = []
        for part in manifest["parts"]:
            try:
                tables.append(pq.read_table(path / part))
            except (OSError, pa.ArrowException) as exc:
                raise IndexError_(f"{path / part}: unreadable ({exc})") from None
        if tables:
            table = concat_tables(tables)
            embedding = table.column("embedding").combine_chunks()
            vectors = embedding.flatten().to_numpy(zero_copy_only=False).reshape(table.num_rows, -1)
            index.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            index.table = table.drop_columns(["embedding"])
        if len(index) != manifest["rows"]:
            raise IndexError_(f"{path}: manifest says {manifest['rows']} rows, parts hold {len(index)}")
        gen_dir = path / f"gen-{manifest['generation']:05d}"
        if manifest.get("ann"):
            from usearch.index import Index

            try:
                index._ann = Index.restore(str(gen_dir / "ann.usearch"))
            except Exception as exc:  # usearch raises plain RuntimeError/ValueError on bad files
                raise IndexError_(f"{gen_dir / 'ann.usearch'}: unreadable ({exc})") from None
            if index._ann is None or len(index._ann) != len(index):
                raise IndexError_(f"{gen_dir / 'ann.usearch'}: missing or does not match the rows")
            index._ann_rows = len(index)
        if manifest.get("bm25"):
            import bm25s

            _check_npy_headers(gen_dir / "bm25")
            try:  # never a pickle: a damaged file can hold one
                index._bm25 = bm25s.BM25.load(str(gen_dir / "bm25"), mmap=False, allow_pickle=False,
                                              show_progress=False)
            except Exception as exc:  # bm25s fails in many ways on damaged files (EOF, npy header, JSON)
                raise IndexError_(f"{gen_dir / 'bm25'}: unreadable ({one_line(exc) or type(exc).__name__})") from None
            _check_bm25(index._bm25, len(index), gen_dir / "bm25")
        index.path, index.parts, index.generation = path, list(manifest["parts"]), manifest["generation"]
        return index


def _check_npy_headers(directory: Path) -> None:
    """Each BM25 array file must hold plain numbers: its header is read (not its data) and a
    file of Python objects (a pickle) or an unreadable header is refused, naming the file."""
    for file in sorted(directory.glob("*.npy")):
        try:
            with open(file, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise InputError(f"npy format version {version}, expected 1.0 or 2.0")
                _, _, dtype = read_header(handle)
        except Exception as exc:  # numpy raises ValueError, SyntaxError, ... on a damaged header
            raise IndexError_(f"{file}: damaged BM25 array ({one_line(exc) or type(exc).__name__})") from None
        if dtype.hasobject:
            raise IndexError_(f"{file}: damaged BM25 array (it holds Python objects, which are never loaded)")


_BM25_METHODS = ("robertson", "lucene", "atire", "bm25l", "bm25+")


def _check_bm25(retriever, n_docs: int, where: Path) -> None:
    """Refuse (:class:`IndexError_`, one line naming the file) a loaded BM25 index whose
    parameters, vocabulary or arrays a query could not use: every value is checked here, at
    load, so a damaged file never fails (or silently misranks) at query time."""
    from reprlib import repr as short  # values read from a damaged file can be long

    def refuse(file: str, problem: str):
        raise IndexError_(f"{where / file}: damaged BM25 index ({problem})")

    def dtype_of(name: str, kinds: str):
        value = getattr(retriever, name, None)
        try:
            dtype = np.dtype(value) if isinstance(value, str) else None
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.kind not in kinds:
            kind = "a float" if kinds == "f" else "an integer"
            refuse("params.index.json", f"{name} {short(value)} is not {kind} type")
        return dtype

    def array(value, name: str, file: str, kinds: str, length: int) -> np.ndarray:
        if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in kinds:
            shown = (f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray)
                     else type(value).__name__)
            refuse(file, f"{name}: expected a 1-D {'float' if kinds == 'f' else 'integer'} array, got {shown}")
        if len(value) != length:
            refuse(file, f"{name}: {len(value)} entries, expected {length}")
        return value

    for name in ("method", "idf_method"):
        if getattr(retriever, name, None) not in _BM25_METHODS:
            refuse("params.index.json", f"unknown {name} {short(getattr(retriever, name, None))}")
    dtype_of("dtype", "f")
    int_dtype = dtype_of("int_dtype", "iu")
    scores = getattr(retriever, "scores", None)
    if not isinstance(scores, dict):
        refuse("data.csc.index.npy", "no score arrays")
    if type(scores.get("num_docs")) is not int or scores["num_docs"] != n_docs:
        refuse("params.index.json", f"num_docs {short(scores.get('num_docs'))}, the index has {n_docs} documents")
    indptr = scores.get("indptr")
    if not (isinstance(indptr, np.ndarray) and indptr.ndim == 1 and indptr.dtype.kind in "iu" and len(indptr)
            and indptr[0] == 0 and not np.any(np.diff(indptr.astype(np.int64)) < 0)):
        refuse("indptr.csc.index.npy", "indptr: expected a 1-D integer array of non-decreasing offsets from 0")
    n_tokens = len(indptr) - 1
    data = array(scores.get("data"), "data", "data.csc.index.npy", "f", int(indptr[-1]))
    indices = array(scores.get("indices"), "indices", "indices.csc.index.npy", "iu", len(data))
    if not np.all(np.isfinite(data)):
        refuse("data.csc.index.npy", "scores that are not finite numbers")
    if len(indices) and not 0 <= int(indices.min()) <= int(indices.max()) < n_docs:
        refuse("indices.csc.index.npy", f"document numbers outside 0..{n_docs - 1}")
    if n_tokens > np.iinfo(int_dtype).max - 1:
        refuse("params.index.json", f"int_dtype {int_dtype} cannot number {n_tokens} tokens")
    vocab = getattr(retriever, "vocab_dict", None)
    # bm25s numbers the empty string (never a query word) one past the last token
    if not isinstance(vocab, dict) or not all(isinstance(key, str) and type(value) is int
                                              and (0 <= value < n_tokens or key == "") for key, value in vocab.items()):
        refuse("vocab.index.json", f"not a map of words to token numbers 0..{n_tokens - 1}")
    if retriever.method in ("bm25l", "bm25+"):
        nonoccurrence = array(getattr(retriever, "nonoccurrence_array", None), "nonoccurrence_array",
                              "nonoccurrence_array.index.npy", "f", n_tokens)
        if not np.all(np.isfinite(nonoccurrence)):
            refuse("nonoccurrence_array.index.npy", "scores that are not finite numbers")


def _rrf(rankings: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal-rank fusion: score = sum over rankings of 1 / (60 + rank)."""
    fused: dict[int, float] = {}
    for rows, _ in rankings:
        for rank, row in enumerate(rows.tolist(), start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank)
    order = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    return (np.asarray([r for r, _ in order], np.int64), np.asarray([s for _, s in order], np.float32))


def _align(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Give new rows the index's columns (missing ones as nulls, extra ones kept)."""
    for field in schema:
        if field.name not in table.column_names:
            table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
    return table
