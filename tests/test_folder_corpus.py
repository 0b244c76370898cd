"""A folder of documents is a corpus: every command that reads a corpus takes a folder (or a glob
pattern), each text file one document with its relative path as ``id``; binary files are
skipped and counted; result columns never replace the input's."""

import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lexdense import LexDense
from lexdense.io.folder import FolderCorpus, open_corpus
from lexdense.io.readers import CorpusError

runner = CliRunner()
WORDS = ["the cat sat on the mat", "the dog sat on the cat", "stock market fell in new york",
         "new york city stock market", "the mat of the dog"]


@pytest.fixture
def docs(tmp_path):
    """40 text documents in nested folders, a binary file, invalid UTF-8, a hidden folder."""
    root = tmp_path / "docs"
    for i in range(40):
        folder = root / ("notes" if i % 2 else "reports/2024")
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".md" if i % 3 == 0 else ".txt"
        (folder / f"doc{i:02d}{suffix}").write_text(f"{WORDS[i % 5]} {i}\n{WORDS[(i + 1) % 5]}\n")
    (root / "notes" / "latin1.txt").write_bytes(b"caf\xe9 on the mat\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    return root


def ids_of(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.suffix != ".png" and ".git" not in p.parts)


def test_each_text_file_is_one_document_with_its_relative_path(docs):
    corpus = open_corpus(docs)
    rows = [r for table in corpus for r in table.to_pylist()]
    assert [r["id"] for r in rows] == ids_of(docs)
    assert [r["row"] for r in rows] == list(range(41))
    assert next(r for r in rows if r["id"] == "notes/doc01.txt")["text"] == f"{WORDS[1]} 1\n{WORDS[2]}\n"
    assert next(r for r in rows if r["id"] == "notes/latin1.txt")["text"] == "caf\ufffd on the mat\n"
    assert corpus.replaced_bytes == 1
    assert corpus.summary() == f"read 42 files under {docs}: 41 documents, 1 binary skipped, 1 hidden skipped"


def test_record_files_keep_their_rule_and_columns_and_lines_is_explicit(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "a.txt").write_text("line one\nline two\n")
    (root / "b.jsonl").write_text(json.dumps({"text": "x", "path": "mine", "id": 7}) + "\n"
                                  + json.dumps({"text": "y", "id": 8}) + "\n")
    rows = [r for t in open_corpus(root) for r in t.to_pylist()]
    assert [(r["text"], r.get("id"), r.get("record")) for r in rows] == [
        ("line one\nline two\n", "a.txt", None), ("x", 7, 0), ("y", 8, 1)]
    assert rows[1]["path"] == "mine" and rows[1]["lexdense_path"] == "b.jsonl"  # the file's own column is kept
    lines = [r for t in open_corpus(root, lines=True) for r in t.to_pylist()]
    assert [(r["text"], r["path"], r["record"]) for r in lines[:2]] == [("line one", "a.txt", 0),
                                                                        ("line two", "a.txt", 1)]


def test_glob_patterns_symlink_loops_and_empty_folders(docs, tmp_path):
    rows = [r for t in open_corpus(str(docs / "**" / "*.md")) for r in t.to_pylist()]
    assert [r["id"] for r in rows] == [i for i in ids_of(docs) if i.endswith(".md")]
    os.symlink("..", docs / "notes" / "loop")
    looped = FolderCorpus(docs)
    assert len([r for t in looped for r in t.to_pylist()]) == 41 and "1 symlink loop skipped" in looped.summary()
    os.symlink("nowhere", docs / "broken.txt")  # unreadable: skipped, counted and named
    broken = open_corpus(docs)
    assert sum(t.num_rows for t in broken) == 41
    assert "1 unreadable skipped (first: broken.txt (No such file or directory))" in broken.summary()
    os.mkfifo(docs / "pipe.txt")  # never opened: reading a FIFO could block forever
    (docs / "caf\udce9.txt").write_bytes(b"a file name that is not UTF-8")  # os.fsencode gives byte 0xe9
    named = [r["id"] for t in open_corpus(docs) for r in t.to_pylist()]
    assert "caf\ufffd.txt" in named and "pipe.txt" not in named
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no files to read: an empty folder"):
        open_corpus(tmp_path / "empty")
    with pytest.raises(CorpusError, match="the pattern matches nothing"):
        open_corpus(str(docs / "*.pdf"))
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "a.bin").write_bytes(b"\0\1\2")
    with pytest.raises(CorpusError, match=r"no documents \(read 1 files .*1 binary skipped"):
        list(open_corpus(tmp_path / "binary"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_skipped_and_named(docs):
    locked = docs / "notes" / "doc01.txt"
    locked.chmod(0)
    try:
        corpus = open_corpus(docs)
        assert sum(t.num_rows for t in corpus) == 40
        assert "1 unreadable skipped (first: notes/doc01.txt (Permission denied))" in corpus.summary()
    finally:
        locked.chmod(0o644)


def test_embed_a_folder_keeps_paths_as_ids_and_never_truncates(docs, tiny_model_dir, tmp_path):
    from lexdense.cli import app

    long = "the cat sat on the mat " * 10_000 + "stock market fell in new york " * 10_000  # 1.2 MB, 120k words
    (docs / "long.txt").write_text(long)
    out = tmp_path / "vectors.parquet"
    result = runner.invoke(app, ["embed", str(docs), "-o", str(out), "-m", str(tiny_model_dir), "--batch-rows", "7"])
    assert result.exit_code == 0, result.output
    assert "42 documents, 1 binary skipped, 1 hidden skipped" in result.output
    table = pq.read_table(out)
    assert table.column_names == ["row", "id", "embedding"]
    assert table.column("id").to_pylist() == ids_of(docs)
    model = LexDense.load(tiny_model_dir)
    at = table.column("id").to_pylist().index("long.txt")
    np.testing.assert_allclose(table.column("embedding")[at].as_py(), model.encode(long), rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.encode(long), model.encode(long[:230_000]), atol=1e-2)  # its second half counts
    # A folder's output is one Parquet file; the shard mode is explicit, never guessed.
    refused = runner.invoke(app, ["embed", str(docs), "-o", str(tmp_path / "v"), "-m", str(tiny_model_dir)])
    assert refused.exit_code == 2 and "--shards" in refused.output
    inside = runner.invoke(app, ["embed", str(docs), "-o", str(docs / "v.parquet"), "-m", str(tiny_model_dir)])
    assert inside.exit_code == 2 and "inside the input folder" in inside.output


def test_embed_shards_mode_maps_files_to_files(tmp_path, tiny_model_dir):
    from lexdense.cli import app

    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.txt").write_text("the cat\nthe dog\n")
    (shards / "b.jsonl").write_text(json.dumps({"text": "stock market"}) + "\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["embed", str(shards), "-o", str(out), "-m", str(tiny_model_dir), "--shards"])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out / "a.parquet").num_rows == 2 and pq.read_table(out / "b.parquet").num_rows == 1


@pytest.mark.parametrize("command", [["index"], ["dedup"], ["topics", "--label", "pets=cat,dog", "--label",
                                                             "money=stock,market"], ["anomalies"],
                                     ["discover", "--reducer", "pca", "--min-cluster-size", "5"]])
def test_every_corpus_command_reads_a_folder(docs, tiny_model_dir, tmp_path, command):
    from lexdense.cli import app

    out = tmp_path / ("index" if command[0] == "index" else "out.parquet")
    result = runner.invoke(app, [command[0], str(docs), "-o", str(out), "-m", str(tiny_model_dir), *command[1:]])
    assert result.exit_code == 0, result.output
    assert f"read 42 files under {docs}: 41 documents, 1 binary skipped" in " ".join(result.output.split())
    if command[0] == "index":
        from lexdense.search import SearchIndex

        assert sorted(SearchIndex.load(out).table.column("id").to_pylist()) == ids_of(docs)
    else:
        assert pq.read_table(out).column("id").to_pylist() == ids_of(docs)


def test_results_never_replace_input_columns(tmp_path, tiny_model_dir):
    from lexdense.cli import app

    corpus = tmp_path / "in.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"{WORDS[i % 5]} {i}", "is_anomaly": i % 2, "group": "mine"})
                              + "\n" for i in range(30)))
    out = tmp_path / "scores.parquet"
    result = runner.invoke(app, ["anomalies", str(corpus), "-o", str(out), "-m", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column("is_anomaly").to_pylist() == [i % 2 for i in range(30)]  # the user's labels, kept
    assert table.column("lexdense_is_anomaly").type == "bool" and "lexdense_is_anomaly" in result.output
    dedup = runner.invoke(app, ["dedup", str(corpus), "-o", str(out), "-m", str(tiny_model_dir)])
    assert dedup.exit_code == 0, dedup.output
    table = pq.read_table(out)
    assert table.column("group").to_pylist() == ["mine"] * 30 and "lexdense_group" in table.column_names
