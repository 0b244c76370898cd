"""Write the measured figures into README.md and the shipped model card.

Reads benchmarks/results/{speed,eval,memory}.json (written by the benchmark scripts),
models/ablations.md (models/ablations.py) and the model's config.json; replaces the text
between `<!-- results:start -->` and `<!-- results:end -->` in README.md, and writes
src/lexdense/models/lexdense-base/README.md from models/MODEL_CARD.md. No figure is typed by hand.

Usage: python benchmarks/report.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODEL_DIR = ROOT / "src" / "lexdense" / "models" / "lexdense-base"


def load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


FAMILIES = ("classification", "clustering", "retrieval", "pair-classification", "sts")
TEACHER = "all-MiniLM-L6-v2"


def family_table(data: dict) -> str:
    """Family means and overall mean per model (from `lexdense eval`), and lexdense-base's
    share of the teacher's and of potion's."""
    if not data:
        return "(not measured yet: `make bench`)"
    models = list(data)
    families = [f for f in FAMILIES if any(f"mean_{f}" in r["summary"] for r in data.values())]
    n_tasks = {f: sum(1 for t in next(iter(data.values()))["tasks"].values() if t["kind"] == f) for f in families}
    lines = ["| model | " + " | ".join(f"{f} ({n_tasks[f]})" for f in families) + " | mean |",
             "|---|" + "---|" * (len(families) + 1)]
    n_all = max(len(r["tasks"]) for r in data.values())
    for m in models:
        summary = data[m]["summary"]
        mean = summary.get("mean") if len(data[m]["tasks"]) == n_all else None
        cells = [f"{summary[f'mean_{f}']:.3f}" if f"mean_{f}" in summary else "-" for f in families]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | **{mean:.3f}** |" if mean is not None else
                     f"| {m} | " + " | ".join(cells) + " | - |")
    ours = data.get("lexdense-base")
    for other in [m for m in models if m == TEACHER or m.startswith("potion:")]:
        if ours is None:
            break
        cells = []
        for key in [f"mean_{f}" for f in families] + ["mean"]:
            a, b = ours["summary"].get(key), data[other]["summary"].get(key)
            cells.append(f"{100 * a / b:.0f}%" if a is not None and b else "-")
        lines.append(f"| lexdense-base / {other} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed_table(speed: dict) -> str:
    rows = ["| embedder | long: docs/s | long: MiB/s | short: docs/s | short: MiB/s | lexdense speed-up (long / short) |",
            "|---|---|---|---|---|---|"]
    results = speed.get("results", {})
    base = results.get("lexdense", {})
    for name, kinds in results.items():
        long, short = kinds.get("long", {}), kinds.get("short", {})
        if name == "lexdense":
            ratio = "-"
        else:
            ratio = (f"{base['long']['docs_per_s'] / long['docs_per_s']:.1f}x / "
                     f"{base['short']['docs_per_s'] / short['docs_per_s']:.1f}x")
        rows.append(f"| {name} | {long.get('docs_per_s', 0):,.0f} | {long.get('mib_per_s', 0):.1f} | "
                    f"{short.get('docs_per_s', 0):,.0f} | {short.get('mib_per_s', 0):.2f} | {ratio} |")
    return "\n".join(rows)


def profile_text(speed: dict) -> str:
    lines = []
    for kind, shares in speed.get("lexdense_profile", {}).items():
        parts = ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v:.0%}" for k, v in shares.items() if k != "total_s")
        lines.append(f"- {kind} texts: {parts}")
    return "\n".join(lines)


def memory_text(memory: dict) -> str:
    if not memory:
        return "(not measured yet: `python benchmarks/memory.py`)"
    return (f"`lexdense embed` over {memory['input_mib']:,.0f} MiB of news text ({memory['documents']:,} documents): "
            f"peak resident memory **{memory['peak_rss_mib']:,.0f} MiB**, {memory['docs_per_s']:,} docs/s, "
            f"{memory['mib_per_s']} MiB/s, {memory['output_mib']:,.0f} MiB of Parquet out.")


def results_block() -> str:
    speed, memory = load("speed"), load("memory")
    config = json.loads((MODEL_DIR / "config.json").read_text())
    log = config.get("distillation", {})
    size = sum(p.stat().st_size for p in MODEL_DIR.iterdir()) / 2**20
    return "\n".join([
        "Measured on this project's 2-core machine; every row of a table comes from one run of",
        "the command below it. Speed (`python benchmarks/speed.py --potion .cache/potion-base-8M --luxical --teacher`):",
        "", speed_table(speed), "",
        "Long: 3,729 NewsArticles (~3.6 kB). Short: 63,326 health tweets (~100 B). The teacher and",
        "Luxical run on a subsample (see the script); the others are the best of three passes. Where lexdense's own time goes:", "",
        profile_text(speed), "",
        "Quality by task family (MTEB main scores, family means over the tasks in brackets; the",
        "whole table and its command are in the next section; tasks in docs/data.md):", "",
        family_table(load("eval")), "",
        f"Model: {size:.1f} MiB on disk. Distilled from scratch on 2 cores (`make model`): "
        + (f"{sum(r['seconds'] for r in log.get('labelling_sittings', [])) / 60:.0f} minutes of teacher labelling "
           f"(bfloat16, resumable) and {log.get('total_s', 0) / 60:.0f} of training."
           if log.get("labelling_sittings") else f"{log.get('wall_clock_s', 0) / 60:.0f} minutes."), "",
        "Memory (`python benchmarks/memory.py`): " + memory_text(memory),
    ])


EVAL_COMMAND = ("lexdense eval -m lexdense-base -m potion:.cache/potion-base-8M -m glove -m tfidf -m bm25 "
                "-m st:sentence-transformers/all-MiniLM-L6-v2 --json benchmarks/results/eval.json --chart docs/eval.png")


def eval_block() -> str:
    """The `lexdense eval` table (all offline tasks) and its chart, from benchmarks/results/eval.json."""
    data = load("eval")
    if not data:
        return "(not measured yet)"
    models = list(data)
    tasks = list(dict.fromkeys(t for r in data.values() for t in r["tasks"]))
    kind = {t: r["tasks"][t]["kind"] for r in data.values() for t in r["tasks"]}
    tasks.sort(key=lambda t: FAMILIES.index(kind[t]) if kind[t] in FAMILIES else len(FAMILIES))
    keys = list(dict.fromkeys(k for r in data.values() for k in r["summary"]))
    complete = {m: len(data[m]["tasks"]) == len(tasks) for m in models}

    def cell(model: str, value: float | None, bold: bool = False) -> str:
        return "-" if value is None else (f"**{value:.3f}**" if bold else f"{value:.3f}")

    reused = sorted({m for m in models for t in data[m]["tasks"].values() if t.get("reused")})
    note = ([f"Tasks of {', '.join(reused)} whose data fingerprint matched an earlier run were taken from it "
             "(`--reuse`); the same command without it recomputes them.", ""] if reused else [])
    lines = [f"`{EVAL_COMMAND}` (tasks: docs/data.md; `-` = not run: BM25 only ranks, so it has",
             "retrieval rows only and no overall mean):", "", *note,
             "| task | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for task in tasks:
        lines.append(f"| {task} | " + " | ".join(
            cell(m, data[m]["tasks"].get(task, {}).get("main_score")) for m in models) + " |")
    for key in keys:
        lines.append(f"| **{key}** | " + " | ".join(
            cell(m, data[m]["summary"].get(key) if key != "mean" or complete[m] else None, True)
            for m in models) + " |")
    lines.append("| docs/s (whole suite) | " + " | ".join(f"{data[m]['speed']['docs_per_s']:,.0f}" for m in models) + " |")
    lines.append("| suite time (s, embedding only) | " + " | ".join(f"{data[m]['speed']['seconds']:,.0f}" for m in models) + " |")
    if all("wall_seconds" in data[m] for m in models):
        lines.append("| suite time (s, wall, all steps) | " + " | ".join(f"{data[m]['wall_seconds']:,.0f}" for m in models) + " |")
    lines += ["", "docs/s is timed inside the suite (all texts of all tasks, long and short mixed) and moves with",
              "other load on the machine; `benchmarks/speed.py` above is the controlled speed measurement."]
    mpnet = load("mpnet")
    if mpnet:
        texts = next(iter(data.values()))["speed"]["texts"]  # distinct texts the suite embeds
        hours = texts / mpnet["docs_per_s"] / 3600
        lines += ["", f"all-mpnet-base-v2 is not in the table: it embedded {mpnet['docs_per_s']:.1f} docs/s on this suite's "
                  f"texts (`python benchmarks/mpnet_speed.py`, {mpnet['texts']} texts sampled from the suite), so the "
                  f"{texts:,} distinct texts of the suite would take about {hours:.1f} hours "
                  "on these 2 cores; it does not fit in the time this project's runs have."]
    lines += ["", "![quality against throughput](docs/eval.png)"]
    return "\n".join(lines)


def workflows_block() -> str:
    """Figures of the workflow benchmarks (search, keyword topics, classify, dedup)."""
    out: list[str] = []
    search = load("search")
    if search:
        lat = search["latency"]
        out += [f"**Search** (`python benchmarks/search.py --json benchmarks/results/search.json`): "
                f"{search['rows']:,} documents, HNSW (usearch) recall@10 against exact search "
                f"**{search['ann_recall_at_10']:.3f}** over {search['queries']:,} held-out queries; one query "
                f"(embedding included) p50/p99: exact {lat['exact']['p50_ms']:.1f}/{lat['exact']['p99_ms']:.1f} ms, "
                f"ANN {lat['ann']['p50_ms']:.2f}/{lat['ann']['p99_ms']:.2f} ms. NewsArticles title -> article:", "",
                "| ranking | nDCG@10 | recall@100 |", "|---|---|---|"]
        for mode, q in search["news_title_retrieval"].items():
            out.append(f"| {mode} | {q['ndcg_at_10']:.3f} | {q['recall_at_100']:.3f} |")
        out.append("")
    topics = load("keyword_topics")
    if topics:
        out += ["**Keyword topics** (`python benchmarks/keyword_topics.py --json benchmarks/results/keyword_topics.json`; "
                "keywords in benchmarks/keywords/):", "",
                "| data | method | micro-F1 | ROC-AUC mean (min-max) | ECE | coverage / accuracy at conf. 0.5 |",
                "|---|---|---|---|---|---|"]
        for data, entry in topics.items():
            for method, r in entry["rows"].items():
                calib = (f"{r['ece']:.3f} | {r['coverage_at_0.5']:.2f} / {r['accuracy_at_0.5']:.3f}" if "ece" in r
                         else "- | -")
                out.append(f"| {data} | {method} | {r['micro_f1']:.3f} | {r['auc_mean']:.3f} "
                           f"({r['auc_min']:.2f}-{r['auc_max']:.2f}) | {calib} |")
        out.append("")
    classify = load("classify")
    if classify:
        out += ["**Curation classifier** (`python benchmarks/classify.py --json benchmarks/results/classify.json`):", "",
                "| data | classifier | accuracy | ROC-AUC | train s | predict docs/s |", "|---|---|---|---|---|---|"]
        for data, entry in classify.items():
            for method, r in entry["rows"].items():
                out.append(f"| {data} ({entry['train']:,}/{entry['test']:,}) | {method} | {r['accuracy']:.3f} | "
                           f"{r['roc_auc']:.3f} | {r['train_s']:.1f} | {r['predict_docs_per_s']:,.0f} |")
        out.append("")
    dedup = load("dedup")
    if dedup:
        out += [f"**Near-duplicates** (`python benchmarks/dedup.py --json benchmarks/results/dedup.json`): "
                f"{dedup['planted']:,} perturbed copies planted among {dedup['documents'] - dedup['planted']:,} "
                "real documents; pair precision / recall per threshold:", "",
                "| method | threshold | precision | recall | F1 | seconds |", "|---|---|---|---|---|---|"]
        for method in ("lexdense", "minhash"):
            for threshold, r in dedup.get(method, {}).items():
                name = "lexdense (cosine)" if method == "lexdense" else "MinHash LSH (Jaccard)"
                out.append(f"| {name} | {threshold} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
                           f"{r['seconds']:.1f} |")
    anomaly = load("anomaly")
    if anomaly:
        embs = list(next(iter(anomaly["mean_auroc"].values())))
        out += ["", "**Anomaly detection**, Text-ADBench protocol, AUROC averaged over the four `anomaly-*` tasks "
                "(`python benchmarks/anomaly.py --teacher --potion .cache/potion-base-8M --json benchmarks/results/anomaly.json`):",
                "", "| detector | " + " | ".join(embs) + " |", "|---|" + "---|" * len(embs)]
        for det, row in anomaly["mean_auroc"].items():
            out.append(f"| {det} | " + " | ".join(f"{row[e]:.3f}" for e in embs) + " |")
        share, held = anomaly["rank1_share"], anomaly["select_holdout"]
        out += ["", f"Rank-1 share of the AUROC matrix: {share['raw']:.3f} raw, **{share['double_centred']:.3f} "
                f"double-centred**. `--select` completion, each dataset left out with 3 of {held['cells']} cells "
                f"observed: mean absolute error {held['mae_rank1']:.3f} (rank 1) vs {held['mae_additive']:.3f} "
                f"(additive baseline); regret of the pick {held['regret_rank1']:.3f} vs {held['regret_additive']:.3f}."]
    discover = load("discover")
    if discover:
        out += ["", f"**Topic discovery**, 20 Newsgroups test ({discover['documents']:,} posts) "
                "(`python benchmarks/discover.py --teacher --scale 100000 --json benchmarks/results/discover.json`):", "",
                "| pipeline | NMI | ARI | topic diversity | outliers | topics | seconds |", "|---|---|---|---|---|---|---|"]
        for name, r in discover["rows"].items():
            out.append(f"| {name} | {r['nmi']:.3f} | {r['ari']:.3f} | {r['diversity']:.3f} | {r['outliers']:.1%} | "
                       f"{r['topics']} | {r['seconds']:.0f} |")
        if "scale" in discover:
            sc = discover["scale"]
            out += ["", f"{sc['documents']:,} documents end to end (embedding, UMAP, HDBSCAN, 50 topics, keywords): "
                    f"**{sc['seconds']:.0f} s**; outliers {sc['outliers_clustering']:.0%} after clustering, "
                    f"{sc['outliers_final']:.0%} after reassignment."]
    explain = load("explain")
    if explain:
        out += ["", f"**Concept explanations**, 20 Newsgroups ({explain['train']:,} train / {explain['test']:,} test) "
                "(`python benchmarks/explain.py --json benchmarks/results/explain.json`); logistic regression on "
                f"the raw embedding: {explain['raw_accuracy']:.3f}:", "",
                "| concept bank | fidelity (mean) | concepts per text | LR accuracy on the codes | ms per text |",
                "|---|---|---|---|---|"]
        for name, r in explain["banks"].items():
            out.append(f"| {name} | {r['fidelity_mean']:.3f} | {r['concepts_mean']:.1f} | {r['code_accuracy']:.3f} | "
                       f"{r['seconds_per_doc'] * 1000:.0f} |")
        curve = explain["probe"]["accuracy_by_dims_mean"]
        out += ["", "Net2Vec probes (one newsgroup vs the rest, balanced accuracy by top-k dimensions): "
                + ", ".join(f"k={k} {v:.3f}" for k, v in curve.items())
                + f"; median dimensions for 95% of the full probe: {explain['probe']['median_dims']:.0f}. "
                "Most shared top dimensions: " + ", ".join(f"{p['a']} ~ {p['b']} ({p['jaccard']:.2f})"
                                                           for p in explain["probe"]["most_shared"][:3]) + "."]
    scaling = load("scaling")
    if scaling:
        t, w = scaling["threads"], scaling.get("workers", {})
        rounds = scaling.get("repeat", 1)
        line = (f"**Cores** (`python benchmarks/scaling.py --size-mib {scaling['size_mib']} --repeat {rounds} --json "
                f"benchmarks/results/scaling.json`), {scaling['documents']:,} news documents end to end (read, embed, "
                f"write Parquet), medians of {rounds} alternating rounds: one file, 1 thread {t['1']['docs_per_s']:,.0f} "
                f"docs/s, 2 threads {t['2']['docs_per_s']:,.0f} docs/s ({scaling['per_core_efficiency']:.0%} per-core "
                "efficiency)")
        fw = scaling.get("file_workers")
        if fw:
            line += (f", 2 worker processes {fw['2']['docs_per_s']:,.0f} docs/s "
                     f"({scaling['per_core_efficiency_file_workers']:.0%})")
        if w:
            line += (f"; 8 shards, 1 worker process {w['1']['docs_per_s']:,.0f} docs/s, 2 workers "
                     f"{w['2']['docs_per_s']:,.0f} docs/s ({scaling['per_core_efficiency_workers']:.0%} per-core "
                     "efficiency end to end")
            if scaling.get("steady_per_core_efficiency_workers"):
                start = scaling["startup_s"]
                line += (f"; {scaling['steady_per_core_efficiency_workers']:.0%} past the fixed cost of a job, "
                         f"{start['1']:.1f} s with one process and {start['2']:.1f} s with two workers, measured on a "
                         "tiny input")
            line += ")"
        if "kernel" in scaling:
            k = scaling["kernel"]
            line += (f"; `encode` alone in 1 vs 2 processes: {k['one_process']:,.0f} vs {k['two_processes']:,.0f} "
                     f"docs/s ({k['per_core_efficiency']:.0%} per core)")
        pb = scaling["per_billion"]
        line += (f". At the measured single-core rate, 10^9 documents of this length take about "
                 f"{pb['core_hours']:,.0f} core-hours (${pb['cost']:,.0f} at ${pb['price_per_core_hour']}/core-hour).")
        out += ["", line]
    load_test = load("load")
    if load_test:
        ep = load_test["endpoints"]
        out += ["", f"**Service load** (`python benchmarks/load.py --clients {load_test['clients']} --seconds 60 --json "
                f"benchmarks/results/load.json`, client and server on the same 2 cores): {load_test['requests']:,} "
                f"requests in {load_test['seconds']:.0f} s, **{load_test['errors']} errors**, "
                f"{load_test['requests_per_s']:,.0f} requests/s; /embed p50 {ep['/embed']['p50_ms']:.0f} ms, p99 "
                f"{ep['/embed']['p99_ms']:.0f} ms; /search (hybrid) p50 {ep['/search']['p50_ms']:.0f} ms, p99 "
                f"{ep['/search']['p99_ms']:.0f} ms."]
    return "\n".join(out).strip() or "(not measured yet)"


def replace_block(text: str, block: str, name: str = "results") -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{block}\n{end}{tail}"


def main() -> None:
    block = results_block()
    readme = ROOT / "README.md"
    text = replace_block(readme.read_text(), block)
    if "<!-- eval:start -->" in text:
        text = replace_block(text, eval_block(), "eval")
    if "<!-- workflows:start -->" in text:
        text = replace_block(text, workflows_block(), "workflows")
    readme.write_text(text)
    template = (ROOT / "models" / "MODEL_CARD.md").read_text()
    config = json.loads((MODEL_DIR / "config.json").read_text())
    ablations = (ROOT / "models" / "ablations.md").read_text() if (ROOT / "models" / "ablations.md").is_file() else ""
    log = config.get("distillation", {})
    sittings = log.get("labelling_sittings", [])
    labelled = sum(r["seconds"] for r in sittings)
    timing = (f"teacher labelling {labelled / 60:.0f} minutes over {len(sittings)} sitting(s) "
              "(" + ", ".join(f"{r['passages']:,} passages checked, {r['seconds'] / 60:.0f} min" for r in sittings) + "); "
              f"vocabulary, features and training {log.get('total_s', 0) / 60:.0f} minutes "
              f"(timings in config.json)." if sittings else
              f"{log.get('total_s', 0) / 60:.0f} minutes, teacher labelling included.")
    card = (template.replace("{{results}}", block).replace("{{timing}}", timing)
            .replace("{{ablations}}", ablations.replace("# Ablations", "").strip())
            .replace("{{config}}", json.dumps(config, indent=1)))
    (MODEL_DIR / "README.md").write_text(card)
    print("updated README.md and", MODEL_DIR / "README.md")


if __name__ == "__main__":
    main()
