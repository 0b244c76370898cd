"""Ablations behind lexdense-base's recipe, scored on every family of `lexdense eval`.

Each row changes one setting of the base recipe (a seeded sample of the recipe's passages,
fewer epochs) or post-processes the base row's model; every model is scored on the whole
core suite (family means and the overall mean). Teacher vectors come from the cache that
`python models/recipe.py --labels-only` fills, so each row costs only its training and its
evaluation. Writes models/ablations.json and the table in models/ablations.md.

Usage: python models/ablations.py [--passages 100000] [--epochs 3] [--only NAME ...]
       python models/ablations.py --reference potion:.cache/potion-base-8M   (adds a row)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "models" / "ablations.json"
TABLE_MARK = "table"  # the block of models/ablations.md that write_table replaces

BASE = dict(n_words=32000, n_bigrams=0, oov_rate=0.15, loss="cosine", d_hidden=256, teacher_words=True,
            teacher_precision="auto")
VARIANTS = {
    "base recipe": {},
    "loss: cosine + in-batch contrastive (InfoNCE, 0.1)": {"loss": "cosine+contrastive"},
    "targets: teacher PCA, first 256 components": {"d_out": 256},
    "learned per-feature weight (trainable IDF)": {"feature_weights": True},
    "with 10,000 word pairs (negation: 'not good')": {"n_bigrams": 10000},
    "token rows 384 wide": {"d_embed": 384},
    "60,000 corpus words, 16,384 character rows": {"n_words": 60000, "n_buckets": 16384},
}
# Applied to the base row's model (folded into its output layer: no speed cost).
POSTPROCESS = {
    "base + centred outputs (hubness reduction)": 0.0,
    "base + whitening, alpha 0.5": 0.5,
    "base + whitening, alpha 1 (WhiteningBERT)": 1.0,
}


def score(encoder) -> dict:
    from lexdense.eval import evaluate

    started = time.perf_counter()
    result = evaluate(encoder)
    return {"summary": result["summary"], "tasks": {k: v["main_score"] for k, v in result["tasks"].items()},
            "docs_per_s": result["speed"]["docs_per_s"], "eval_s": time.perf_counter() - started}


def sample_texts(n: int = 5000) -> list[str]:
    """Texts to estimate output statistics on: distillation passages, never evaluation text."""
    from recipe import corpus

    documents, _ = corpus()
    step = max(1, len(documents) // n)
    return documents[::step][:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=100000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="names of rows to (re)run")
    parser.add_argument("--reference", nargs="*", default=[], help="encoder specs to score as reference rows")
    parser.add_argument("--tag", help="write models/ablations-TAG.json and a table in models/ablations.md under its "
                        "own heading (rows measured on another machine or suite stay apart)")
    parser.add_argument("--postprocess-model", type=Path,
                        help="only the post-processing rows, applied to this (full recipe) model")
    args = parser.parse_args()

    from lexdense.distill import distill
    from lexdense.distill.postprocess import fold_affine
    from recipe import corpus

    global RESULTS, TABLE_MARK
    if args.tag:
        RESULTS = ROOT / "models" / f"ablations-{args.tag}.json"
        TABLE_MARK = f"table-{args.tag}"
    rows = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    wanted = lambda name: not args.only or name in args.only  # noqa: E731
    if args.postprocess_model:
        from lexdense import LexDense

        full = LexDense.load(args.postprocess_model)
        texts = sample_texts()
        for label, alpha in [("full recipe, no post-processing", None), *POSTPROCESS.items()]:
            name = label.replace("base + ", "full recipe + ")
            start = time.perf_counter()
            model = full if alpha is None else fold_affine(full, texts, alpha=alpha)
            rows[name] = {**score(model), "train_s": time.perf_counter() - start if alpha is not None else None,
                          "passages": None, "epochs": None, "validation_cosine": None}
            print(name, json.dumps(rows[name]["summary"]), flush=True)
            RESULTS.write_text(json.dumps(rows, indent=1))
        write_table(rows)
        return
    documents, _ = corpus()
    base_model = None
    for name, change in VARIANTS.items():
        if not wanted(name) and not (name == "base recipe" and any(wanted(p) for p in POSTPROCESS)):
            continue
        settings = {**BASE, "epochs": args.epochs, **change}
        start = time.perf_counter()
        model = distill("sentence-transformers/all-MiniLM-L6-v2", documents, None, max_passages=args.passages,
                        cache_dir=ROOT / ".cache" / "lexdense", show_progress=False, **settings)
        seconds = time.perf_counter() - start
        if name == "base recipe":
            base_model = model
        if not wanted(name):
            continue
        log = model.config["distillation"]
        rows[name] = {**score(model), "train_s": seconds, "passages": args.passages, "epochs": args.epochs,
                      "validation_cosine": log["log"][-1]["validation_cosine"] if log["log"] else None}
        print(name, json.dumps(rows[name]["summary"]), f"{seconds:.0f}s", flush=True)
        RESULTS.write_text(json.dumps(rows, indent=1))
    if base_model is not None:
        texts = sample_texts()
        for name, alpha in POSTPROCESS.items():
            if not wanted(name):
                continue
            start = time.perf_counter()
            folded = fold_affine(base_model, texts, alpha=alpha)
            rows[name] = {**score(folded), "train_s": time.perf_counter() - start, "passages": args.passages,
                          "epochs": args.epochs, "validation_cosine": None}
            print(name, json.dumps(rows[name]["summary"]), flush=True)
            RESULTS.write_text(json.dumps(rows, indent=1))
    for spec in args.reference:
        from lexdense.eval.encoders import load_encoder

        label, encoder = load_encoder(spec)
        rows[f"reference: {label}"] = {**score(encoder), "train_s": None, "passages": None, "epochs": None,
                                       "validation_cosine": None}
        RESULTS.write_text(json.dumps(rows, indent=1))
    write_table(rows)


def write_table(rows: dict) -> None:
    families = sorted({k for r in rows.values() for k in r["summary"] if k != "mean"})
    header = "| row | " + " | ".join(f.removeprefix("mean_") for f in families) + \
             " | mean | val. cosine | docs/s in suite | time (s) |"
    lines = [header, "|" + "---|" * (len(families) + 5)]
    for name, r in rows.items():
        s = r["summary"]
        val = f"{r['validation_cosine']:.3f}" if r.get("validation_cosine") else "-"
        took = f"{r['train_s']:.0f}" if r.get("train_s") else "-"
        lines.append(f"| {name} | " + " | ".join(f"{s[f]:.3f}" if f in s else "-" for f in families) +
                     f" | **{s['mean']:.3f}** | {val} | {r['docs_per_s']:,.0f} | {took} |")
    path = ROOT / "models" / "ablations.md"
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Ablations\n"
    start, end = f"<!-- {TABLE_MARK}:start -->", f"<!-- {TABLE_MARK}:end -->"
    block = f"{start}\n" + "\n".join(lines) + f"\n{end}"
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    main()
