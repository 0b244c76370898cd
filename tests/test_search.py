import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lexdense.cli import app
from lexdense.search import IndexError_, SearchIndex, fusion, passages

DOCS = ["the stock market fell sharply on monday", "a new flu vaccine trial begins",
        "football cup final tonight in london", "central bank raises interest rates",
        "doctors warn of a measles outbreak", "the striker scored twice in the derby"]
SOURCES = ["biz", "health", "sport", "biz", "health", "sport"]


@pytest.fixture(scope="module")
def small():
    return SearchIndex.build(DOCS, metadata={"source": SOURCES, "year": [2016, 2017] * 3})


def test_dense_bm25_and_hybrid_find_the_right_documents(small):
    for mode in ("dense", "bm25", "hybrid"):
        hits = small.search(["vaccine against the flu", "interest rates and the bank"], k=2, mode=mode)
        assert hits[0][0]["row"] == 1 and hits[1][0]["row"] == 3, mode
        assert hits[0][0]["source"] == "health" and hits[0][0]["text"] == DOCS[1]
    single = small.search("the derby match", k=3)
    assert isinstance(single, list) and len(single) == 3 and single[0]["source"] == "sport"
    assert small.search("the and of", mode="bm25") == []  # only stopwords: no lexical match


def test_filters_keep_only_matching_rows(small):
    hits = small.search("flu vaccine", k=5, where={"source": ["sport", "biz"]})
    assert hits and {h["source"] for h in hits} <= {"sport", "biz"}
    assert all(h["year"] == 2017 for h in small.search("markets", k=5, where={"year": 2017}))
    assert small.search("flu", k=3, where={"source": "nothing"}) == []
    with pytest.raises(ValueError, match="unknown filter column 'colour'"):
        small.search("flu", where={"colour": "red"})


def test_hybrid_fusion_on_a_hand_checked_case():
    rows = np.array([3, 5, 7])
    dense = np.array([0.9, 0.5, 0.1])   # scaled: 1, 0.5, 0
    bm25 = np.array([0.0, 8.0, 4.0])    # scaled: 0, 1, 0.5
    top, scores = fusion.top(rows, dense, bm25, k=3, weight=0.5)
    # 5: 0.25 + 0.5; 3: 0.5 + 0; 7: 0 + 0.25
    assert top.tolist() == [5, 3, 7] and scores.tolist() == pytest.approx([0.75, 0.5, 0.25])
    assert fusion.top(rows, dense, bm25, k=1, weight=0.9)[0].tolist() == [3]  # weight moves the order
    assert fusion.scale(np.array([2.0, 2.0])).tolist() == [1.0, 1.0]
    assert fusion.scale(np.array([0.0, 0.0])).tolist() == [0.0, 0.0]
    assert fusion.pool(np.array([7, 3]), np.array([3, 9])).tolist() == [3, 7, 9]


def test_hybrid_scores_are_fused_scores_in_zero_one(small):
    hits = small.search(["flu vaccine trial", "the striker scored"], k=6, mode="hybrid")
    for query_hits in hits:
        scores = [h["score"] for h in query_hits]
        assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] and scores[0] <= 1
    # the document first on both counts is the best of the pool on both: 1.0
    assert hits[0][0]["row"] == 1 and hits[0][0]["score"] == pytest.approx(1.0)


def test_a_hit_shows_the_passage_that_matched():
    header = "Daily bulletin of the city council. Published every morning for residents. "
    filler = " ".join(f"Item {i} concerns parking permits and bin collection days." for i in range(20))
    long_doc = header + filler + " The measles outbreak closed two schools near the harbour. " + filler
    index = SearchIndex.build([long_doc, DOCS[0], DOCS[2]])
    for mode in ("dense", "bm25", "hybrid"):
        hit = index.search("measles outbreak schools", k=1, mode=mode)[0]
        start, end = hit["passage_span"]
        assert hit["row"] == 0 and "measles outbreak" in long_doc[start:end], mode
        assert start > 0 and end - start < len(long_doc) // 3
    short = index.search("stock market", k=1)[0]
    assert short["text"] == DOCS[0] and short["passage_span"] == [0, len(DOCS[0])]
    assert "passage_span" not in index.search("stock market", k=1, passages=False)[0]


def test_search_command_prints_the_passage_not_the_header(tmp_path):
    header = "Daily bulletin of the city council. "
    long_doc = header + " ".join(f"Item {i} concerns parking permits." for i in range(40)) + \
        " The measles outbreak closed two schools. " + " ".join(f"Item {i} is about bins." for i in range(40))
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text(json.dumps({"text": long_doc}) + "\n" + json.dumps({"text": DOCS[0]}) + "\n")
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(corpus), "--out", str(tmp_path / "ix")]).exit_code == 0
    shown = runner.invoke(app, ["search", str(tmp_path / "ix"), "measles outbreak", "-k", "1", "--mode", "bm25"])
    assert shown.exit_code == 0, shown.output
    assert "measles" in shown.stdout and "Daily bulletin" not in shown.stdout and "..." in shown.stdout


