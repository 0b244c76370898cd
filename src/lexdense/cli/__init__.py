"""The `lexdense` command line: one module per command (or pair of commands) over the shared
app, one-line error handling and corpus helpers of :mod:`lexdense.cli._common`."""
# ruff: noqa: I001, F401  (the command modules register themselves: their order is `--help`'s)

from __future__ import annotations

import sys

from lexdense.cli._common import _fail, app, err
from lexdense.cli import embed, search, classify, dedup, topics, anomalies, discover, explain, serve


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.exit(1)
