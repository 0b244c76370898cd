import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lexdense import LexDense
from lexdense.cli import app
from lexdense.io.embed_job import embed_file

runner = CliRunner()


def write_jsonl(path, n, prefix="doc"):
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"{prefix}{i}", "body": f"the cat {i} sat on the mat {i % 7}",
                                     "lang": "en"}) + "\n")
    return path


def test_embed_jsonl_keeps_ids_and_matches_encode(tmp_path, tiny_model_dir):
    source = write_jsonl(tmp_path / "in.jsonl", 25)
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["embed", str(source), "--out", str(out), "--model", str(tiny_model_dir),
                                 "--text-field", "body", "--batch-rows", "10"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column_names == ["row", "id", "lang", "embedding"]
    assert table.column("id").to_pylist() == [f"doc{i}" for i in range(25)]
    vectors = np.asarray(table.column("embedding").to_pylist(), dtype=np.float32)
    model = LexDense.load(tiny_model_dir)
    expected = model.encode([f"the cat {i} sat on the mat {i % 7}" for i in range(25)])
    np.testing.assert_allclose(vectors, expected, rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "out.parquet.parts").exists()


def test_embed_int8_and_truncate(tmp_path, tiny_model_dir):
    source = tmp_path / "in.txt"
    source.write_text("the cat\nnew york city\n\n")
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["embed", str(source), "-o", str(out), "-m", str(tiny_model_dir),
                                 "--precision", "int8", "--truncate-dim", "8", "--keep-text"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    kind = table.schema.field("embedding").type
    assert kind.list_size == 8 and str(kind.value_type) == "int8"
    assert table.column("text").to_pylist() == ["the cat", "new york city", ""]


@pytest.mark.parametrize("args, message", [
    (["--precision", "float16"], "unknown precision 'float16'"),
    (["--truncate-dim", "9999"], "truncate_dim must be an int in 1..24"),
    (["--batch-rows", "0"], "batch_rows must be a positive int"),
    (["--text-field", "nope"], "no field 'nope'"),
    (["--model", "/no/such/model"], "no model directory"),
])
def test_bad_options_give_one_line(tmp_path, tiny_model_dir, args, message):
    source = write_jsonl(tmp_path / "in.jsonl", 3)
    base = ["embed", str(source), "-o", str(tmp_path / "o.parquet")]
    if "--model" not in args:
        base += ["-m", str(tiny_model_dir)]
    result = runner.invoke(app, base + (args if "--text-field" in args else args + ["--text-field", "body"]))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.parquet").exists()
    assert not (tmp_path / "o.parquet.parts").exists()


def test_unknown_option_and_wrong_format(tmp_path, tiny_model_dir):
    result = runner.invoke(app, ["embed", "x.txt", "-o", "y.parquet", "--colour"])
    assert result.exit_code == 2 and "No such option" in result.output
    bad = tmp_path / "in.parquet"
    bad.write_text("not parquet at all")
    result = runner.invoke(app, ["embed", str(bad), "-o", str(tmp_path / "o.parquet"), "-m", str(tiny_model_dir)])
    assert result.exit_code == 2 and "not a readable Parquet file" in result.output


def test_empty_input_gives_empty_output(tmp_path, tiny_model_dir):
    source = tmp_path / "empty.txt"
    source.write_bytes(b"")
    out = tmp_path / "o.parquet"
    result = runner.invoke(app, ["embed", str(source), "-o", str(out), "-m", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 0


def test_resume_finishes_without_duplicates(tmp_path, tiny_model):
    source = write_jsonl(tmp_path / "in.jsonl", 100)
    out = tmp_path / "out.parquet"

    class Boom(RuntimeError):
        pass

    calls = {"n": 0}

    def crash_after_three(docs, size):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Boom

    with pytest.raises(Boom):
        embed_file(tiny_model, source, out, text_field="body", batch_rows=10, on_batch=crash_after_three)
    assert not out.exists()
    assert len(list((tmp_path / "out.parquet.parts").glob("part-*.parquet"))) == 3
    stats = embed_file(tiny_model, source, out, text_field="body", batch_rows=10, resume=True)
    assert stats.resumed_documents == 30 and stats.documents == 70
    table = pq.read_table(out)
    assert table.column("row").to_pylist() == list(range(100))
    assert table.column("id").to_pylist() == [f"doc{i}" for i in range(100)]


def test_worker_processes_embed_a_file_like_one_process(tmp_path, tiny_model_dir):
    tiny_model = LexDense.load(tiny_model_dir)  # spawned workers load it from its directory
    source = write_jsonl(tmp_path / "in.jsonl", 500)
    one = embed_file(tiny_model, source, tmp_path / "one.parquet", text_field="body", batch_rows=64)
    two = embed_file(tiny_model, source, tmp_path / "two.parquet", text_field="body", batch_rows=64, workers=2)
    assert one.documents == two.documents == 500 and one.bytes == two.bytes
    a, b = pq.read_table(tmp_path / "one.parquet"), pq.read_table(tmp_path / "two.parquet")
    assert b.column("row").to_pylist() == list(range(500)) and a.column("id") == b.column("id")
    np.testing.assert_allclose(np.stack(a.column("embedding").to_numpy(zero_copy_only=False)),
                               np.stack(b.column("embedding").to_numpy(zero_copy_only=False)), atol=1e-6)
    assert not (tmp_path / "two.parquet.parts").exists()


def _killed_job(tmp_path, tiny_model, n=30):
    """An embed job of ``n`` records that died after its first batch: (input, output)."""
    source = write_jsonl(tmp_path / "in.jsonl", n)
    out = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError):
        embed_file(tiny_model, source, out, text_field="body", batch_rows=10,
                   on_batch=lambda d, s: (_ for _ in ()).throw(RuntimeError()))
    return source, out


def test_resume_refuses_other_settings(tmp_path, tiny_model):
    source, out = _killed_job(tmp_path, tiny_model)
    with pytest.raises(ValueError, match="other settings"):
        embed_file(tiny_model, source, out, text_field="body", batch_rows=10, precision="int8", resume=True)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode("utf-8", "replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_then_resume(tmp_path, tiny_model_dir, workers):
    """A real SIGKILL mid-run: restart with --resume, every row exactly once."""
    source = write_jsonl(tmp_path / "in.jsonl", 20000)
    out = tmp_path / "out.parquet"
    command = [sys.executable, "-m", "lexdense.cli", "embed", str(source), "-o", str(out), "-m",
               str(tiny_model_dir), "--text-field", "body", "--batch-rows", "200", "--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = tmp_path / "out.parquet.parts"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(parts.glob("part-*.parquet"))) < 5:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # Its workers die with it (they would otherwise live on, holding memory and the lock).
    deadline = time.time() + 10
    while time.time() < deadline and _processes_mentioning(str(source)):
        time.sleep(0.1)
    assert not _processes_mentioning(str(source))
    finished_before = len(list(parts.glob("part-*.parquet")))
    assert not out.exists() and 5 <= finished_before < 100
    subprocess.run(command + ["--resume"], check=True, capture_output=True)
    rows = pq.read_table(out, columns=["row"]).column("row").to_pylist()
    assert rows == list(range(20000))


def test_demo_runs_without_the_teacher(capsys):
    from lexdense.demo import run

    rows = run("lexdense-base", teacher_docs=100, with_teacher=False)
    assert 0.5 < rows["lexdense-base"]["ndcg@10"] <= 1.0
    assert "query: central bank raises interest rates" in capsys.readouterr().out


@pytest.mark.parametrize("workers", [1, 2])
def test_metadata_types_that_change_between_batches_are_unified(tmp_path, tiny_model_dir, workers):
    """A field that is null in the first batches and text later: the output column is text."""
    model = LexDense.load(tiny_model_dir)
    source = tmp_path / "in.jsonl"
    rows = [{"body": f"apple banana text {i}", "source": None if i < 25 else f"site{i}"} for i in range(60)]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    embed_file(model, source, tmp_path / "out.parquet", text_field="body", batch_rows=10, workers=workers)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("row").to_pylist() == list(range(60))
    assert table.column("source").to_pylist() == [r["source"] for r in rows]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.parquet", "tiny"]  # no temp left


def test_resume_refuses_an_input_changed_since_the_kill(tmp_path, tiny_model):
    source, out = _killed_job(tmp_path, tiny_model)
    # One record inserted at the top: every finished part now holds the wrong rows.
    source.write_text('{"id": "new", "body": "an inserted record"}\n' + source.read_text())
    with pytest.raises(ValueError, match="changed since the killed run"):
        embed_file(tiny_model, source, out, text_field="body", batch_rows=10, resume=True)
    stats = embed_file(tiny_model, source, out, text_field="body", batch_rows=10)  # a fresh run is fine
    assert stats.documents == 31 and pq.read_table(out).column("id").to_pylist()[0] == "new"


def test_a_parts_directory_lexdense_did_not_leave_is_not_deleted(tmp_path, tiny_model):
    source = write_jsonl(tmp_path / "in.jsonl", 5)
    foreign = tmp_path / "out.parquet.parts"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not left by a lexdense embed job"):
        embed_file(tiny_model, source, tmp_path / "out.parquet", text_field="body")
    assert (foreign / "notes.txt").read_text() == "mine"
