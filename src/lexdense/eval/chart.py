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


# Where a point's name may go, in points from the point: right, left, above, below, diagonals.
LABEL_SPOTS = ((8, 0, "left", "center"), (-8, 0, "right", "center"), (0, 9, "center", "bottom"),
               (0, -9, "center", "top"), (8, 9, "left", "bottom"), (8, -9, "left", "top"),
               (-8, 9, "right", "bottom"), (-8, -9, "right", "top"), (8, 20, "left", "bottom"),
               (8, -20, "left", "top"), (-8, 20, "right", "bottom"), (-8, -20, "right", "top"))


def place_labels(axes, points: list[tuple[float, float, str]], fontsize: float = 9) -> list:
    """Name each point next to it where the name overlaps no other name, no point and stays in
    the axes: each label takes the first free spot of ``LABEL_SPOTS`` (measured in display
    pixels, so it holds for log axes and any figure size), else the least crowded one.

    Parameters
    ----------
    points
        (x, y, name) in data coordinates.

    Returns
    -------
        the matplotlib Text of each label, in the order of ``points``.
    """
    figure = axes.figure
    renderer = figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    dots = [axes.transData.transform((x, y)) for x, y, _ in points]
    radius = 6.0  # pixels around a marker that a name must leave free
    placed: list = []
    texts = []
    for (x, y, name), _ in zip(points, dots):
        best, best_cost = None, None
        for dx, dy, ha, va in LABEL_SPOTS:
            text = axes.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                 fontsize=fontsize)
            box = text.get_window_extent(renderer).expanded(1.06, 1.15)
            cost = sum(_overlap(box, other) for other in placed)
            cost += sum(_overlap(box, (px - radius, py - radius, px + radius, py + radius)) for px, py in dots)
            inside = box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1
            cost += 0 if inside else 1e9
            if best_cost is None or cost < best_cost:
                if best is not None:
                    best[0].remove()
                best, best_cost = (text, box), cost
            else:
                text.remove()
            if cost == 0:
                break
        assert best is not None
        placed.append(best[1])
        texts.append(best[0])
    return texts


def _overlap(box, other) -> float:
    """Area (pixels) shared by a matplotlib Bbox and another Bbox or (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = other if isinstance(other, tuple) else (other.x0, other.y0, other.x1, other.y1)
    return max(0.0, min(box.x1, x1) - max(box.x0, x0)) * max(0.0, min(box.y1, y1) - max(box.y0, y0))


def quality_speed_chart(results: dict[str, dict], path: str | os.PathLike, title: str = "") -> Path:
    """Write a PNG for ``evaluate`` results: mean score against docs/s (log scale), and
    beside it each model's mean per task family.

    Parameters
    ----------
    results
        model name -> the dict :func:`lexdense.eval.evaluate` returned.
    """
    import numpy as np

    plt = pyplot()
    figure, (axes, bars) = plt.subplots(1, 2, figsize=(12.5, 4.6), dpi=120,
                                        gridspec_kw={"width_ratios": [1, 1.25]})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(results)
    colour = {name: colours[i % len(colours)] for i, name in enumerate(names)}
    points = [(r["speed"]["docs_per_s"], r["summary"]["mean"], n) for n, r in results.items()]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    for x, y, name in points:
        axes.scatter([x], [y], s=50, color=colour[name], zorder=3)
    axes.set_xscale("log")
    # room for names on either side: a factor of 12 beyond the extreme speeds, 0.04 in score
    axes.set_xlim(min(xs) / 12, max(xs) * 12)
    span = (max(ys) - min(ys)) or 0.1
    axes.set_ylim(min(ys) - 0.15 * span, max(ys) + 0.15 * span)
    axes.set_xlabel("documents per second (log scale, this machine)")
    axes.set_ylabel("mean main score, all tasks")
    axes.set_title(title or "quality vs throughput")
    axes.grid(True, which="major", alpha=0.3)
    figure.tight_layout()  # names are placed in the final layout's pixels
    place_labels(axes, points)

    families = [f for f in FAMILY_ORDER if any(f"mean_{f}" in r["summary"] for r in results.values())]
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        values = [results[name]["summary"].get(f"mean_{f}", np.nan) for f in families]
        bars.bar(np.arange(len(families)) + (i - (len(names) - 1) / 2) * width, values, width,
                 label=name, color=colour[name])
    short = {"pair-classification": "pair classif.", "sts": "STS-like (labels)"}
    bars.set_xticks(np.arange(len(families)), [short.get(f, f) for f in families])
    bars.set_ylabel("family mean (MTEB main score)")
    bars.set_ylim(0, 1)
    bars.set_title("mean per task family")
    bars.grid(True, axis="y", alpha=0.3)
    bars.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(3, len(names)), frameon=False)
    return save_png(figure, path)
