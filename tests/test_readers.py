import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexdense.io.readers import CorpusError, Reader, read_texts


def collect(path, **kwargs):
    tables = list(Reader(path, **kwargs))
    return pa.concat_tables(tables) if tables else None


def test_txt_one_document_per_line_with_invalid_utf8(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"first line\r\nbad \xff\xfe bytes\n\nlast")
    reader = Reader(path)
    table = pa.concat_tables(list(reader))
    assert table.column("text").to_pylist() == ["first line", "bad \ufffd\ufffd bytes", "", "last"]
    assert table.column("row").to_pylist() == [0, 1, 2, 3]
    assert reader.replaced_bytes == 2


def test_jsonl_keeps_metadata_and_nested_values_as_json(tmp_path):
    path = tmp_path / "c.jsonl"
    lines = [{"id": "a", "body": "x", "tags": ["p", "q"]}, {"id": "b", "body": None, "tags": None}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    table = collect(path, text_field="body")
    assert table.column("text").to_pylist() == ["x", ""]
    assert table.column("id").to_pylist() == ["a", "b"]
    assert table.column("tags").to_pylist() == ['["p", "q"]', None]


def test_csv_and_parquet(tmp_path):
    csv_path = tmp_path / "c.csv"
    csv_path.write_text('id,text\n1,"hello, world"\n2,"multi\nline"\n')
    table = collect(csv_path)
    assert table.column("text").to_pylist() == ["hello, world", "multi\nline"]
    parquet_path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"doc": ["a", None, "c"], "year": [1, 2, 3]}), parquet_path)
    table = collect(parquet_path, text_field="doc", batch_rows=2)
    assert table.column("text").to_pylist() == ["a", "", "c"]
    assert table.column("row").to_pylist() == [0, 1, 2]
    assert table.column("year").to_pylist() == [1, 2, 3]


@pytest.mark.parametrize("name, content, kwargs, message", [
    ("c.jsonl", b'{"text": "ok"}\n{broken\n', {}, r"c.jsonl:2: not valid JSON"),
    ("c.jsonl", b'{"body": "ok"}\n', {}, r"no field 'text' \(fields: body\); use --text-field"),
    ("c.jsonl", b'[1, 2]\n', {}, "expected a JSON object per line"),
    ("c.jsonl", b'{"text": 5}\n', {}, "field 'text' is int, expected a string"),
    ("c.csv", b"a,b\n1,2\n", {}, r"no column 'text' \(columns: a, b\)"),
    ("c.parquet", b"this is not parquet", {}, "not a readable Parquet file"),
    ("c.docx", b"", {}, "unknown input format '.docx'"),
])
def test_bad_inputs_are_named(tmp_path, name, content, kwargs, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        list(Reader(path, **kwargs))


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        Reader(tmp_path / "nope.txt")
    for name in ("e.txt", "e.jsonl", "e.csv"):
        (tmp_path / name).write_bytes(b"")
        assert list(Reader(tmp_path / name)) == []


def test_batches_are_bounded_by_bytes(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("\n".join("x" * 1000 for _ in range(50)))
    tables = list(Reader(path, batch_rows=1000, batch_bytes=10_000))
    assert len(tables) == 5 and all(t.num_rows == 10 for t in tables)


line_text = st.text(alphabet=st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=40)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(line_text, min_size=1, max_size=20))
def test_txt_and_jsonl_roundtrip(tmp_path, texts):
    txt = tmp_path / "r.txt"
    txt.write_text("\n".join(texts), encoding="utf-8")
    # A txt file cannot tell a trailing empty line from none; every other line survives.
    assert read_texts([txt]) == texts or (texts[-1] == "" and read_texts([txt]) == texts[:-1])
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text("\n".join(json.dumps({"text": t}) for t in texts), encoding="utf-8")
    assert read_texts([jsonl]) == texts


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_any_bytes_read_as_txt_without_crashing(tmp_path, data):
    path = tmp_path / "b.txt"
    path.write_bytes(data)
    texts = read_texts([path])
    assert all(isinstance(t, str) for t in texts)
    # Lines end at b"\n" only (a lone b"\r" is text); a final newline ends the last line.
    expected = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
    assert len(texts) == expected
