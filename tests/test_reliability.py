"""Users' data is sacred: faults of issue 12, each with a test that failed before its fix."""

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lexdense.cli import app
from lexdense.io.atomic import OutputExistsError, atomic_directory
from lexdense.model import LexDense

LINES = [f"the cat number {i} sat on the mat" for i in range(20)] + \
        [f"stock market {i} fell sharply as traders sold shares" for i in range(20)]


@pytest.fixture()
def text_only(tmp_path):
    path = tmp_path / "some.txt"
    path.write_text("\n".join(LINES) + "\n")
    return path


@pytest.mark.parametrize("command", [
    ["dedup"], ["anomalies"], ["topics", "--keywords", "KW"], ["discover", "--n-topics", "2"]])
def test_text_only_corpus_runs_every_workflow(tmp_path, text_only, command):
    """Joining metadata tables with no columns gave 0 rows (pyarrow), so every workflow that
    kept metadata failed on a plain .txt file."""
    keywords = tmp_path / "kw.json"
    keywords.write_text(json.dumps({"animals": ["cat"], "markets": ["stocks"]}))
    out = tmp_path / "out.parquet"
    args = [a if a != "KW" else str(keywords) for a in command]
    result = CliRunner().invoke(app, [args[0], str(text_only), "--out", str(out), *args[1:]])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == len(LINES)


def test_an_output_directory_lexdense_did_not_write_is_never_deleted(tmp_path):
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "holiday.jpg").write_bytes(b"\xff\xd8 not a model")
    model = LexDense.load("lexdense-base")
    with pytest.raises(OutputExistsError, match="did not write"):
        model.save(precious)
    assert (precious / "holiday.jpg").read_bytes() == b"\xff\xd8 not a model"
    model.save(precious, overwrite=True)  # asked for in so many words
    assert (precious / "config.json").is_file() and not (precious / "holiday.jpg").exists()


def test_an_earlier_output_of_the_same_kind_is_replaced_and_another_kind_refused(tmp_path):
    target = tmp_path / "m"
    with atomic_directory(target, "model") as tmp:
        (tmp / "a").write_text("1")
    with atomic_directory(target, "model") as tmp:  # an earlier model: replaced
        (tmp / "a").write_text("2")
    assert (target / "a").read_text() == "2"
    with pytest.raises(OutputExistsError, match="holds a lexdense model output, not a classifier"):
        with atomic_directory(target, "classifier"):
            pass
    assert (target / "a").read_text() == "2"
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_directory(empty, "model") as tmp:  # an empty directory holds nothing to lose
        (tmp / "a").write_text("3")
    assert (empty / "a").read_text() == "3"


def test_classify_train_refuses_a_foreign_directory_before_any_work(tmp_path):
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": "cat" if "cat" in t else "stock"}) + "\n" for t in LINES))
    precious = tmp_path / "results"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = CliRunner().invoke(app, ["classify", "train", str(data), "--out", str(precious)])
    assert result.exit_code != 0 and "did not write" in result.output and "Traceback" not in result.output
    assert (precious / "thesis.tex").read_text() == "years of work"
    ok = CliRunner().invoke(app, ["classify", "train", str(data), "--out", str(tmp_path / "clf")])
    assert ok.exit_code == 0, ok.output
    again = CliRunner().invoke(app, ["classify", "train", str(data), "--out", str(tmp_path / "clf")])
    assert again.exit_code == 0, again.output  # its own earlier output is replaced


def test_a_legacy_model_directory_without_marker_is_recognised(tmp_path):
    model = LexDense.load("lexdense-base")
    path = model.save(tmp_path / "old")
    (path / ".lexdense-output").unlink()  # as written before markers existed
    model.save(path)
    assert LexDense.load(path).dim == model.dim


def _jsonl(path, n=40):
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(LINES[:n])))
    return path


@pytest.mark.parametrize("command", [["embed"], ["dedup"], ["classify", "predict", "--classifier", "CLF"],
                                     ["index"]])
