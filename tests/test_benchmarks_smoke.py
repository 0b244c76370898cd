"""Smoke versions of the heavy benchmarks: they run end to end on small samples.

Timings are printed by the benchmarks themselves and never asserted here.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_speed_quick_runs_and_reports_ratios(tmp_path):
    speed = load("speed")
    report = speed.main(["--quick", "--json", str(tmp_path / "speed.json")])
    assert set(report["results"]) == {"lexdense", "wordpiece tokenizer alone"}
    assert report["ratios"]["lexdense / wordpiece tokenizer alone"]["long"] > 0
    shares = report["lexdense_profile"]["long"]
    assert abs(sum(v for k, v in shares.items() if k.endswith("_s") and k != "total_s") - 1) < 0.01


def test_memory_smoke_reports_peak_rss(tmp_path):
    memory = load("memory")
    report = memory.main(["--size-mib", "4", "--json", str(tmp_path / "memory.json")])
    assert report["documents"] > 1000 and 0 < report["peak_rss_mib"] < 4096
    assert report["output_mib"] > 0


def test_search_benchmark_small():
    search = load("search")
    result = search.main(["--rows", "3000", "--queries", "50"])
    assert result["rows"] == 3000 and result["ann_recall_at_10"] >= 0.9
    quality = result["news_title_retrieval"]
    assert set(quality) == {"dense", "bm25", "hybrid"}
    assert all(0.4 < q["ndcg_at_10"] <= 1 for q in quality.values())


def test_classify_benchmark_quick():
    classify = load("classify")
    args = ["--quick"] + ([] if importlib.util.find_spec("fasttext") else ["--no-fasttext"])
    results = classify.main(args)
    for dataset in ("20 Newsgroups", "election tweets"):
        ours = results[dataset]["rows"]["lexdense + logreg"]
        assert ours["accuracy"] > 0.6 and ours["roc_auc"] > 0.85
        assert results[dataset]["rows"]["TF-IDF + logreg"]["accuracy"] > 0.6
        if importlib.util.find_spec("fasttext"):
            assert {"fastText autotuned", "fastText fixed (tutorial)"} <= set(results[dataset]["rows"])


def test_dedup_benchmark_quick():
    dedup = load("dedup")
    args = ["--quick"] + ([] if importlib.util.find_spec("datasketch") else ["--no-minhash"])
    results = dedup.main(args)
    best = max(r["f1"] for r in results["lexdense"].values())
    assert results["planted"] == 100 and best > 0.8


def test_keyword_topics_benchmark_quick():
    bench = load("keyword_topics")
    results = bench.main(["--quick", "--no-lbl2vec"])
    for dataset in ("20 Newsgroups", "Reuters R8"):
        ours = results[dataset]["rows"]["lexdense KeywordTopics"]
        assert ours["auc_mean"] > 0.9 and ours["micro_f1"] > 0.5 and 0 <= ours["ece"] < 0.3


def test_anomaly_and_discover_benchmarks_quick():
    anomaly = load("anomaly")
    results = anomaly.main(["--quick", "--no-deep"])
    assert results["mean_auroc"]["knn"]["lexdense-base"] > 0.7
    assert set(results["select_holdout"]) >= {"mae_rank1", "mae_additive"}
    discover = load("discover")
    rows = discover.main(["--quick", "--no-bertopic"])["rows"]
    assert rows["lexdense discover on lexdense-base (reassign)"]["nmi"] > 0.4


def test_explain_benchmark_quick():
    explain = load("explain")
    results = explain.main(["--quick"])
    vocabulary = results["banks"]["vocabulary (20,000 words)"]
    assert 0.3 < vocabulary["fidelity_mean"] <= 1 and vocabulary["code_accuracy"] > 0.4
    assert results["probe"]["median_dims"] >= 1


def test_load_benchmark_small():
    load_test = load("load")
    report = load_test.main(["--clients", "4", "--seconds", "2"])
    assert report["requests"] > 4 and report["errors"] == 0
    assert set(report["endpoints"]) == {"/embed", "/search"}


def test_scaling_benchmark_small():
    scaling = load("scaling")
    result = scaling.main(["--size-mib", "4", "--repeat", "1"])
    assert set(result["threads"]) == set(result["workers"]) == {1, 2} and result["per_billion"]["core_hours"] > 0
