"""Stack tables (batches, parts, shards) under one schema: the rule of every stacking in lexdense.

A field takes the type pyarrow promotes its types to; a field whose types have no common type
is text in every table (:func:`stacked_schema`), so an outcome never depends on where batch
boundaries fall.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """Tables stacked row-wise under :func:`stacked_schema`'s rule, keeping the row count of
    tables that have no column at all: pyarrow's own concat gives 0 rows for those, and a
    text-only corpus has no metadata column."""
    if not tables:
        return pa.table({})
    n_rows = sum(t.num_rows for t in tables)
    if all(t.num_columns == 0 for t in tables):
        return pa.table({"_": pa.nulls(n_rows)}).drop_columns(["_"])
    schema, widened = stacked_schema([t.schema for t in tables], lambda i, names: tables[i].select(names))
    return pa.concat_tables([conform(table, schema, widened) for table in tables])


_UNCASTABLE = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def stacked_schema(schemas: list[pa.Schema], columns_of=None) -> tuple[pa.Schema, set[str]]:
    """The one schema that tables (batches, parts) with ``schemas`` are stacked under, and
    the fields widened to text; :func:`conform` brings each table to it.

    The rule, the same wherever tables are stacked (an index, an embed output's parts): a field
    takes the type pyarrow promotes its types to (a field all null in one table takes the
    others' type, int32 and int64 give int64, int and float give float); a field whose types
    have no common type (int in one batch, text or a list in another) is text in every table,
    JSON for what cannot be cast to text (:func:`as_text`). So the outcome never depends on
    where batch boundaries fall. ``columns_of(i, names)``, where given, returns those columns
    of the i-th table: a field whose values do not fit the promoted type (an integer beyond
    2**53 among floats) is then text too, as it is within one batch.
    """
    if not schemas:
        return pa.schema([]), set()
    types: dict[str, list[pa.DataType]] = {}
    for schema in schemas:
        for field in schema:
            types.setdefault(field.name, []).append(field.type)
    widened = set()
    for name, kinds in types.items():
        try:
            pa.unify_schemas([pa.schema([pa.field(name, kind)]) for kind in kinds], promote_options="permissive")
        except _UNCASTABLE:
            widened.add(name)
    while True:
        unified = pa.unify_schemas([_widen(schema, widened) for schema in schemas], promote_options="permissive")
        unified = pa.schema([field.with_nullable(True) for field in unified],  # a table may lack the field
                            metadata=unified.metadata)
        if columns_of is None:
            return unified, widened
        misfits = set()
        for i, schema in enumerate(schemas):
            promoted = [f.name for f in _widen(schema, widened)
                        if f.name not in widened and f.type != unified.field(f.name).type]
            if promoted:
                columns = columns_of(i, promoted)
                for name in promoted:
                    try:
                        columns.column(name).cast(unified.field(name).type)
                    except _UNCASTABLE:
                        misfits.add(name)
        if not misfits:
            return unified, widened
        widened |= misfits


def _widen(schema: pa.Schema, widened: set[str]) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string()) if f.name in widened else f for f in schema])


def conform(table: pa.Table, schema: pa.Schema, widened: set[str]) -> pa.Table:
    """``table`` under ``schema`` (from :func:`stacked_schema`): fields in ``widened`` as text,
    the fields it lacks as nulls, in the schema's order."""
    for name in widened & set(table.column_names):
        table = table.set_column(table.column_names.index(name), name, as_text(table.column(name)))
    for field in schema:
        if field.name not in table.column_names:
            table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
    return table.select(schema.names).cast(schema)


def as_text(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A column as text: cast where Arrow can (numbers, booleans, dates, UTF-8 binary), JSON
    for the rest (lists, structs, maps, other bytes); nulls stay null."""
    try:
        return pc.cast(column, pa.string())
    except _UNCASTABLE:
        return pa.array([None if v is None else json.dumps(v, default=str) for v in column.to_pylist()], pa.string())