def test_passages_cover_the_text_and_end_at_sentences():
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    spans = passages.passage_spans(text, words=60)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a < b for a, b in spans) and all(b < c for (_, b), (c, _) in zip(spans, spans[1:]))
    assert all(text[b - 1] == "." for _, b in spans)
    assert all(30 <= len(text[a:b].split()) <= 60 for a, b in spans[:-1])
    assert passages.passage_spans("  two words ") == [(2, 11)]


def test_highlights_skip_stopwords():
    text = "The Fed raised RATES at the meeting; rates rose."
    spans = passages.highlight_spans(text, "the rates at the fed")
    assert [text[a:b] for a, b in spans] == ["Fed", "RATES", "rates"]
    assert passages.highlight_spans(text, "the at of") == []


def test_ann_matches_exact_search_and_filters_fall_back_to_exact():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, 48))
    vectors = centres[rng.integers(50, size=3000)] + 0.3 * rng.normal(size=(3000, 48))
    group = (np.arange(3000) % 100 == 0).astype(int).tolist()  # a rare value: 30 rows
    index = SearchIndex.build([f"d{i}" for i in range(3000)], metadata={"g": group}, vectors=vectors,
                              model=None, ann_threshold=1000)
    queries = rng.normal(size=(40, 48))
    exact = index.search(queries, k=10, exact=True)
    approx = index.search(queries, k=10)
    recall = np.mean([len({h["row"] for h in a} & {h["row"] for h in e}) / 10 for a, e in zip(approx, exact)])
    assert index._ann is not None and recall >= 0.9
    rare = index.search(queries[:5], k=10, where={"g": 1})
    assert all(len(hits) == 10 and all(h["g"] == 1 for h in hits) for hits in rare)
    with pytest.raises(ValueError, match="without a model"):
        index.search("text query")


def test_save_add_load_and_a_crash_keeps_the_previous_index(tmp_path, monkeypatch):
    path = tmp_path / "ix"
    SearchIndex.build(DOCS[:4], metadata={"source": SOURCES[:4]}).save(path)
    index = SearchIndex.load(path)
    index.add(DOCS[4:], metadata={"source": SOURCES[4:]})

    import lexdense.search.store as search_module

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed while switching the manifest")

    monkeypatch.setattr(search_module, "write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        index.save()
    monkeypatch.undo()
    survivor = SearchIndex.load(path)
    assert len(survivor) == 4 and survivor.generation == 1
    assert survivor.search("measles outbreak", k=1)[0]["row"] != 4

    survivor.add(DOCS[4:], metadata={"source": SOURCES[4:]})
    survivor.save()
    grown = SearchIndex.load(path)
    assert len(grown) == 6 and grown.generation == 2 and len(grown.parts) == 2
    assert grown.search("measles outbreak", k=1, mode="hybrid")[0]["row"] == 4
    names = sorted(p.name for p in path.iterdir())
    assert names == ["gen-00002", "manifest.json", "part-00000.parquet", "part-00001.parquet"]


def test_corrupt_or_foreign_index_directories_are_named(tmp_path):
    with pytest.raises(IndexError_, match="no manifest.json"):
        SearchIndex.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexError_, match="corrupt"):
        SearchIndex.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(IndexError_, match="not a lexdense index"):
        SearchIndex.load(tmp_path)
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(FileExistsError):
        SearchIndex.build(DOCS).save(foreign)


def test_index_and_search_commands(tmp_path):
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "source": s}) + "\n" for t, s in zip(DOCS, SOURCES)))
    out = tmp_path / "ix"
    runner = CliRunner()
    result = runner.invoke(app, ["index", str(corpus), "--out", str(out)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["index", str(corpus), "--out", str(out)])
    assert again.exit_code == 2 and "use --add" in again.output
    added = runner.invoke(app, ["index", str(corpus), "--out", str(out), "--add"])
    assert added.exit_code == 0 and "12 documents" in added.output
    found = runner.invoke(app, ["search", str(out), "flu vaccine", "--json", "-k", "2", "--where", "source=health",
                                "--mode", "hybrid"])
    assert found.exit_code == 0, found.output
    lines = [json.loads(line) for line in found.stdout.splitlines()]
    assert len(lines) == 2 and all(h["source"] == "health" for h in lines) and "vaccine" in lines[0]["text"]
    bad = runner.invoke(app, ["search", str(out), "x", "--where", "nocolumn"])
    assert bad.exit_code == 2 and "COLUMN=VALUE" in bad.output
