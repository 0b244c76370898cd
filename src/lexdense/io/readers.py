"""Stream corpora (.txt, .jsonl, .csv, .parquet) in batches of bounded size.

Each batch is a ``pyarrow.Table`` with the text column named ``text`` plus the file's other
columns (ids, metadata), and a ``row`` column counting records from 0, so an output can be
joined back to its input and a resumed job knows where it stopped.
Invalid UTF-8 becomes U+FFFD (the count is kept in ``Reader.replaced_bytes``), never a crash.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FORMATS = {".txt": "txt", ".text": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
           ".tsv": "tsv", ".parquet": "parquet"}
csv.field_size_limit(1 << 30)


class CorpusError(ValueError):
    """The input file cannot be read as a corpus; the message says why."""


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise CorpusError(f"{path}: unknown input format '{suffix}' (expected one of "
                          f"{', '.join(sorted(FORMATS))})")
    return FORMATS[suffix]


class Reader:
    """Iterate over a corpus file in batches.

    :param path: the input file.
    :param text_field: column or key holding the text (jsonl, csv, parquet); txt has one
        document per line.
    :param batch_rows: records per batch.
    :param batch_bytes: a batch is closed early once its texts reach this many bytes, which
        bounds memory whatever the document sizes.
    """

    def __init__(self, path: str | os.PathLike, text_field: str = "text", batch_rows: int = 4096,
                 batch_bytes: int = 32 << 20):
        self.path = Path(path)
        if not isinstance(batch_rows, int) or batch_rows < 1:
            raise CorpusError(f"batch_rows must be a positive int, got {batch_rows!r}")
        if not self.path.exists():
            raise CorpusError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise CorpusError(f"{self.path}: is a directory, expected a file")
        self.format = detect_format(self.path)
        self.text_field = text_field
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self.replaced_bytes = 0

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size

    def __iter__(self) -> Iterator[pa.Table]:
        yield from getattr(self, f"_read_{self.format if self.format != 'tsv' else 'csv'}")()

    # Each reader yields tables with 'row', 'text' and extra columns.
    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
            self.replaced_bytes += text.count("\ufffd")
            return text

    def _batches_of_records(self, records: Iterator[dict]) -> Iterator[pa.Table]:
        batch: list[dict] = []
        size = 0
        row = 0
        for record in records:
            record["row"] = row
            row += 1
            batch.append(record)
            size += len(record["text"])
            if len(batch) >= self.batch_rows or size >= self.batch_bytes:
                yield _to_table(batch)
                batch, size = [], 0
        if batch:
            yield _to_table(batch)

    def _read_txt(self):
        def records():
            with self.path.open("rb") as handle:
                for line in handle:
                    yield {"text": self._decode(line.rstrip(b"\r\n"))}
        yield from self._batches_of_records(records())

    def _read_jsonl(self):
        def records():
            with self.path.open("rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(self._decode(line))
                    except json.JSONDecodeError as exc:
                        raise CorpusError(f"{self.path}:{number}: not valid JSON ({exc.msg})") from None
                    if not isinstance(record, dict):
                        raise CorpusError(f"{self.path}:{number}: expected a JSON object per line")
                    yield self._take_text(record, f"{self.path}:{number}")
        yield from self._batches_of_records(records())

    def _read_csv(self):
        delimiter = "\t" if self.format == "tsv" else ","

        def records():
            with self.path.open("rb") as raw:
                # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first name.
                handle = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
                reader = csv.DictReader(handle, delimiter=delimiter)
                if reader.fieldnames is None:
                    return
                if self.text_field not in reader.fieldnames:
                    raise CorpusError(f"{self.path}: no column '{self.text_field}' (columns: "
                                      f"{', '.join(reader.fieldnames)}); use --text-field")
                for number, record in enumerate(reader, start=2):
                    yield self._take_text(dict(record), f"{self.path}:{number}")
        yield from self._batches_of_records(records())

    def _read_parquet(self):
        try:
            parquet = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorpusError(f"{self.path}: not a readable Parquet file ({exc})") from None
        names = parquet.schema_arrow.names
        if self.text_field not in names:
            raise CorpusError(f"{self.path}: no column '{self.text_field}' (columns: "
                              f"{', '.join(names)}); use --text-field")
        row = 0
        for batch in parquet.iter_batches(batch_size=self.batch_rows):
            table = pa.Table.from_batches([batch])
            texts = table.column(self.text_field)
            if not pa.types.is_string(texts.type) and not pa.types.is_large_string(texts.type):
                raise CorpusError(f"{self.path}: column '{self.text_field}' is {texts.type}, expected strings")
            texts = pc.fill_null(texts, "")
            table = table.drop_columns([self.text_field])
            if "row" in table.column_names:
                table = table.rename_columns([c if c != "row" else "input_row" for c in table.column_names])
            table = table.append_column("text", texts.cast(pa.string()))
            table = table.add_column(0, "row", pa.array(range(row, row + table.num_rows), pa.int64()))
            row += table.num_rows
            yield table

    def _take_text(self, record: dict, where: str) -> dict:
        if self.text_field not in record:
            raise CorpusError(f"{where}: no field '{self.text_field}' (fields: "
                              f"{', '.join(map(str, record))}); use --text-field")
        text = record.pop(self.text_field)
        if text is None:
            text = ""
        elif not isinstance(text, str):
            raise CorpusError(f"{where}: field '{self.text_field}' is {type(text).__name__}, expected a string")
        if "row" in record:
            record["input_row"] = record.pop("row")
        record["text"] = text
        return record


def _to_table(records: list[dict]) -> pa.Table:
    columns: dict[str, list] = {"row": [r["row"] for r in records], "text": [r["text"] for r in records]}
    # Every field of every record of the batch (in order of first appearance): a field the
    # first record lacks is still kept, with nulls where a record has no value.
    extra = [k for k in dict.fromkeys(k for r in records for k in r) if k not in ("row", "text")]
    for key in extra:
        values = [r.get(key) for r in records]
        # Mixed or nested metadata is kept as JSON text rather than guessed at.
        if any(isinstance(v, (dict, list)) for v in values):
            values = [json.dumps(v) if v is not None else None for v in values]
        columns[key] = values
    try:
        return pa.table(columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.table({k: (v if k in ("row", "text") else [None if x is None else str(x) for x in v])
                         for k, v in columns.items()})


def read_texts(paths, text_field: str = "text") -> list[str]:
    """All texts of the given files, in order (for corpora that fit in memory)."""
    texts: list[str] = []
    for path in paths:
        for table in Reader(path, text_field=text_field):
            texts.extend(table.column("text").to_pylist())
    return texts


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """Tables stacked row-wise (schemas unified), keeping the row count of tables that have
    no column at all: pyarrow's own concat gives 0 rows for those, and a text-only corpus
    has no metadata column."""
    if not tables:
        return pa.table({})
    n_rows = sum(t.num_rows for t in tables)
    if all(t.num_columns == 0 for t in tables):
        return pa.table({"_": pa.nulls(n_rows)}).drop_columns(["_"])
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    # A field whose type changes between batches (int, later text): widened to text in every
    # batch, so the outcome never depends on where batch boundaries fall.
    names = list(dict.fromkeys(n for t in tables for n in t.column_names))
    kinds = {n: {str(t.schema.field(n).type) for t in tables if n in t.column_names
                 and not pa.types.is_null(t.schema.field(n).type)} for n in names}
    widen = {n for n, types in kinds.items() if len(types) > 1}
    fixed = []
    for table in tables:
        for name in widen & set(table.column_names):
            column = table.column(name)
            try:
                column = pc.cast(column, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                column = pa.array([None if v is None else json.dumps(v, default=str) for v in column.to_pylist()],
                                  pa.string())
            table = table.set_column(table.column_names.index(name), name, column)
        fixed.append(table)
    return pa.concat_tables(fixed, promote_options="permissive")
