"""The chart people read: quality against throughput, one point per model."""

from __future__ import annotations

import os
from pathlib import Path

from lexdense.io.atomic import atomic_file


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(figure, path: str | os.PathLike) -> Path:
    """Lay out, write atomically as PNG, close the figure."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path = Path(path)
    with atomic_file(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
    return path


FAMILY_ORDER = ("classification", "clustering", "retrieval", "pair-classification", "sts")


def _spread_labels(points: list[tuple[float, float, str]], min_gap: float) -> dict[str, float]:
    """Label heights (data units) at least ``min_gap`` apart, each as close to its point as
    that allows, so neighbouring models' names never print over each other."""
    placed: dict[str, float] = {}
    last = None
    for _, y, name in sorted(points, key=lambda p: p[1]):
        height = y if last is None else max(y, last + min_gap)
        placed[name] = height
        last = height
    return placed


def quality_speed_chart(results: dict[str, dict], path: str | os.PathLike, title: str = "") -> Path:
    """Write a PNG for ``evaluate`` results: mean score against docs/s (log scale), and
    beside it each model's mean per task family.

    :param results: model name -> the dict :func:`lexdense.eval.evaluate` returned.
    """
    import numpy as np

    plt = pyplot()
    figure, (axes, bars) = plt.subplots(1, 2, figsize=(12.5, 4.6), dpi=120,
                                        gridspec_kw={"width_ratios": [1, 1.25]})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(results)
    colour = {name: colours[i % len(colours)] for i, name in enumerate(names)}
    points = [(r["speed"]["docs_per_s"], r["summary"]["mean"], n) for n, r in results.items()]
    ys = [p[1] for p in points]
    span = (max(ys) - min(ys)) or 0.1
    heights = _spread_labels(points, 0.06 * span)
    for x, y, name in points:
        axes.scatter([x], [y], s=50, color=colour[name], zorder=3)
        axes.annotate(name, (x, y), xytext=(x * 1.35, heights[name]), textcoords="data", fontsize=9,
                      va="center", arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.6})
    axes.set_xscale("log")
    axes.margins(x=0.45, y=0.25)
    axes.set_xlabel("documents per second (log scale, this machine)")
    axes.set_ylabel("mean main score, all tasks")
    axes.set_title(title or "quality vs throughput")
    axes.grid(True, which="both", alpha=0.3)

    families = [f for f in FAMILY_ORDER if any(f"mean_{f}" in r["summary"] for r in results.values())]
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        values = [results[name]["summary"].get(f"mean_{f}", np.nan) for f in families]
        bars.bar(np.arange(len(families)) + (i - (len(names) - 1) / 2) * width, values, width,
                 label=name, color=colour[name])
    bars.set_xticks(np.arange(len(families)), [{"pair-classification": "pair classif.", "sts": "STS-like (labels)"}.get(f, f) for f in families])
    bars.set_ylabel("family mean (MTEB main score)")
    bars.set_ylim(0, 1)
    bars.set_title("mean per task family")
    bars.grid(True, axis="y", alpha=0.3)
    bars.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(3, len(names)), frameon=False)
    return save_png(figure, path)
