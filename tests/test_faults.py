"""Fault injection over every command that writes (issue 12's suite).

Each command runs as a real process, the way users run it: killed with SIGKILL at seeded
random points, refused an output that is its input, a FIFO, a symlink's target directory or a
foreign directory, run against a file-size limit (writes fail as on a full disk), and run while
another process holds its output. After each fault: what was committed before is complete and
readable, no process of the run is left, no temporary file survives the next run, and an error
is one line.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import make_model

N = 300
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A labelled corpus, keywords, a tiny model and a trained classifier, shared by the tests."""
    root = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(0)
    words = ["cat", "sat", "mat", "dog", "stock", "market", "fell", "new", "york", "city", "the", "on"]
    rows = [{"id": f"d{i}", "text": " ".join(rng.choice(words, size=int(rng.integers(4, 30)))),
             "label": ["pets", "money"][i % 2], "outlet": f"o{i % 3}"} for i in range(N)]
    corpus = root / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    keywords = root / "keywords.json"
    keywords.write_text(json.dumps({"pets": ["cat", "dog"], "money": ["stock", "market"]}))
    model = make_model().save(root / "tiny")
    classifier = root / "classifier"
    run(["classify", "train", str(corpus), "--out", str(classifier), "-m", str(model)], check=True)
    return {"root": root, "corpus": corpus, "keywords": keywords, "model": model, "classifier": classifier}


def command(name: str, w: dict, out: Path) -> list[str]:
    """The command line of ``name`` writing ``out``."""
    c, m = str(w["corpus"]), str(w["model"])
    return {
        "embed": ["embed", c, "--out", str(out), "-m", m, "--batch-rows", "32"],
        "embed-workers": ["embed", c, "--out", str(out), "-m", m, "--batch-rows", "32", "--workers", "2"],
        "index": ["index", c, "--out", str(out), "-m", m],
        "classify-train": ["classify", "train", c, "--out", str(out), "-m", m],
        "classify-predict": ["classify", "predict", c, "-c", str(w["classifier"]), "--out", str(out)],
        "dedup": ["dedup", c, "--out", str(out), "-m", m],
        "anomalies": ["anomalies", c, "--out", str(out), "-m", m],
        "topics": ["topics", c, "--keywords", str(w["keywords"]), "--out", str(out), "-m", m],
        # PCA, not the default UMAP: what is tested is the output's write, and UMAP's start-up in
        # each of the killed processes cost over two minutes of CI
        "discover": ["discover", c, "--out", str(out), "-m", m, "--n-topics", "2", "--reducer", "pca",
                     "--min-cluster-size", "5"],
    }[name]


FILE_OUTPUTS = ["embed", "embed-workers", "classify-predict", "dedup", "anomalies", "topics", "discover"]
DIRECTORY_OUTPUTS = ["index", "classify-train"]
WRITERS = FILE_OUTPUTS + DIRECTORY_OUTPUTS


def output_name(name: str) -> str:
    return {"index": "out.index", "classify-train": "out.classifier"}.get(name, "out.parquet")


def run(args, check=False, limit_bytes: int | None = None, **kwargs) -> subprocess.CompletedProcess:
    def limit():
        if limit_bytes is not None:  # writes past it fail with EFBIG, as a full disk fails them
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    result = subprocess.run([sys.executable, "-m", "lexdense.cli", *args], capture_output=True, text=True,
                            preexec_fn=limit, timeout=300, **kwargs)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr  # one line, and the last
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in errors[0], errors[0]


def complete(name: str, out: Path) -> int:
    """Rows of a finished output (fails on a torn or half-written one)."""
    if name == "index":
        from lexdense.search import SearchIndex

        return len(SearchIndex.load(out, model=None))
    if name == "classify-train":
        from lexdense.classify import EmbeddingClassifier

        return len(EmbeddingClassifier.load(out).classes_)
    return pq.read_table(out).num_rows


def expected_rows(name: str) -> int:
    return 2 if name == "classify-train" else N


def strays(directory: Path) -> list[str]:
    """Temporary files, directories and job parts lexdense leaves while it works."""
    return sorted(p.name for p in directory.iterdir()
                  if ".lexdense-" in p.name or p.name.endswith((".parts", ".tmp", ".old")))


