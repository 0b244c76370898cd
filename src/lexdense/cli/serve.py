"""`lexdense serve, demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from lexdense.cli._common import _guard, app, err
from lexdense.cli.options import ModelOption
from lexdense.model import DEFAULT_MODEL


@app.command()
@_guard
def serve(
    index: Optional[Path] = typer.Option(None, help="Index directory for /search and the page"),
    classifier: Optional[Path] = typer.Option(None, help="Classifier directory for /classify"),
    model: ModelOption = DEFAULT_MODEL,
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, help="Port"),
    max_texts: int = typer.Option(1024, help="Most texts per request"),
    max_body_mb: float = typer.Option(8.0, help="Largest request body (MiB)"),
    allowed_host: Optional[list[str]] = typer.Option(
        None, help="Host header name to accept (repeatable); default: the names of --host (loopback: "
                   "localhost, 127.0.0.1, ::1), any for 0.0.0.0"),
) -> None:
    """Serve /embed, /search, /classify, /topics, /topic-map and a page: search and topic map (FastAPI + uvicorn).

    Set LEXDENSE_TOKEN in the environment to require 'Authorization: Bearer <token>'."""
    import os

    import uvicorn

    from lexdense.serve import create_app
    from lexdense.serve.middleware import host_names

    token = os.environ.get("LEXDENSE_TOKEN") or None
    hosts = list(allowed_host) if allowed_host else host_names(host)
    if "*" in hosts and not token:
        err.print("[yellow]warning:[/] any Host header is accepted and auth is off: set LEXDENSE_TOKEN, or "
                  "name the server's host names with --allowed-host")
    application = create_app(model=model, index=index, classifier=classifier, token=token, max_texts=max_texts,
                             max_body_bytes=int(max_body_mb * 2**20), allowed_hosts=hosts)
    err.print(f"lexdense serving on http://{host}:{port}/ (auth {'on' if token else 'off'})")
    # A keep-alive longer than uvicorn's 5 s default: a connection the server closes just as a client
    # reuses it is a client-side error; benchmarks/load.py saw one such ReadError at 5 s, none at 75 s.
    uvicorn.run(application, host=host, port=port, log_level="warning", timeout_keep_alive=75, backlog=4096)


@app.command()
@_guard
def demo(
    model: ModelOption = DEFAULT_MODEL,
    teacher_docs: int = typer.Option(300, help="Articles the teacher embeds for the comparison"),
    teacher: bool = typer.Option(True, "--teacher/--no-teacher", help="Compare with the teacher (--no-teacher: skip)"),
) -> None:
    """Embed the bundled news corpus, run a few searches, compare with the teacher."""
    from lexdense.demo import run

    run(model, teacher_docs=teacher_docs, with_teacher=teacher)
