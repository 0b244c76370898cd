"""Pictures of a fitted :class:`lexdense.discover.TopicDiscovery`: the 2-D document map (PNG
and interactive HTML) and the keyword chart.

Topics are categories, so they get a categorical palette (never a continuous colour scale),
the same colour for a topic in every picture, and a legend of topic names ("3: nasa, orbit,
launch"). Outliers are grey. Topics past the palette share one light colour, so no two
legend entries look alike.
"""

from __future__ import annotations

import html
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Tableau 10 without its grey (outliers are grey), then olive, navy and charcoal: twelve hues
# told apart on white, for the largest topics.
TOPIC_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
                 "#ff9da7", "#a0a020", "#283593", "#444444")
# Outliers pale grey, the topics past the palette a darker slate: grey and grey-blue looked alike.
OUTLIER_COLOUR, SMALL_TOPIC_COLOUR = "#dadada", "#7d8ca3"


def topic_colour(topic: int) -> str:
    """The colour of a topic in every picture (and on the server's page)."""
    if topic < 0:
        return OUTLIER_COLOUR
    return TOPIC_PALETTE[topic] if topic < len(TOPIC_PALETTE) else SMALL_TOPIC_COLOUR


def _groups(fitted, shown: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
    """(legend name, colour, row numbers) of the largest topics, then the rest, then outliers."""
    labels, names = fitted.labels_, fitted.topic_names()
    sizes = np.bincount(labels[labels >= 0], minlength=len(names))
    named = min(len(names), len(TOPIC_PALETTE))
    groups = [(f"{names[t]} ({sizes[t]:,})", topic_colour(t), shown[labels[shown] == t]) for t in range(named)]
    rest = shown[labels[shown] >= named]
    if len(rest):
        groups.append((f"{len(names) - named} smaller topics ({int(sizes[named:].sum()):,})", SMALL_TOPIC_COLOUR, rest))
    out = shown[labels[shown] < 0]
    if len(out):
        groups.append((f"outliers ({int((labels < 0).sum()):,})", OUTLIER_COLOUR, out))
    return groups


def _view(xy: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis ranges holding 99% of the points and a margin: UMAP leaves a few points far away,
    which squeezed the whole map into a corner."""
    low, high = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
    pad = (high - low) * 0.06 + 1e-9
    return (float(low[0] - pad[0]), float(high[0] + pad[0])), (float(low[1] - pad[1]), float(high[1] + pad[1]))


def _centres(fitted, xy: np.ndarray) -> list[tuple[int, float, float]]:
    """(topic, x, y): the median point of each named topic, where its number is written."""
    centres = []
    for t in range(min(len(fitted.topic_vectors_), len(TOPIC_PALETTE))):
        members = np.flatnonzero(fitted.labels_ == t)
        if len(members):
            cx, cy = np.median(xy[members], axis=0)
            centres.append((t, float(cx), float(cy)))
    return centres


def plot_map(fitted, path: str | os.PathLike, max_points: int = 20000) -> Path:
    """PNG of the fit's documents in 2-D, one colour per topic, legend of topic names beside."""
    import matplotlib.patheffects as effects

    from lexdense.eval.chart import pyplot, save_png

    plt = pyplot()
    xy = fitted.map_2d()
    shown = np.sort(np.random.default_rng(fitted.seed).permutation(len(xy))[:max_points])
    figure, axes = plt.subplots(figsize=(10, 5.6), dpi=100)
    size = 6 if len(shown) < 3000 else 3
    for name, colour, rows in reversed(_groups(fitted, shown)):  # outliers first, underneath
        axes.scatter(xy[rows, 0], xy[rows, 1], s=size * (0.6 if colour == OUTLIER_COLOUR else 1), c=colour,
                     label=name, linewidths=0)
    (x0, x1), (y0, y1) = _view(xy)
    axes.set_xlim(x0, x1)
    axes.set_ylim(y0, y1)
    outline = [effects.withStroke(linewidth=3, foreground="white")]
    for t, cx, cy in _centres(fitted, xy):
        axes.text(cx, cy, str(t), fontsize=11, weight="bold", ha="center", va="center", path_effects=outline)
    handles, names = axes.get_legend_handles_labels()
    axes.legend(handles[::-1], names[::-1], loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8,
                markerscale=2.5, frameon=False, title="topic: top keywords (documents)", title_fontsize=8)
    axes.set_xticks([])
    axes.set_yticks([])
    share = fitted.outlier_share_["final"]
    axes.set_title(f"{len(fitted.topic_vectors_)} topics over {len(xy):,} documents, {share:.0%} outliers",
                   fontsize=11)
    return save_png(figure, path)


def plot_keywords(fitted, path: str | os.PathLike, topics: int = 8, words: int = 6) -> Path:
    """PNG: per topic (largest first), a bar per keyword, its length the class-based TF-IDF
    score, the value written at its end; bars in the topic's map colour."""
    from lexdense.errors import InputError
    from lexdense.eval.chart import pyplot, save_png

    fitted._check_fitted("topic_vectors_")
    if any(kws and not scores for kws, scores in zip(fitted.keywords_, fitted.keyword_scores_)):
        raise InputError("this TopicDiscovery has keywords without scores (saved by an older lexdense): "
                         "fit it again to chart them")
    plt = pyplot()
    info = fitted.topic_info().slice(0, topics).to_pylist()
    cols = min(4, max(1, len(info)))
    rows = max(1, int(np.ceil(len(info) / cols)))
    figure, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.3 * rows + 0.5), dpi=100, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    top = max((s for entry in info for s in entry["scores"][:words]), default=1.0)
    for ax, entry in zip(axes.ravel(), info):
        ax.axis("on")
        kws, scores = entry["keywords"][:words][::-1], entry["scores"][:words][::-1]
        ax.barh(range(len(kws)), scores, color=topic_colour(entry["topic"]), height=0.7)
        for y, score in enumerate(scores):
            ax.text(score + top * 0.02, y, f"{score:.3f}", va="center", fontsize=7, color="#333333")
        ax.set_yticks(range(len(kws)), kws, fontsize=9)
        ax.set_xlim(0, top * 1.3)  # one scale for all panels, room for the values
        ax.tick_params(axis="x", labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title(f"topic {entry['topic']}  ({entry['size']:,} documents)", fontsize=9)
    figure.suptitle("Top keywords per topic, class-based TF-IDF score (longer = more typical of the topic)",
                    fontsize=10)
    return save_png(figure, path)


def save_html_map(fitted, path: str | os.PathLike, texts: Sequence[str] | None = None) -> Path:
    """Interactive HTML map (plotly inlined, works offline): one legend entry per topic name
    (click to hide it), outliers grey, topic numbers at their centres, hover shows the text."""
    import plotly.graph_objects as go

    from lexdense.io.atomic import atomic_file

    xy = fitted.map_2d()
    names = fitted.topic_names()
    figure = go.Figure()
    for name, colour, rows in reversed(_groups(fitted, np.arange(len(xy)))):
        hover = []
        for i in rows:
            t = int(fitted.labels_[i])
            head = "outlier" if t < 0 else f"topic {names[t]}"
            body = " ".join(str(texts[i]).split())[:300] if texts is not None else ""
            hover.append(f"<b>{html.escape(head)}</b><br>" + "<br>".join(html.escape(line)
                                                                       for line in textwrap.wrap(body, 70)))
        figure.add_trace(go.Scattergl(x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=name, text=hover,
                                      hoverinfo="text", marker={"size": 5, "color": colour}))
    # annotations, not a text trace: WebGL points are drawn over every trace's text
    for t, cx, cy in _centres(fitted, xy):
        figure.add_annotation(x=cx, y=cy, text=f"<b>{t}</b>", showarrow=False, font={"size": 15, "color": "#1d2330"},
                              bgcolor="rgba(255,255,255,0.8)", borderpad=1)
    (x0, x1), (y0, y1) = _view(xy)
    share = fitted.outlier_share_["final"]
    figure.update_layout(title=f"lexdense topics: {len(names)} topics over {len(xy):,} documents, "
                               f"{share:.0%} outliers",
                         template="simple_white", legend={"title": {"text": "topic: top keywords (documents)"},
                                                          "traceorder": "reversed", "itemsizing": "constant"},
                         xaxis={"visible": False, "range": [x0, x1]}, yaxis={"visible": False, "range": [y0, y1]},
                         margin={"l": 20, "r": 20, "t": 60})
    path = Path(path)
    with atomic_file(path, suffix=".html") as tmp:
        tmp.write_text(figure.to_html(include_plotlyjs=True, full_html=True), encoding="utf-8")
    return path
