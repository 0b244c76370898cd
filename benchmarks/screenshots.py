"""Regenerate the pictures of docs/screenshots/ (``make screenshots``, about 3 minutes on 2 cores).

    python benchmarks/screenshots.py [--out docs/screenshots] [--documents 3729]

- ``serve_search.png``, ``serve_topic_map.png``: the page of ``lexdense serve`` over an index
  of the bundled news articles, after a hybrid search, and its topic map tab (headless Chromium).
- ``discover_map.png``, ``discover_keywords.png``, ``discover_html_map.png``: ``lexdense discover``
  on the same articles (UMAP + HDBSCAN, outliers kept): the PNG map, the keyword chart and the
  interactive HTML map as Chromium shows it.
- ``eval_chart.png``: the chart of ``lexdense eval --chart`` from benchmarks/results/eval.json.

PNGs are quantized to 256 colours to keep the folder small. Needs the plots, serve and topics
extras, playwright and Debian's chromium (``make setup`` installs it as root).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERY = "north korea missile test"


def shrink(path: Path) -> int:
    """Quantize a PNG to a 256-colour palette in place; its size in bytes."""
    from PIL import Image

    image = Image.open(path).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    image.save(path, optimize=True)
    return path.stat().st_size


def browser():
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium not found: install Debian's chromium (make setup does, as root)")
    manager = sync_playwright().start()
    return manager, manager.chromium.launch(executable_path=chromium, args=["--no-sandbox"])


def serve_pictures(out: Path, work: Path, model, texts, titles, outlets, page_factory) -> list[Path]:
    """The page after a search, and its topic map tab."""
    from lexdense.search import SearchIndex
    from lexdense.serve import create_app
    from lexdense.serve.background import serving

    SearchIndex.build(texts, metadata={"title": titles, "outlet": outlets}, model=model).save(work / "index")
    with serving(create_app(model=model, index=work / "index")) as url:
        page = page_factory(1200, 900)
        page.goto(url + "/")
        page.fill("#query", QUERY)
        page.press("#query", "Enter")
        page.wait_for_selector(".hit mark")
        page.screenshot(path=str(out / "serve_search.png"))
        page.click("#tab-map")
        page.wait_for_function("() => document.getElementById('legend').children.length > 0", timeout=120_000)
        page.screenshot(path=str(out / "serve_topic_map.png"), full_page=True)
    return [out / "serve_search.png", out / "serve_topic_map.png"]


def discover_pictures(out: Path, work: Path, model, texts, page_factory) -> list[Path]:
    """Discover's PNG map, keyword chart and HTML map (as Chromium draws it)."""
    from lexdense.discover import TopicDiscovery

    vectors = model.encode(texts)
    fitted = TopicDiscovery(model=model, min_cluster_size=25, outliers="keep").fit(texts, vectors=vectors)
    fitted.plot_map(out / "discover_map.png")
    fitted.plot_keywords(out / "discover_keywords.png")
    fitted.save_html_map(work / "map.html", texts)
    page = page_factory(1400, 800)
    page.goto((work / "map.html").as_uri())
    page.wait_for_selector(".legend")
    page.mouse.move(1, 1)
    page.screenshot(path=str(out / "discover_html_map.png"))
    return [out / "discover_map.png", out / "discover_keywords.png", out / "discover_html_map.png"]


def eval_picture(out: Path) -> list[Path]:
    """The eval chart, from the committed results (models that ran every task, as the CLI does)."""
    from lexdense.eval.chart import quality_speed_chart

    results = json.loads((ROOT / "benchmarks" / "results" / "eval.json").read_text())
    tasks = max(len(r["tasks"]) for r in results.values())
    complete = {name: r for name, r in results.items() if len(r["tasks"]) == tasks}
    return [quality_speed_chart(complete, out / "eval_chart.png")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--documents", type=int, default=3729, help="News articles to index and discover on")
    args = parser.parse_args()

    from lexdense import LexDense
    from lexdense.sources import datasets

    args.out.mkdir(parents=True, exist_ok=True)
    model = LexDense.load("lexdense-base")
    news = datasets.news_articles()
    n = args.documents
    manager, chromium = browser()

    def page_factory(width: int, height: int):
        return chromium.new_page(viewport={"width": width, "height": height})

    written = []
    try:
        with tempfile.TemporaryDirectory(prefix="lexdense-shots-") as tmp:
            work = Path(tmp)
            written += eval_picture(args.out)
            written += serve_pictures(args.out, work, model, news.texts[:n], news.titles[:n], news.labels[:n],
                                      page_factory)
            written += discover_pictures(args.out, work, model, news.texts[:n], page_factory)
    finally:
        chromium.close()
        manager.stop()
    total = 0
    for path in written:
        size = shrink(path)
        total += size
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {size / 1024:.0f} kB")
    print(f"{len(written)} pictures, {total / 1024:.0f} kB")


if __name__ == "__main__":
    main()
