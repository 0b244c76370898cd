"""Merge Parquet part files (the batches of a streaming job) into one output, atomically.

Parts may differ in schema (a field all null in one part, int in one and text in another, a
column only some batches have: the files of a folder): one schema for all is decided before
any row is written, by the rule of every stacking in lexdense (:func:`~lexdense.io.tables.stacked_schema`).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lexdense.errors import InputError
from lexdense.io.atomic import atomic_file
from lexdense.io.tables import conform, stacked_schema


def merge_parts(parts: list[Path], out: Path, empty_schema: pa.Schema, *, fixed: tuple[str, ...] = (),
                last: tuple[str, ...] = (), rename: dict[str, str] | None = None,
                metadata: dict | None = None) -> pa.Schema:
    """Write ``parts`` one after another into ``out`` (atomically) under one schema; returns it.

    Parameters
    ----------
    empty_schema
        the schema written when there is no part (an input without records).
    fixed
        columns whose type must be the same in every part (vectors, probabilities):
        widening one of them to text is an error, not a silent change.
    last
        columns moved after the others (results after the input's columns, whatever
        columns the first part lacked).
    rename
        new names of columns, applied last.
    metadata
        the written schema's metadata.
    """
    schema, widened = stacked_schema([pq.read_schema(part) for part in parts],
                                     lambda i, names: pq.read_table(parts[i]).select(names))
    mixed = [name for name in fixed if name in widened]
    if mixed:
        raise InputError(f"{parts[0].parent}: parts hold '{mixed[0]}' columns of different types; rerun without --resume")
    order = [name for name in schema.names if name not in last] + [name for name in last if name in schema.names]
    schema = pa.schema([schema.field(name) for name in order])
    written = pa.schema([field.with_name((rename or {}).get(field.name, field.name)) for field in schema],
                        metadata=metadata)
    with atomic_file(out, suffix=".parquet") as tmp:
        if not parts:  # no input record: the schema a non-empty input would have had
            pq.write_table(empty_schema.empty_table(), tmp)
            return empty_schema
        with pq.ParquetWriter(tmp, written) as writer:
            for part in parts:
                table = conform(pq.read_table(part), schema, widened)
                writer.write_table(pa.Table.from_arrays(table.columns, schema=written))
    return written