def test_the_input_is_never_the_output(tmp_path, command):
    data = _jsonl(tmp_path / "same.jsonl")
    before = data.read_bytes()
    args = [a if a != "CLF" else str(tmp_path / "clf") for a in command]
    if "predict" in command:
        train = CliRunner().invoke(app, ["classify", "train", str(_labelled(tmp_path)), "--out", str(tmp_path / "clf")])
        assert train.exit_code == 0, train.output
    head, rest = (args[:2], args[2:]) if args[0] == "classify" else (args[:1], args[1:])
    result = CliRunner().invoke(app, [*head, str(data), "--out", str(data), *rest])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "input" in result.output or "not an index directory" in result.output, result.output
    assert data.read_bytes() == before


def _labelled(tmp_path):
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": "cat" if "cat" in t else "stock"}) + "\n" for t in LINES))
    return path


def test_a_symlinked_output_is_written_through_to_its_target(tmp_path):
    data = _jsonl(tmp_path / "in.jsonl")
    real = tmp_path / "real" / "out.parquet"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.parquet"
    link.symlink_to(real)
    result = CliRunner().invoke(app, ["dedup", str(data), "--out", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and pq.read_table(real).num_rows == 40


def test_fifo_and_device_outputs_are_refused_before_any_work(tmp_path):
    import os

    data = _jsonl(tmp_path / "in.jsonl")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (fifo, "/dev/null", tmp_path):
        result = CliRunner().invoke(app, ["embed", str(data), "--out", str(target)])
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
        assert "regular file" in result.output or "directory" in result.output
    assert fifo.exists() and not fifo.is_file()
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_a_field_missing_from_the_first_record_is_kept(tmp_path):
    from lexdense.io.readers import Reader

    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "first has no id"}\n{"text": "second", "id": "b"}\n{"text": "third", "id": "c", "lang": "en"}\n')
    table = next(iter(Reader(path)))
    assert table.column("id").to_pylist() == [None, "b", "c"]
    assert table.column("lang").to_pylist() == [None, None, "en"]
    out = tmp_path / "v.parquet"
    result = CliRunner().invoke(app, ["embed", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).column("id").to_pylist() == [None, "b", "c"]


def _hold_lock_in_another_process(path, ready, release):
    from lexdense.io.atomic import exclusive_lock

    with exclusive_lock(path):
        ready.set()
        release.wait(30)


@pytest.mark.parametrize("command", [["embed"], ["index"], ["index", "--add"]])
def test_a_second_writer_is_refused_while_the_first_writes(tmp_path, command):
    import multiprocessing

    data = _jsonl(tmp_path / "in.jsonl")
    out = tmp_path / ("out.parquet" if command == ["embed"] else "news.index")
    if "--add" in command:
        first = CliRunner().invoke(app, ["index", str(data), "--out", str(out)])
        assert first.exit_code == 0, first.output
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock_in_another_process, args=(str(out), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        result = CliRunner().invoke(app, [command[0], str(data), "--out", str(out), *command[1:]])
        assert result.exit_code != 0 and "another lexdense process" in result.output, result.output
    finally:
        release.set()
        holder.join(30)
    again = CliRunner().invoke(app, [command[0], str(data), "--out", str(out), *command[1:]])
    assert again.exit_code == 0, again.output  # the lock went with its holder


def test_locks_nest_in_one_process(tmp_path):
    from lexdense.io.atomic import exclusive_lock

    with exclusive_lock(tmp_path / "x"):
        with exclusive_lock(tmp_path / "x"):
            pass
        with atomic_directory(tmp_path / "x", "model") as tmp:
            (tmp / "a").write_text("1")
    assert (tmp_path / "x" / "a").read_text() == "1"


def test_a_field_whose_type_changes_between_batches_is_widened_to_text(tmp_path):
    from lexdense.io.readers import Reader, concat_tables

    path = tmp_path / "mixed.jsonl"
    rows = [{"text": f"document {i} about cats", "n": i if i < 5 else f"id-{i}"} for i in range(10)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tables = list(Reader(path, batch_rows=5))
    assert str(tables[0].schema.field("n").type) != str(tables[1].schema.field("n").type)
    merged = concat_tables(tables)
    assert merged.column("n").to_pylist() == [str(i) for i in range(5)] + [f"id-{i}" for i in range(5, 10)]
    out = tmp_path / "d.parquet"
    result = CliRunner().invoke(app, ["dedup", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 10


def test_re_embedding_an_output_and_clashing_shards_fail_before_any_work(tmp_path):
    data = _jsonl(tmp_path / "in.jsonl", 10)
    first = tmp_path / "v.parquet"
    assert CliRunner().invoke(app, ["embed", str(data), "--out", str(first), "--keep-text"]).exit_code == 0
    again = CliRunner().invoke(app, ["embed", str(first), "--out", str(tmp_path / "v2.parquet")])
    assert again.exit_code != 0 and "already has an 'embedding' column" in again.output
    assert not (tmp_path / "v2.parquet").exists()
    shards = tmp_path / "shards"
    shards.mkdir()
    _jsonl(shards / "a.jsonl", 5)
    (shards / "a.csv").write_text("text\nhello there\n")
    clash = CliRunner().invoke(app, ["embed", str(shards), "--out", str(tmp_path / "vs"), "--shards"])
    assert clash.exit_code != 0 and "would both be written to a.parquet" in clash.output
    assert not (tmp_path / "vs").exists()


def test_a_csv_with_a_byte_order_mark_reads_its_first_column(tmp_path):
    from lexdense.io.readers import Reader

    path = tmp_path / "excel.csv"
    path.write_bytes("\ufefftext,id\nhello world,1\n".encode())
    table = next(iter(Reader(path)))
    assert table.column("text").to_pylist() == ["hello world"] and table.column("id").to_pylist() == ["1"]


def test_classify_train_into_the_current_directory_is_one_line(tmp_path, monkeypatch):
    data = _labelled(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["classify", "train", str(data), "--out", "."])
    assert result.exit_code != 0 and "did not write" in result.output and "Traceback" not in result.output
    assert data.is_file()


@pytest.mark.parametrize("precision", ["int8", "uint8"])
def test_an_empty_text_is_the_zero_vector_in_every_precision(precision):

    model = LexDense.load("lexdense-base")
    vectors = model.encode(["", "a real sentence about markets"], precision=precision)
    assert not vectors[0].any() and vectors[1].any()


@pytest.mark.parametrize("damage", [{"parts": ["../../etc/passwd"]}, {"parts": None}, "drop-rows"])
def test_a_damaged_index_manifest_is_one_line_and_never_opens_paths_outside(tmp_path, damage):
    data = _jsonl(tmp_path / "in.jsonl", 10)
    out = tmp_path / "i.index"
    assert CliRunner().invoke(app, ["index", str(data), "--out", str(out)]).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    if damage == "drop-rows":
        del manifest["rows"]
    elif damage["parts"] is None:
        del manifest["parts"]
    else:
        manifest.update(damage)
    (out / "manifest.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(app, ["search", str(out), "cats"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "invalid part name" in result.output or "missing" in result.output, result.output


def _index(tmp_path, bm25=True):
    from lexdense.search import SearchIndex

    index = SearchIndex(model="lexdense-base", bm25=bm25)
    index.add(LINES, metadata={"outlet": ["cats"] * 20 + ["markets"] * 20})
    return index


def test_an_empty_query_finds_nothing_rather_than_k_arbitrary_documents(tmp_path):
    index = _index(tmp_path)
    for mode in ("dense", "bm25", "hybrid"):
        assert index.search("", k=5, mode=mode) == []
        assert index.search(["   ", "cat on the mat"], k=5, mode=mode)[0] == []
        assert len(index.search(["   ", "cat on the mat"], k=5, mode=mode)[1]) == 5


def test_an_index_built_without_bm25_refuses_bm25_queries(tmp_path):
    index = _index(tmp_path, bm25=False)
    for mode in ("bm25", "hybrid"):
        with pytest.raises(ValueError, match="without BM25"):
            index.search("cat", mode=mode)
    assert index._bm25 is None  # nothing was built at query time
    assert len(index.search("cat", k=3)) == 3


def test_where_with_no_value_is_refused_and_a_filter_matching_nothing_is_said(tmp_path):
    _index(tmp_path).save(tmp_path / "i")
    runner = CliRunner()
    empty = runner.invoke(app, ["search", str(tmp_path / "i"), "cat", "--where", "outlet="])
    assert empty.exit_code == 2 and "no value given" in empty.output and "Traceback" not in empty.output
    none = runner.invoke(app, ["search", str(tmp_path / "i"), "cat", "--where", "outlet=dogs"])
    assert none.exit_code == 0 and "no document of" in none.output and "outlet=dogs" in none.output


def test_an_empty_input_gives_the_schema_a_full_one_would(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "full.txt").write_text("one document\n")
    runner = CliRunner()
    for name in ("empty", "full"):
        result = runner.invoke(app, ["embed", str(tmp_path / f"{name}.txt"), "--out", str(tmp_path / f"{name}.parquet"),
                                     "--precision", "int8", "--keep-text"])
        assert result.exit_code == 0, result.output
    assert pq.read_schema(tmp_path / "empty.parquet") == pq.read_schema(tmp_path / "full.parquet")


def test_a_damaged_job_file_is_named_and_a_fully_resumed_job_says_so(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "v.parquet"
    parts = tmp_path / "v.parquet.parts"
    parts.mkdir()
    (parts / "job.json").write_text("{not json")
    runner = CliRunner()
    result = runner.invoke(app, ["embed", str(corpus), "--out", str(out), "--resume"])
    assert result.exit_code == 2 and "job.json" in result.output and "Traceback" not in result.output
    assert (parts / "job.json").read_text() == "{not json"  # named, not deleted
    (parts / "job.json").unlink()
    parts.rmdir()
    # a job whose every batch is finished: kill it right after the parts, before the merge
    from lexdense.io import embed_job

    real_merge = embed_job._merge

    def crash(*args):
        raise KeyboardInterrupt

    embed_job._merge = crash
    try:
        assert runner.invoke(app, ["embed", str(corpus), "--out", str(out), "--batch-rows", "8"]).exit_code == 2
    finally:
        embed_job._merge = real_merge
    resumed = runner.invoke(app, ["embed", str(corpus), "--out", str(out), "--batch-rows", "8", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "(40 resumed), nothing left to embed" in resumed.output and "0 docs/s" not in resumed.output
    assert pq.read_table(out).num_rows == 40


def test_a_full_disk_is_one_line_keeps_finished_parts_and_leaves_no_temp_file(tmp_path, monkeypatch):
    import errno

    from lexdense.io import embed_job

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "v.parquet"
    real_write = embed_job.pq.write_table
    calls = {"n": 0}

    def write_until_full(table, where, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the third part hits a full disk half-way through
            with open(where, "wb") as handle:
                handle.write(b"PAR1 half")
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        return real_write(table, where, *args, **kwargs)

    monkeypatch.setattr(embed_job.pq, "write_table", write_until_full)
    runner = CliRunner()
    result = runner.invoke(app, ["embed", str(corpus), "--out", str(out), "--batch-rows", "8"])
    assert result.exit_code == 2
    assert "no space left on the device" in result.output and "Traceback" not in result.output
    assert not out.exists()
    leftovers = sorted(p.name for p in (tmp_path / "v.parquet.parts").iterdir())
    assert leftovers == ["job.json", "part-000000000000.parquet", "part-000000000008.parquet"]
    assert not [p for p in tmp_path.rglob("*.tmp")]
    monkeypatch.setattr(embed_job.pq, "write_table", real_write)
    resumed = runner.invoke(app, ["embed", str(corpus), "--out", str(out), "--batch-rows", "8", "--resume"])
    assert resumed.exit_code == 0 and "(16 resumed)" in resumed.output
    assert pq.read_table(out).column("row").to_pylist() == list(range(40))


def test_low_free_space_is_said_before_the_work(tmp_path, monkeypatch):
    import collections
    import shutil

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(LINES) + "\n")
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    result = CliRunner().invoke(app, ["embed", str(corpus), "--out", str(tmp_path / "v.parquet")])
    assert result.exit_code == 0
    assert "warning:" in result.output and "MiB free" in result.output


def test_temp_files_of_a_killed_run_are_swept_and_nothing_else(tmp_path):
    import socket
    import subprocess
    import sys

    from lexdense.io.atomic import _temp_prefix, atomic_file

    out = tmp_path / "v.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    mine = _temp_prefix(out)
    killed = tmp_path / (mine.replace(f"-{__import__('os').getpid()}-", f"-{dead}-") + "abc.parquet.tmp")
    killed.write_bytes(b"half a file")
    live = tmp_path / (mine + "live.parquet.tmp")  # this (live) process's own
    live.write_bytes(b"in use")
    users = tmp_path / ".v.parquet.backup.tmp"  # looks alike, but not lexdense's
    users.write_bytes(b"the user's")
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-_")[:40]
    assert host in killed.name
    with atomic_file(out) as tmp:
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new"
    assert not killed.exists() and live.exists() and users.read_bytes() == b"the user's"


def test_a_directory_swap_killed_half_way_gives_the_old_output_back(tmp_path):
    import subprocess
    import sys

    from lexdense.io.atomic import _temp_prefix, atomic_directory

    target = tmp_path / "m"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    old = tmp_path / (_temp_prefix(target).replace(f"-{__import__('os').getpid()}-", f"-{dead}-") + "x.old")
    (old / "previous").mkdir(parents=True)
    (old / "previous" / "a").write_text("old model")
    (old / "previous" / ".lexdense-output").write_text('{"kind": "model"}\n')
    # killed between moving the old output aside and moving the new one in: target is gone
    with pytest.raises(OutputExistsError):  # the old model is back, and it is not a classifier
        with atomic_directory(target, "classifier"):
            pass
    assert (target / "a").read_text() == "old model" and not old.exists()


@pytest.mark.parametrize("bad", [[3], "abc", None, [3, "x"], [5, 3]])
def test_a_bad_ngram_range_in_config_is_a_model_file_error(tmp_path, bad):
    import shutil

    from lexdense.model import ModelFileError

    model = tmp_path / "m"
    shutil.copytree(LexDense.load("lexdense-base").source, model)
    config = json.loads((model / "config.json").read_text())
    config["ngram_range"] = bad
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="config.json: bad featurizer settings"):
        LexDense.load(model)


def test_an_mlp_on_a_label_with_one_example_trains_instead_of_naming_internal_labels():
    from lexdense.classify import EmbeddingClassifier

    clf = EmbeddingClassifier(kind="mlp", model="lexdense-base").fit(
        ["cat sat", "cat ran", "dog sat", "stocks fell"], ["animals", "animals", "animals", "markets"])
    assert list(clf.classes_) == ["animals", "markets"]
    assert clf.predict(["a cat"]).shape == (1,)


def test_a_byte_order_mark_is_not_data_in_txt_and_jsonl(tmp_path):
    from lexdense.io.readers import Reader

    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfhello\nworld\n")
    (tmp_path / "a.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "hello"}\n{"text": "world"}\n')
    for name in ("a.txt", "a.jsonl"):
        texts = [t for batch in Reader(tmp_path / name) for t in batch.column("text").to_pylist()]
        assert texts == ["hello", "world"]


@pytest.mark.parametrize("field, value", [("parts", None), ("rows", ""), ("generation", None), ("model", []),
                                          ("bm25", "yes")])
def test_manifest_fields_of_the_wrong_kind_are_one_line(tmp_path, field, value):
    from lexdense.search import IndexError_, SearchIndex

    _index(tmp_path).save(tmp_path / "i")
    manifest = json.loads((tmp_path / "i" / "manifest.json").read_text())
    manifest[field] = value
    (tmp_path / "i" / "manifest.json").write_text(json.dumps(manifest))
    try:
        index = SearchIndex.load(tmp_path / "i")
    except IndexError_ as exc:  # refused: one line naming the manifest
        assert "\n" not in str(exc) and "manifest" in str(exc)
        return
    # or loaded: then an index that answers every query it offers
    for mode in ("dense", "bm25", "hybrid") if index.use_bm25 else ("dense",):
        assert len(index.search("the cat on the mat", k=3, mode=mode)) == 3, mode


def _npy(value, pickle=False) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=pickle)
    return buffer.getvalue()


def _params(**change) -> bytes:
    return json.dumps({"k1": 1.5, "b": 0.75, "delta": 0.5, "method": "lucene", "idf_method": "lucene",
                       "dtype": "float32", "int_dtype": "int32", "num_docs": 40, "version": "0.3.16",
                       "backend": "numpy", **change}).encode()


def _bm25_damage():
    import numpy as np

    return {  # file, its new content; each passed the load and failed (or misranked) at query time
        "data-2d": ("data.csc.index.npy", _npy(np.zeros((1, 8), np.float32))),
        "data-structured": ("data.csc.index.npy", _npy(np.zeros(8, dtype=[("a", "f4")]))),
        "data-no-fields": ("data.csc.index.npy", _npy(np.zeros(8, dtype=[]))),
        "data-too-short": ("data.csc.index.npy", _npy(np.zeros(1, np.float32))),
        "data-none": ("data.csc.index.npy", _npy(None, pickle=True)),
        "data-objects": ("data.csc.index.npy", _npy(np.array([1.0, None], object), pickle=True)),
        "indices-float": ("indices.csc.index.npy", _npy(np.zeros(8, np.float32))),
        "indices-scalar": ("indices.csc.index.npy", _npy(np.array(5))),
        "indptr-empty": ("indptr.csc.index.npy", _npy(np.zeros(0, np.int32))),
        "indptr-decreasing": ("indptr.csc.index.npy", _npy(np.arange(200, dtype=np.int32)[::-1].copy())),
        "params-dtype-false": ("params.index.json", _params(dtype=False)),
        "params-dtype-list": ("params.index.json", _params(dtype=[])),
        "params-dtype-nested": ("params.index.json", _params(dtype=[[0]])),
        "params-int-dtype-float": ("params.index.json", _params(int_dtype="float32")),
        "params-int-dtype-list": ("params.index.json", _params(int_dtype=[])),
        "params-num-docs-float": ("params.index.json", _params(num_docs=40.0)),
        "params-unknown-method": ("params.index.json", _params(method="x")),
        "vocab-null-id": ("vocab.index.json", b'{"cat": null}'),
        "vocab-text-id": ("vocab.index.json", b'{"cat": "x"}'),
        "vocab-huge-id": ("vocab.index.json", b'{"cat": 1000000000000000000000000000000}'),
        "vocab-id-past-the-end": ("vocab.index.json", b'{"cat": 1000000}'),
    }


@pytest.mark.parametrize("damage", list(_bm25_damage()))
def test_damaged_bm25_arrays_are_refused_at_load_naming_the_file(tmp_path, damage):
    """BM25 files of the wrong dtype, shape or content (or holding pickled objects) loaded,
    then failed at query time with ValueError, TypeError, IndexError or a ufunc error."""
    from lexdense.search import IndexError_, SearchIndex

    file, content = _bm25_damage()[damage]
    _index(tmp_path).save(tmp_path / "i")
    (tmp_path / "i" / "gen-00001" / "bm25" / file).write_bytes(content)
    with pytest.raises(IndexError_) as caught:
        SearchIndex.load(tmp_path / "i")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "i" / "gen-00001" / "bm25" / file)), message
    result = CliRunner().invoke(app, ["search", str(tmp_path / "i"), "--mode", "hybrid", "cat"])
    assert result.exit_code == 2 and "Traceback" not in result.output and file in result.output, result.output


def test_a_filter_on_a_list_field_compares_its_json_text(tmp_path):
    """`search --where` cast a list column (Parquet) to text with Arrow, which cannot:
    ArrowNotImplementedError and a traceback. It is compared as its JSON text, the text the
    rule of concat_tables gives a list."""
    import pyarrow as pa

    corpus = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": ["the cat sat", "stocks fell"], "tags": [["pets", "cats"], ["markets"]]}), corpus)
    out = tmp_path / "i"
    assert CliRunner().invoke(app, ["index", str(corpus), "--out", str(out)]).exit_code == 0
    result = CliRunner().invoke(app, ["search", str(out), "--json", "--where", 'tags=["markets"]', "--", "cat"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()] == ["stocks fell"]


def test_one_stacking_rule_for_an_index_and_an_embed_output(tmp_path):
    """An integer beyond 2**53 in one batch and a float in the next: concat_tables widened the
    field to text, while embed's merge (its own copy of the rule) promoted it to double and
    failed at the end, after all the work. One function decides for both, as one batch does."""
    from lexdense.io.readers import Reader, concat_tables

    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a cat", "n": 4611686018427387905}\n{"text": "a dog", "n": 1.5}\n')
    whole = concat_tables(list(Reader(path, batch_rows=10))).column("n").to_pylist()
    assert concat_tables(list(Reader(path, batch_rows=1))).column("n").to_pylist() == whole
    assert whole == ["4611686018427387905", "1.5"]
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(app, ["embed", str(path), "--out", str(out), "--batch-rows", "1"])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).column("n").to_pylist() == whole


def test_a_field_keeps_its_type_when_another_field_is_widened(tmp_path):
    """A conflict in one field (int, then text) widened every field whose types differed
    at all: int32 in one batch and int64 in the next became text too."""
    import pyarrow as pa

    from lexdense.io.readers import concat_tables

    first = pa.table({"a": pa.array([1], pa.int32()), "b": pa.array([1])})
    second = pa.table({"a": pa.array([2], pa.int64()), "b": pa.array(["x"])})
    merged = concat_tables([first, second])
    assert merged.schema.field("a").type == pa.int64() and merged.column("a").to_pylist() == [1, 2]
    assert merged.column("b").to_pylist() == ["1", "x"]


def test_one_line_messages_come_from_one_module():
    """The CLI imported the readers' private helper; both now use lexdense.messages."""
    import inspect

    from lexdense import cli
    from lexdense.io import readers
    from lexdense.messages import one_line, shown

    assert one_line("a\n  b\x00c") == "a b\\x00c" and shown("x\ny") == "x\\ny" and shown("été") == "été"
    assert readers.one_line is one_line and "lexdense.messages" in inspect.getsource(cli._fail)


def test_temp_names_and_the_sweep_agree_on_an_odd_host_name(tmp_path, monkeypatch):
    import os
    import socket
    import subprocess
    import sys

    from lexdense.io import atomic

    monkeypatch.setattr(socket, "gethostname", lambda: "lab box/7.example")
    assert atomic._host() == "labbox7example"
    out = tmp_path / "v.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    killed = tmp_path / (atomic._temp_prefix(out).replace(f"-{os.getpid()}-", f"-{dead}-") + "x.parquet.tmp")
    killed.write_bytes(b"half a file")
    assert "labbox7example" in killed.name and atomic.sweep_stale(out) == 1 and not killed.exists()
