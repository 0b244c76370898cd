"""Optional features and the extras that install them: ``pip install 'lexdense[EXTRA]'``.

The core install loads models, encodes, reads and writes corpora and runs the CLI; each
workflow needs its extra. :func:`require` checks one before any work starts and raises a
one-line :class:`MissingExtraError` naming the pip command; :func:`extra_for` names the
extra behind an ``ImportError`` raised deeper down.
"""

from __future__ import annotations

import importlib.util

from lexdense.errors import LexDenseError

# extra -> the import names it provides (pyproject.toml's optional-dependencies, same keys)
EXTRAS: dict[str, tuple[str, ...]] = {
    "search": ("usearch", "bm25s", "scipy"),
    "classify": ("sklearn",),
    "topics": ("sklearn", "scipy", "umap"),
    "anomaly": ("pyod", "sklearn"),
    "explain": ("sklearn",),
    "plots": ("matplotlib", "plotly"),
    "serve": ("fastapi", "uvicorn", "usearch", "bm25s", "scipy", "sklearn"),
    "train": ("torch", "sentence_transformers", "sklearn"),
    "eval": ("sklearn", "scipy", "bm25s", "matplotlib"),
    "mteb": ("mteb",),
    "scale": ("ray",),
    "bertopic": ("bertopic", "hdbscan"),
}

# The extra to name for a module nobody asked for by extra (first listed wins).
_MODULE_EXTRA: dict[str, str] = {}
for _extra, _modules in EXTRAS.items():
    for _module in _modules:
        _MODULE_EXTRA.setdefault(_module, _extra)


class MissingExtraError(LexDenseError, ImportError):
    """A feature's optional dependencies are not installed."""


def missing(extra: str) -> list[str]:
    """Import names of ``extra`` that are not installed."""
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra '{extra}': expected one of {', '.join(EXTRAS)}")
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, feature: str | None = None) -> None:
    """Raise :class:`MissingExtraError` unless every package of ``extra`` is installed."""
    absent = missing(extra)
    if absent:
        what = feature or f"this feature ({extra})"
        raise MissingExtraError(f"{what} needs {', '.join(absent)}, which "
                                f"{'is' if len(absent) == 1 else 'are'} not installed: "
                                f"pip install 'lexdense[{extra}]'")


def extra_for(error: ImportError) -> str | None:
    """The extra that installs the module an ``ImportError`` names, if it is one of ours."""
    name = getattr(error, "name", None) or ""
    return _MODULE_EXTRA.get(name.split(".")[0])
