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


def quality_speed_chart(results: dict[str, dict], path: str | os.PathLike, title: str = "") -> Path:
    """Write a PNG of mean score (y) against docs/s (x, log scale) for ``evaluate`` results.

    :param results: model name -> the dict :func:`lexdense.eval.evaluate` returned.
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for name, result in results.items():
        x, y = result["speed"]["docs_per_s"], result["summary"]["mean"]
        axes.scatter([x], [y], s=40)
        axes.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=9)
    axes.set_xscale("log")
    axes.margins(x=0.35, y=0.2)
    axes.set_xlabel("documents per second (log scale, this machine)")
    axes.set_ylabel("mean main score")
    axes.set_title(title or "quality vs throughput")
    axes.grid(True, which="both", alpha=0.3)
    return save_png(figure, path)
