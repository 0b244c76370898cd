import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lexdense.cli import app
from lexdense.dedup import near_duplicates, similar_pairs
from lexdense.sources import datasets


def test_exact_and_ann_pair_search_agree():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(400, 32))
    copies = base[:60] + 0.01 * rng.normal(size=(60, 32))
    vectors = np.vstack([base, copies])
    exact, _ = similar_pairs(vectors, 0.98, ann_threshold=10_000)
    approx, _ = similar_pairs(vectors, 0.98, ann_threshold=0)
    truth = {(i, 400 + i) for i in range(60)}
    assert {tuple(p) for p in exact.tolist()} == truth
    assert {tuple(p) for p in approx.tolist()} == truth


def test_groups_keep_one_document_each_and_chain():
    vectors = np.array([[1, 0, 0], [0.999, 0.04, 0], [0, 1, 0], [0.998, 0.06, 0.0], [0, 0, 1]], dtype=float)
    result = near_duplicates(vectors=vectors, threshold=0.99)
    assert result.group.tolist() == [0, 0, 2, 0, 4]
    assert result.keep.tolist() == [True, False, True, False, True]
    assert result.n_groups == 1 and result.n_removed == 2
    longest = near_duplicates(texts=["a", "bbb", "c", "dd", "e"], vectors=vectors, threshold=0.99, keep="longest")
    assert longest.group.tolist() == [1, 1, 2, 1, 4]
    with pytest.raises(ValueError, match="threshold"):
        near_duplicates(vectors=vectors, threshold=2)


def test_perturbed_copies_of_real_documents_are_found():
    news = datasets.news_articles().texts[:300]
    copies = [news[0].upper(), "  ".join(news[1].split()), ". ".join(news[2].split(". ")[1:])]
    result = near_duplicates(news + copies, threshold=0.9)
    for k, original in enumerate((0, 1, 2)):
        assert result.group[300 + k] == result.group[original]
    assert result.n_removed < 20  # distinct articles are not merged wholesale


def test_dedup_command(tmp_path):
    docs = ["The cat sat on the mat today.", "the cat sat on the  mat today.", "Stocks fell on Monday.",
            "A completely different sentence about football."]
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(docs)))
    out, keep = tmp_path / "dups.parquet", tmp_path / "keep.txt"
    result = CliRunner().invoke(app, ["dedup", str(corpus), "-o", str(out), "--keep-list", str(keep)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pydict()
    assert table["id"] == ["d0", "d1", "d2", "d3"] and table["keep"] == [True, False, True, True]
    assert keep.read_text().split() == ["0", "2", "3"]
    bad = CliRunner().invoke(app, ["dedup", str(corpus), "-o", str(out), "--keep", "random"])
    assert bad.exit_code == 2 and "unknown keep" in bad.output


def test_huge_duplicate_group_stays_linear_in_memory():
    """Fault 12: 10,000 identical documents made 50 million pairs (3.6 GB); copies now pair
    with their first copy and crowded rows keep their nearest partners only."""
    rng = np.random.default_rng(0)
    one = rng.normal(size=(1, 64)).astype(np.float32)
    others = rng.normal(size=(300, 64)).astype(np.float32)
    near = one + rng.normal(scale=1e-4, size=(3000, 64)).astype(np.float32)
    vectors = np.concatenate([np.repeat(one, 10_000, axis=0), others, near, np.zeros((5, 64), np.float32)])
    result = near_duplicates(vectors=vectors, threshold=0.98)
    n = len(vectors)
    assert len(result.pairs) <= 10_000 + 3000 * 64
    assert np.all(result.pairs[:, 0] < result.pairs[:, 1])
    # every copy and near copy is in the first row's group; the random rows and the empty
    # (zero) rows are alone
    assert np.all(result.group[:10_000] == 0) and np.all(result.group[10_300:10_300 + 3000] == 0)
    assert np.array_equal(result.group[10_000:10_300], np.arange(10_000, 10_300))
    assert np.array_equal(result.group[-5:], np.arange(n - 5, n))
    assert result.n_removed == 10_000 - 1 + 3000
