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
from typing import Literal

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from lexdense.model import DEFAULT_MODEL
from lexdense.search.passages import highlight_spans  # the page and the CLI mark the same words

PAGE = Path(__file__).with_name("page.html")


class EmbedRequest(BaseModel):
    texts: list[str] = Field(..., description="Texts to embed (unit-length vectors come back)")


class EmbedResponse(BaseModel):
    model: str
    dim: int
    embeddings: list[list[float]]


class SearchRequest(BaseModel):
    query: str = Field(..., max_length=10_000)
    k: int = Field(10, ge=1, le=1000)
    mode: Literal["dense", "bm25", "hybrid"] = "dense"
    where: dict[str, list[str]] | None = None


class Hit(BaseModel):
    row: int
    score: float
    text: str
    metadata: dict
    highlights: list[list[int]] = Field(..., description="[start, end) character spans of query words in the "
                                        "text (stopwords such as 'the' and 'at' are not marked)")
    passage_span: list[int] = Field(..., description="[start, end) characters of the passage of the text that "
                                    "best matches the query (the whole text when it is short)")


class SearchResponse(BaseModel):
    results: list[Hit]


class ClassifyRequest(BaseModel):
    texts: list[str]


class ClassifyResponse(BaseModel):
    labels: list[str]
    probabilities: list[dict[str, float]]


MAX_TOPIC_LABELS = 200
MAX_KEYWORDS_PER_LABEL = 50


class TopicsRequest(BaseModel):
    texts: list[str]
    keywords: dict[str, list[str]] = Field(..., description=f"label -> keywords (2 to {MAX_TOPIC_LABELS} labels, "
                                                           f"at most {MAX_KEYWORDS_PER_LABEL} keywords each)",
                                           max_length=MAX_TOPIC_LABELS)
    abstain: float = Field(0.0, ge=0.0, lt=1.0, strict=True)  # strict: `false` is not a number


class TopicsResponse(BaseModel):
    labels: list[str | None]
    confidence: list[float]


class ErrorResponse(BaseModel):
    detail: str | list[dict] = Field(..., description="What was wrong with the request")


def _errors(*codes: int) -> dict:
    text = {400: "The body is not valid JSON", 401: "Missing or wrong bearer token",
            404: "Nothing loaded for this endpoint", 413: "Request body too large",
            422: "The request does not fit the schema or the limits"}
    return {code: {"model": ErrorResponse, "description": text[code]} for code in codes}


COMMON = (400, 401, 413, 422)


class BodyLimit:
    """ASGI middleware: 413 once a request body passes ``limit`` bytes (declared or streamed)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(413, f"request body over {self.limit} bytes")
            return message

        try:
            return await self.app(scope, limited, send)
        except _TooLarge:
            return await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)


class _TooLarge(HTTPException):
    """A streamed (chunked) body over the limit. An HTTPException, because FastAPI turns any other
    exception raised while it reads the body into a 400; this one it re-raises, and it becomes the 413."""


class MicroBatcher:
    """Collects texts from concurrent requests and embeds them in one call."""

    def __init__(self, model, max_batch: int = 2048, wait_ms: float = 2.0):
        self.model, self.max_batch, self.wait = model, max_batch, wait_ms / 1000
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.batches = 0

    async def embed(self, texts: list[str]) -> np.ndarray:
        if self.task is None or self.task.done():
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._run())
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            size = len(items[0][0])
            deadline = loop.time() + self.wait
            while size < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                items.append(item)
                size += len(item[0])
            texts = [t for item, _ in items for t in item]
            try:
                vectors = await loop.run_in_executor(None, self.model.encode, texts)
                self.batches += 1
                start = 0
                for item, future in items:
                    if not future.done():
                        future.set_result(vectors[start:start + len(item)])
                    start += len(item)
            except Exception as exc:  # hand the error to every waiting request
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)


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

    @app.post("/embed", response_model=EmbedResponse, dependencies=[Depends(authorize)], responses=_errors(*COMMON))
    async def embed(body: EmbedRequest) -> dict:
        check_texts(body.texts)
        vectors = await batcher.embed(body.texts) if body.texts else np.zeros((0, embedder.dim), np.float32)
        return {"model": embedder.config.get("name", "lexdense"), "dim": embedder.dim,
                "embeddings": np.round(vectors, 6).tolist()}

    @app.post("/search", response_model=SearchResponse, dependencies=[Depends(authorize)],
              responses=_errors(*COMMON, 404))
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
              responses=_errors(*COMMON, 404))
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

    @app.post("/topics", response_model=TopicsResponse, dependencies=[Depends(authorize)], responses=_errors(*COMMON))
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

    @app.get("/topic-map", dependencies=[Depends(authorize)], responses=_errors(401, 404, 422))
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


LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1", "[::1]"]


def host_names(host: str) -> list[str]:
    """Host header names to accept for a server bound to ``host``: its loopback names, the
    address itself, or "*" for every address (0.0.0.0, ::)."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    if host in LOOPBACK_NAMES or host.startswith("127."):
        return sorted(set(LOOPBACK_NAMES + [host]))
    return [host, f"[{host}]"] if ":" in host else [host]


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    # The page is one file with its own script and style; it loads nothing from elsewhere.
    (b"content-security-policy", b"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                 b"img-src data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
]


class SecurityHeaders:
    """ASGI middleware: the security headers above on every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in names]
            await send(message)

        return await self.app(scope, receive, with_headers)


def _topic_map(index, points: int) -> dict:
    from lexdense.discover import TopicDiscovery

    rng = np.random.default_rng(0)
    rows = np.sort(rng.permutation(len(index))[:points])
    texts = index.table.column("text").take(rows).to_pylist()
    vectors = index.vectors[rows]
    size = max(5, len(rows) // 60)
    if len(rows) < 2 * size:
        return {"points": [], "topics": []}
    try:
        fitted = TopicDiscovery(model=None, reducer="pca", min_cluster_size=size, outliers="reassign",
                                n_topics=12).fit(texts, vectors=vectors)
    except ValueError:
        return {"points": [], "topics": []}
    xy = fitted.map_2d()
    return {"points": [{"row": int(r), "x": float(x), "y": float(y), "topic": int(t), "text": " ".join(s.split())[:140]}
                       for r, (x, y), t, s in zip(rows, xy, fitted.labels_, texts)],
            "topics": fitted.topic_info()}


def _version() -> str:
    from lexdense import __version__

    return __version__
