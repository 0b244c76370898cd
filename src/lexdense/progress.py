"""Progress bars (rich) shared by the library and the CLI: on stderr, so stdout holds only results."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def make_progress(*extra_columns, transient: bool = False, in_bytes: bool = False) -> Progress:
    counter = DownloadColumn(binary_units=True) if in_bytes else MofNCompleteColumn()
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), counter,
        *extra_columns, TimeElapsedColumn(), TimeRemainingColumn(), transient=transient,
        console=Console(stderr=True),
    )


def track(items: Iterable, total: int | None = None, description: str = "Working"):
    with make_progress(transient=True) as progress:
        yield from progress.track(items, total=total, description=description)