def session_processes(sid: int) -> list[int]:
    """Live processes of session ``sid`` (a killed run and every worker it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("name", WRITERS)
def test_kill_9_at_random_points_loses_nothing_committed(tmp_path, world, name):
    out = tmp_path / output_name(name)
    args = command(name, world, out)
    started = time.perf_counter()
    run(args, check=True)
    duration = time.perf_counter() - started
    rerun = args + (["--add"] if name == "index" else [])
    before = complete(name, out)
    for seed in SEEDS:
        delay = np.random.default_rng(seed).uniform(0.1, 1.0) * duration
        process = subprocess.Popen([sys.executable, "-m", "lexdense.cli", *rerun], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.time() + 10
        while time.time() < deadline and session_processes(process.pid):
            time.sleep(0.1)
        assert not session_processes(process.pid), f"{name}: processes outlived the killed run"
        after = complete(name, out)  # the committed output is whole: the old one or a new one
        assert after in (before, before + N) if name == "index" else after == expected_rows(name)
        before = after
    again = run(rerun + (["--resume"] if name.startswith("embed") else []), check=True)
    assert complete(name, out) >= expected_rows(name), again.stderr
    assert strays(tmp_path) == [], f"{name} left {strays(tmp_path)}"


@pytest.mark.parametrize("name", FILE_OUTPUTS)
def test_the_input_as_output_is_refused_and_untouched(world, name):
    corpus = world["corpus"]
    before = corpus.read_bytes()
    one_line_error(run(command(name, world, corpus)), "is the input")
    assert corpus.read_bytes() == before


@pytest.mark.parametrize("name", DIRECTORY_OUTPUTS)
def test_the_input_as_output_directory_is_refused_and_untouched(world, name):
    corpus = world["corpus"]
    before = corpus.read_bytes()
    one_line_error(run(command(name, world, corpus)))
    assert corpus.read_bytes() == before


@pytest.mark.parametrize("name", FILE_OUTPUTS)
def test_a_fifo_output_is_refused_before_any_work(tmp_path, world, name):
    fifo = tmp_path / "out.parquet"
    os.mkfifo(fifo)
    one_line_error(run(command(name, world, fifo)), "not a regular file")
    assert fifo.is_fifo()


@pytest.mark.parametrize("name", WRITERS)
def test_a_directory_lexdense_did_not_write_is_refused_and_kept(tmp_path, world, name):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"\xff\xd8 precious")
    one_line_error(run(command(name, world, foreign)))
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]
    assert (foreign / "holiday.jpg").read_bytes() == b"\xff\xd8 precious"


@pytest.mark.parametrize("name", FILE_OUTPUTS)
def test_a_symlinked_output_writes_its_target_and_keeps_the_link(tmp_path, world, name):
    target = tmp_path / "real" / "target.parquet"
    target.parent.mkdir()
    target.write_bytes(b"an older output")
    link = tmp_path / "link.parquet"
    link.symlink_to(target)
    run(command(name, world, link), check=True)
    assert link.is_symlink() and pq.read_table(target).num_rows == N
    assert strays(tmp_path) == [] and strays(target.parent) == []


@pytest.mark.parametrize("name", WRITERS)
def test_a_full_disk_keeps_the_earlier_output_and_leaves_no_temp_file(tmp_path, world, name):
    out = tmp_path / output_name(name)
    args = command(name, world, out)
    run(args, check=True)
    before = complete(name, out)
    rerun = args + (["--add"] if name == "index" else []) + (["--overwrite"] if name == "classify-train" else [])
    result = run(rerun, limit_bytes=64)
    one_line_error(result)
    assert "too large" in result.stderr.lower() or "no space" in result.stderr.lower()
    assert complete(name, out) == before
    run(rerun, check=True)  # the next run sweeps what the failed one could not remove
    assert strays(tmp_path) == [], f"{name} left {strays(tmp_path)}"


@pytest.mark.parametrize("name", WRITERS)
def test_a_second_writer_of_one_output_gets_one_line_at_once(tmp_path, world, name):
    from lexdense.io.atomic import exclusive_lock

    out = tmp_path / output_name(name)
    with exclusive_lock(out):  # this test process is the first writer
        started = time.perf_counter()
        result = run(command(name, world, out))
        one_line_error(result, "being written by another lexdense process")
    assert not out.exists() and strays(tmp_path) == []
    assert time.perf_counter() - started < 60


def test_an_input_changed_before_resume_is_refused(tmp_path, world):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(world["corpus"].read_bytes())
    out = tmp_path / "out.parquet"
    args = ["embed", str(corpus), "--out", str(out), "-m", str(world["model"]), "--batch-rows", "32"]
    process = subprocess.Popen([sys.executable, "-m", "lexdense.cli", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    parts = tmp_path / "out.parquet.parts"
    deadline = time.time() + 60
    while time.time() < deadline and not list(parts.glob("part-*.parquet")):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    corpus.write_text('{"id": "new", "text": "an inserted record"}\n' + corpus.read_text())
    one_line_error(run(args + ["--resume"]), "changed since the killed run")
    run(args, check=True)
    assert pq.read_table(out).column("id").to_pylist()[:2] == ["new", "d0"]
    assert strays(tmp_path) == []
