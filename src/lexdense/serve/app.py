"""The lexdense HTTP API and its page.

Endpoints: ``GET /health``, ``POST /embed``, ``POST /search`` (needs an index directory),
``POST /classify`` (needs a classifier directory), ``POST /topics`` (keyword-defined topics,
zero-shot), ``GET /topic-map`` (a 2-D map of the index's documents by discovered topic),
``GET /`` (the page), ``GET /openapi.json``.

- Concurrent ``/embed`` requests are batched: texts wait at most ``batch_wait_ms`` in a queue
  and are embedded together (one compiled call), then each request gets its rows back.
- CPU work of ``/search`` and ``/topics`` runs in worker threads, at most ``cpu_workers`` at a
  time; the rest wait their turn without a thread, so the event loop is not starved of the GIL
  and ``GET /health`` (answered on the loop, no thread) stays fast under load.
- Limits: request bodies above ``max_body_bytes`` get 413 before parsing; more than
  ``max_texts`` texts, or a text longer than ``max_text_chars``, get 422.
- Auth: with a token (``LEXDENSE_TOKEN`` for ``lexdense serve``), every endpoint but
  ``/health`` and the page needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import weakref
from pathlib import Path

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from lexdense.model import DEFAULT_MODEL
from lexdense.search.passages import highlight_spans  # the page and the CLI mark the same words
from lexdense.serve.batching import MicroBatcher
from lexdense.serve.middleware import BodyLimit, SecurityHeaders, host_names
from lexdense.serve.schema import (
    COMMON,
    MAX_KEYWORDS_PER_LABEL,
    ClassifyRequest,
    ClassifyResponse,
    EmbedRequest,
    EmbedResponse,
    SearchRequest,
    SearchResponse,
    TopicsRequest,
    TopicsResponse,
    documented_errors,
)
from lexdense.serve.topic_map import topic_map as _topic_map

__all__ = ["create_app", "highlight_spans", "host_names"]

PAGE = Path(__file__).with_name("page.html")


def create_app(model=DEFAULT_MODEL, index: str | os.PathLike | None = None,
               classifier: str | os.PathLike | None = None, token: str | None = None,
               max_texts: int = 1024, max_text_chars: int = 200_000, max_body_bytes: int = 8 << 20,
               batch_wait_ms: float = 2.0, cpu_workers: int | None = None,
               allowed_hosts: list[str] | None = None) -> FastAPI:
    """The service. ``allowed_hosts``: Host header names accepted (others get 400, so a web
    page under another name cannot reach a loopback server by DNS rebinding); None accepts
    any (``lexdense serve`` passes the names of the address it binds)."""
    import anyio.to_thread

    from lexdense.model import as_encoder

    embedder = as_encoder(model)
    search_index = None
    if index is not None:
        from lexdense.search import SearchIndex

        search_index = SearchIndex.load(index, model=embedder)
    clf = None
    if classifier is not None:
        from lexdense.classify import EmbeddingClassifier

        clf = EmbeddingClassifier.load(classifier, model=embedder)
    batcher = MicroBatcher(embedder, wait_ms=batch_wait_ms)
    state: dict = {}
    cpu_workers = max(1, cpu_workers or min(4, os.cpu_count() or 1))
    limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # one per event loop

    async def in_worker(function):
        """Run CPU work in a thread, at most ``cpu_workers`` at once (the others queue, threadless).
        Dozens of GIL-holding threads would make every GIL hand-off of the event loop wait its turn."""
        loop = asyncio.get_running_loop()
        if loop not in limiters:
            limiters[loop] = anyio.CapacityLimiter(cpu_workers)
        return await anyio.to_thread.run_sync(function, limiter=limiters[loop])

    app = FastAPI(title="lexdense", version=_version(),
                  description="Fast lexical-dense text embeddings: embed, search, classify, topics.")
    app.state.batcher = batcher

    def authorize(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def check_texts(texts: list[str]) -> None:
        if len(texts) > max_texts:
            raise HTTPException(422, f"at most {max_texts} texts per request, got {len(texts)}")
        for i, text in enumerate(texts):
            if len(text) > max_text_chars:
                raise HTTPException(422, f"text {i} has {len(text)} characters; the limit is {max_text_chars}")

    @app.get("/health")
    async def health() -> dict:  # on the event loop: never waits for a worker thread
        return {"status": "ok", "model": embedder.config.get("name", "lexdense"), "dim": embedder.dim,
                "index_rows": len(search_index) if search_index is not None else None,
                "classifier": clf is not None, "auth": token is not None}

    @app.post("/embed", response_model=EmbedResponse, dependencies=[Depends(authorize)],
              responses=documented_errors(*COMMON))
    async def embed(body: EmbedRequest) -> dict:
        check_texts(body.texts)
        vectors = await batcher.embed(body.texts) if body.texts else np.zeros((0, embedder.dim), np.float32)
        return {"model": embedder.config.get("name", "lexdense"), "dim": embedder.dim,
                "embeddings": np.round(vectors, 6).tolist()}

    @app.post("/search", response_model=SearchResponse, dependencies=[Depends(authorize)],
              responses=documented_errors(*COMMON, 404))
    async def search(body: SearchRequest) -> dict:
        if search_index is None:
            raise HTTPException(404, "no index loaded: start the server with --index DIR")

        def run_search():
            hits = search_index.search(body.query, k=body.k, mode=body.mode, where=body.where or None)
            columns = search_index.table.column_names if search_index.table is not None else []
            results = []
            for hit in hits:
                text = str(hit.pop("text", ""))
                row, score = hit.pop("row"), hit.pop("score")
                # a metadata column named passage_span stays metadata (search then adds none)
                passage = [0, len(text)] if "passage_span" in columns else hit.pop("passage_span", [0, len(text)])
                metadata = {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
                            for k, v in hit.items()}
                results.append({"row": row, "score": score, "text": text, "metadata": metadata,
                                "highlights": highlight_spans(text, body.query), "passage_span": passage})
            return {"results": results}

        try:
            return await in_worker(run_search)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.post("/classify", response_model=ClassifyResponse, dependencies=[Depends(authorize)],
              responses=documented_errors(*COMMON, 404))
    async def classify(body: ClassifyRequest) -> dict:
        if clf is None:
            raise HTTPException(404, "no classifier loaded: start the server with --classifier DIR")
        check_texts(body.texts)
        if not body.texts:
            return {"labels": [], "probabilities": []}
        vectors = await batcher.embed(body.texts)
        proba = clf.predict_proba(vectors=vectors)
        names = [str(c) for c in clf.classes_]
        return {"labels": [names[i] for i in proba.argmax(axis=1)],
                "probabilities": [dict(zip(names, map(float, row))) for row in proba]}

    @app.post("/topics", response_model=TopicsResponse, dependencies=[Depends(authorize)],
              responses=documented_errors(*COMMON))
    async def topics(body: TopicsRequest) -> dict:
        from lexdense.labels import KeywordTopics

        check_texts(body.texts)
        long = [label for label, words in body.keywords.items() if len(words) > MAX_KEYWORDS_PER_LABEL]
        if long:
            raise HTTPException(422, f"label '{long[0]}' has more than {MAX_KEYWORDS_PER_LABEL} keywords")
        vectors = await batcher.embed(body.texts) if body.texts else None

        def fit_and_label():  # CPU work: in a bounded worker thread, so /health and others stay live
            estimator = KeywordTopics(body.keywords, model=embedder, abstain=body.abstain, min_seeds=1)
            if vectors is None:  # the keywords are still checked
                return {"labels": [], "confidence": []}
            estimator.fit(vectors=vectors)
            proba = estimator.predict_proba(vectors=vectors)
            return {"labels": estimator.predict(vectors=vectors), "confidence": proba.max(axis=1).round(6).tolist()}

        try:
            return await in_worker(fit_and_label)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get("/topic-map", dependencies=[Depends(authorize)], responses=documented_errors(401, 404, 422))
    def topic_map(points: int = 3000) -> dict:
        """Index documents in 2-D (PCA of a sample) coloured by discovered topics, cached."""
        if search_index is None:
            raise HTTPException(404, "no index loaded: start the server with --index DIR")
        if not 10 <= points <= 20000:
            raise HTTPException(422, "points must be between 10 and 20000")
        if state.get("map_points") != points:
            state["map"] = _topic_map(search_index, points)
            state["map_points"] = points
        return state["map"]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(SecurityHeaders)
    if allowed_hosts is not None and "*" not in allowed_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app


def _version() -> str:
    from lexdense import __version__

    return __version__
