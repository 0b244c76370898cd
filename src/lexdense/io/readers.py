"""Stream corpora (.txt, .jsonl, .csv, .parquet) in batches of bounded size.

Each batch is a ``pyarrow.Table`` with the text column named ``text`` plus the file's other
columns (ids, metadata), and a ``row`` column counting records from 0, so an output can be
joined back to its input and a resumed job knows where it stopped.
Invalid UTF-8 (and a lone surrogate from a JSON escape) becomes U+FFFD (the count is kept in
``Reader.replaced_bytes``), never a crash; a file that cannot be read raises :class:`CorpusError`.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lexdense.errors import LexDenseError
from lexdense.io.tables import as_text, concat_tables, conform, stacked_schema
from lexdense.messages import one_line, shown

# The stacking rule lives in lexdense.io.tables; these names stay importable from here.
__all__ = ["FORMATS", "CorpusError", "Reader", "as_text", "concat_tables", "conform", "detect_format",
           "read_texts", "stacked_schema"]

FORMATS = {".txt": "txt", ".text": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
           ".tsv": "tsv", ".parquet": "parquet"}
csv.field_size_limit(1 << 30)
_SURROGATES = re.compile("[\ud800-\udfff]")
_STRING_TYPES = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary()}
if hasattr(pa, "string_view"):
    _STRING_TYPES[pa.string_view()] = pa.binary_view()


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)


def _binary_twin(kind: pa.DataType) -> pa.DataType | None:
    """``kind`` with binary in place of each string type, nested ones included; None when it
    holds no string (nothing there can be invalid UTF-8)."""
    if kind in _STRING_TYPES:
        return _STRING_TYPES[kind]
    if pa.types.is_struct(kind):
        fields = [kind.field(i) for i in range(kind.num_fields)]
        twins = [_binary_twin(f.type) for f in fields]
        if all(t is None for t in twins):
            return None
        return pa.struct([f.with_type(t) if t is not None else f for f, t in zip(fields, twins)])
    if pa.types.is_map(kind):
        key, item = _binary_twin(kind.key_type), _binary_twin(kind.item_type)
        if key is None and item is None:
            return None
        return pa.map_(key or kind.key_type, item or kind.item_type)
    if _is_list(kind):
        value = _binary_twin(kind.value_type)
        if value is None:
            return None
        if pa.types.is_fixed_size_list(kind):
            return pa.list_(kind.value_field.with_type(value), kind.list_size)
        make = pa.large_list if pa.types.is_large_list(kind) else pa.list_
        return make(kind.value_field.with_type(value))
    return None


class CorpusError(LexDenseError, ValueError):
    """The input file cannot be read as a corpus; the message (one line) says why."""


def _names(names) -> str:
    return ", ".join(map(shown, names))


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise CorpusError(f"{shown(path)}: unknown input format '{shown(suffix)}' (expected one of "
                          f"{', '.join(sorted(FORMATS))})")
    return FORMATS[suffix]


class Reader:
    """Iterate over a corpus file in batches.

    Parameters
    ----------
    path
        the input file.
    text_field
        column or key holding the text (jsonl, csv, parquet); txt has one
        document per line.
    batch_rows
        records per batch.
    batch_bytes
        a batch is closed early once its texts reach this many bytes, which
        bounds memory whatever the document sizes.
    """

    def __init__(self, path: str | os.PathLike, text_field: str = "text", batch_rows: int = 4096,
                 batch_bytes: int = 32 << 20):
        self.path = Path(path)
        if not isinstance(batch_rows, int) or batch_rows < 1:
            raise CorpusError(f"batch_rows must be a positive int, got {batch_rows!r}")
        if not self.path.exists():
            raise CorpusError(f"{shown(self.path)}: no such file")
        if self.path.is_dir():
            raise CorpusError(f"{shown(self.path)}: is a directory, expected a file")
        self.format = detect_format(self.path)
        self.text_field = text_field
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self.replaced_bytes = 0
        self._where = shown(self.path)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size

    def fingerprint(self) -> dict:
        """Size, modification time and a hash of the first MiB: a resumed job checks its input
        is the file its finished parts were made from."""
        return file_fingerprint(self.path)

    def summary(self) -> str | None:
        """What a folder reader says it read; a single file has nothing to add."""
        return None

    def __iter__(self) -> Iterator[pa.Table]:
        yield from getattr(self, f"_read_{self.format if self.format != 'tsv' else 'csv'}")()

    # Each reader yields tables with 'row', 'text' and extra columns.
    def _decode(self, raw: bytes) -> str:
        text, replaced = decode_utf8(raw)
        self.replaced_bytes += replaced
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
                yield self._table(batch)
                batch, size = [], 0
        if batch:
            yield self._table(batch)

    def _table(self, batch: list[dict]) -> pa.Table:
        try:
            return _to_table(batch)
        except RecursionError:  # json.dumps of a value nested about as deep as json.loads allows
            raise CorpusError(f"{self._where}: records {batch[0]['row'] + 1}-{batch[-1]['row'] + 1} hold a value "
                              "nested too deeply to keep as metadata") from None

    def _no_surrogates(self, record: dict) -> dict:
        """Lone surrogates (JSON escapes such as "\\ud800", which UTF-8 cannot encode) become
        U+FFFD, like invalid UTF-8 bytes, in keys and string values; nested values are kept as
        ASCII JSON text, which escapes them."""
        def fix(value):
            if isinstance(value, str) and _SURROGATES.search(value):
                value, n = _SURROGATES.subn("\ufffd", value)
                self.replaced_bytes += n
            return value
        return {fix(key): fix(value) for key, value in record.items()}

    def _read_txt(self):
        def records():
            with self.path.open("rb") as handle:
                for number, line in enumerate(handle):
                    if number == 0 and line.startswith(b"\xef\xbb\xbf"):  # a byte-order mark is not data
                        line = line[3:]
                    yield {"text": self._decode(line.rstrip(b"\r\n"))}
        yield from self._batches_of_records(records())

    def _read_jsonl(self):
        def records():
            with self.path.open("rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if number == 1 and line.startswith(b"\xef\xbb\xbf"):  # a byte-order mark is not data
                        line = line[3:]
                    if not line.strip():
                        continue
                    text = self._decode(line)
                    try:
                        record = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise CorpusError(f"{self._where}:{number}: not valid JSON ({exc.msg})") from None
                    except RecursionError:
                        raise CorpusError(f"{self._where}:{number}: JSON nested too deeply") from None
                    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
                        raise CorpusError(f"{self._where}:{number}: not valid JSON ({one_line(exc)})") from None
                    if not isinstance(record, dict):
                        raise CorpusError(f"{self._where}:{number}: expected a JSON object per line")
                    if "\\u" in text:
                        record = self._no_surrogates(record)
                    yield self._take_text(record, f"{self._where}:{number}")
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
                    raise CorpusError(f"{self._where}: no column '{shown(self.text_field)}' (columns: "
                                      f"{_names(reader.fieldnames)}); use --text-field")
                # Cells beyond the header (a ragged row) are kept as a JSON list in a column
                # "None" (csv's restkey), or "None_2", ... when the header has a "None" column.
                extra = next(name for name in itertools.chain(["None"], (f"None_{i}" for i in itertools.count(2)))
                             if name not in reader.fieldnames)
                for number, record in enumerate(reader, start=2):
                    if None in record:
                        record[extra] = record.pop(None)
                    yield self._take_text(dict(record), f"{self._where}:{number}")
        yield from self._batches_of_records(records())

    def _read_parquet(self):
        # A damaged file fails on open or on any batch; a column name that is not UTF-8 as a
        # UnicodeDecodeError (pyarrow decodes the names of the footer's schema).
        unreadable = (pa.ArrowException, OSError, UnicodeDecodeError)
        # An open file, not the path: pyarrow takes a path as UTF-8 text, and a file name that is
        # not UTF-8 (any bytes are a valid name) raised UnicodeEncodeError.
        try:
            handle = open(self.path, "rb")  # closed when the generator ends
        except OSError as exc:
            raise CorpusError(f"{self._where}: not a readable Parquet file ({one_line(exc)})") from None
        try:
            yield from self._parquet_batches(handle, unreadable)
        finally:
            handle.close()

    def _parquet_batches(self, handle, unreadable):
        try:
            parquet = pq.ParquetFile(handle)
            names = parquet.schema_arrow.names
        except unreadable as exc:
            raise CorpusError(f"{self._where}: not a readable Parquet file ({one_line(exc)})") from None
        if self.text_field not in names:
            raise CorpusError(f"{self._where}: no column '{shown(self.text_field)}' (columns: "
                              f"{_names(names)}); use --text-field")
        # The outcome of the jsonl and csv readers: of columns sharing a name the last one counts,
        # the text field replaces a column 'text', and 'row' becomes 'input_row' (replacing one).
        last = {name: i for i, name in enumerate(names)}
        text_at = last[self.text_field]
        renamed = "row" in last and self.text_field != "row"
        keep = sorted(i for name, i in last.items()
                      if name not in ("text", self.text_field) and not (name == "input_row" and renamed))
        out_names = ["row"] + ["input_row" if names[i] == "row" else names[i] for i in keep] + ["text"]
        batches = parquet.iter_batches(batch_size=self.batch_rows)
        row = 0
        while True:
            try:
                batch = next(batches, None)
            except unreadable as exc:
                raise CorpusError(f"{self._where}: not a readable Parquet file ({one_line(exc)})") from None
            if batch is None:
                return
            texts = batch.column(text_at)
            if not pa.types.is_string(texts.type) and not pa.types.is_large_string(texts.type):
                raise CorpusError(f"{self._where}: column '{shown(self.text_field)}' is {texts.type}, "
                                  "expected strings")
            texts = pc.fill_null(self._valid_utf8(texts, self.text_field), "").cast(pa.string())
            rows = pa.array(range(row, row + batch.num_rows), pa.int64())
            row += batch.num_rows
            yield pa.Table.from_arrays([rows] + [self._valid_utf8(batch.column(i), names[i]) for i in keep] + [texts],
                                       names=out_names)

    def _valid_utf8(self, array: pa.Array, name: str) -> pa.Array:
        """A column as it is, or with the invalid UTF-8 of its strings (Parquet files from other
        writers, or damaged ones, can hold some), top-level or nested in lists, structs and maps,
        replaced by U+FFFD, as the other readers do."""
        twin = _binary_twin(array.type)
        if twin is None:  # no string in it
            return array
        try:
            array.validate(full=True)
            return array
        except pa.ArrowInvalid:
            pass
        try:
            values = array.cast(twin).to_pylist()
            return pa.array([self._decoded(value, array.type) for value in values], array.type)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise CorpusError(f"{self._where}: column '{shown(name)}' is damaged ({one_line(exc)})") from None

    def _decoded(self, value, kind: pa.DataType):
        """``value`` (from a column of type ``kind`` cast to its binary twin) with its strings decoded."""
        if value is None:
            return None
        if kind in _STRING_TYPES:
            return self._decode(value)
        if pa.types.is_struct(kind):
            return {kind.field(i).name: self._decoded(value[kind.field(i).name], kind.field(i).type)
                    for i in range(kind.num_fields)}
        if pa.types.is_map(kind):
            return [(self._decoded(k, kind.key_type), self._decoded(v, kind.item_type)) for k, v in value]
        if _is_list(kind):
            return [self._decoded(item, kind.value_type) for item in value]
        return value

    def _take_text(self, record: dict, where: str) -> dict:
        if self.text_field not in record:
            raise CorpusError(f"{where}: no field '{shown(self.text_field)}' (fields: "
                              f"{_names(record)}); use --text-field")
        text = record.pop(self.text_field)
        if text is None:
            text = ""
        elif not isinstance(text, str):
            raise CorpusError(f"{where}: field '{shown(self.text_field)}' is {type(text).__name__}, expected a string")
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
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # OverflowError: an int beyond 64 bits
        return pa.table({k: (v if k in ("row", "text") else [None if x is None else str(x) for x in v])
                         for k, v in columns.items()})


def decode_utf8(raw: bytes) -> tuple[str, int]:
    """``raw`` as text, invalid UTF-8 replaced by U+FFFD, and how many were replaced."""
    try:
        return raw.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        return text, text.count("\ufffd")


def file_fingerprint(path: Path) -> dict:
    import hashlib

    stat = path.stat()
    with open(path, "rb") as handle:
        head = hashlib.blake2b(handle.read(1 << 20), digest_size=16).hexdigest()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_blake2b": head}


def read_texts(paths, text_field: str = "text") -> list[str]:
    """All texts of the given files or folders, in order (for corpora that fit in memory)."""
    from lexdense.io.folder import open_corpus

    texts: list[str] = []
    for path in paths:
        for table in open_corpus(path, text_field=text_field):
            texts.extend(table.column("text").to_pylist())
    return texts
