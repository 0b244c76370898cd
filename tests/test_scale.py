import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lexdense import LexDense
from lexdense.io.embed_job import embed_directory
from lexdense.sources import datasets


def write_shards(directory, n_shards, rows_per_shard, offset=0):
    tweets = datasets.health_tweets().texts
    directory.mkdir(parents=True, exist_ok=True)
    for s in range(n_shards):
        ids = list(range(offset + s * rows_per_shard, offset + (s + 1) * rows_per_shard))
        texts = [tweets[i % len(tweets)] for i in ids]
        if s % 2:
            pq.write_table(pa.table({"id": ids, "text": texts}), directory / f"shard-{s:03d}.parquet")
        else:
            (directory / f"shard-{s:03d}.jsonl").write_text("".join(json.dumps({"id": i, "text": t}) + "\n"
                                                                    for i, t in zip(ids, texts)))
    return n_shards * rows_per_shard


def output_ids(out_dir):
    return sorted(i for p in sorted(out_dir.glob("shard-*.parquet")) for i in pq.read_table(p).column("id").to_pylist())


def test_directory_job_embeds_every_shard_once_and_skips_done_ones(tmp_path):
    total = write_shards(tmp_path / "in", 4, 150)
    model = LexDense.load("lexdense-base")
    first = embed_directory(model, tmp_path / "in", tmp_path / "out")
    assert first == {"shards": 4, "embedded": 4, "skipped": 0, "rows": total}
    assert output_ids(tmp_path / "out") == list(range(total))
    table = pq.read_table(tmp_path / "out" / "shard-001.parquet")
    assert np.allclose(np.stack(table.column("embedding").to_numpy(zero_copy_only=False))[:3],
                       model.encode(datasets.health_tweets().texts[150:153]), atol=1e-6)
    again = embed_directory(model, tmp_path / "in", tmp_path / "out")
    assert again["embedded"] == 0 and again["skipped"] == 4
    with pytest.raises(ValueError, match="other settings"):
        embed_directory(model, tmp_path / "in", tmp_path / "out", precision="int8")


def test_kill_9_mid_run_then_restart_gives_every_row_exactly_once(tmp_path):
    total = write_shards(tmp_path / "in", 8, 4000)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lexdense.cli", "embed", str(tmp_path / "in"), "--shards", "--out", str(out),
               "--batch-rows", "100"]
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    def mid_shard():  # one shard recorded, the next one part-way through
        return (out / "_manifest.json").exists() and any(out.glob("*.parts/part-*.parquet"))

    while not mid_shard() and time.time() < deadline and job.poll() is None:
        time.sleep(0.005)
    job.send_signal(signal.SIGKILL)
    job.wait()
    done_at_kill = len(json.loads((out / "_manifest.json").read_text())["shards"])
    assert 1 <= done_at_kill < 8, "the job must be killed mid-run for this test to mean anything"
    assert any(out.glob("*.parts")), "an interrupted shard leaves finished parts to resume from"
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert finished.returncode == 0, finished.stderr
    ids = output_ids(out)
    assert ids == list(range(total))  # nothing missing, nothing twice
    assert not any(out.glob("*.parts")) and not any(p.name.startswith(".") for p in out.iterdir())


def test_ray_data_engine_in_local_mode(tmp_path):
    ray = pytest.importorskip("ray")
    from lexdense.scale import embed_parquet

    tweets = datasets.health_tweets().texts[:600]
    source = tmp_path / "corpus.parquet"
    pq.write_table(pa.table({"id": list(range(600)), "text": tweets}), source)
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        rows = embed_parquet(str(source), str(tmp_path / "vectors"), batch_size=128)
    finally:
        ray.shutdown()
    assert rows == 600
    table = pq.read_table(tmp_path / "vectors").sort_by("id")
    assert table.column("id").to_pylist() == list(range(600)) and "text" not in table.column_names
    vectors = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    assert np.allclose(vectors, LexDense.load("lexdense-base").encode(tweets), atol=1e-6)


def test_directory_job_with_worker_processes_matches_one_process(tmp_path):
    total = write_shards(tmp_path / "in", 4, 200)
    model = LexDense.load("lexdense-base")
    embed_directory(model, tmp_path / "in", tmp_path / "one")
    summary = embed_directory(model, tmp_path / "in", tmp_path / "two", workers=2)
    assert summary["embedded"] == 4 and summary["rows"] == total
    for shard in sorted((tmp_path / "one").glob("shard-*.parquet")):
        a, b = pq.read_table(shard), pq.read_table(tmp_path / "two" / shard.name)
        assert a.column("id").to_pylist() == b.column("id").to_pylist()
        assert np.allclose(np.stack(a.column("embedding").to_numpy(zero_copy_only=False)),
                           np.stack(b.column("embedding").to_numpy(zero_copy_only=False)), atol=1e-6)


FORKED_JOB = """
import sys
from lexdense import LexDense
from lexdense.io.embed_job import _worker_context, embed_directory
model = LexDense.load("lexdense-base")
print(_worker_context(model)[0].get_start_method())
embed_directory(model, sys.argv[1], sys.argv[2], workers=2)
model.encode(["numba's threads start here"])
print(_worker_context(model)[0].get_start_method())
"""


def test_workers_are_forked_until_numba_starts_threads(tmp_path):
    write_shards(tmp_path / "in", 3, 120)
    done = subprocess.run([sys.executable, "-c", FORKED_JOB, str(tmp_path / "in"), str(tmp_path / "forked")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fork", "spawn"]
    embed_directory(LexDense.load("lexdense-base"), tmp_path / "in", tmp_path / "one")
    for shard in sorted((tmp_path / "one").glob("shard-*.parquet")):
        a, b = pq.read_table(shard), pq.read_table(tmp_path / "forked" / shard.name)
        assert a.column("id").to_pylist() == b.column("id").to_pylist()
        assert np.allclose(np.stack(a.column("embedding").to_numpy(zero_copy_only=False)),
                           np.stack(b.column("embedding").to_numpy(zero_copy_only=False)), atol=1e-6)
