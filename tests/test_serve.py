import asyncio
import shutil

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from lexdense import LexDense
from lexdense.classify import EmbeddingClassifier
from lexdense.search import SearchIndex
from lexdense.serve import create_app
from lexdense.serve.app import highlight_spans
from lexdense.sources import datasets


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    model = LexDense.load("lexdense-base")
    news = datasets.news_articles()
    SearchIndex.build(news.texts[:400], metadata={"outlet": news.labels[:400], "title": news.titles[:400]},
                      model=model).save(root / "index")
    tweets = datasets.election_tweets()
    EmbeddingClassifier(model=model).fit(tweets.texts[:800], tweets.labels[:800]).save(root / "clf")
    app = create_app(model=model, index=root / "index", classifier=root / "clf", max_texts=50,
                     max_body_bytes=200_000)
    return model, app, news


def test_health_embed_and_openapi(served):
    model, app, _ = served
    client = TestClient(app)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["index_rows"] == 400 and health["dim"] == model.dim
    texts = ["the cat sat", "stocks fell on monday"]
    body = client.post("/embed", json={"texts": texts}).json()
    assert np.allclose(np.asarray(body["embeddings"]), model.encode(texts), atol=1e-5)
    schema = client.get("/openapi.json").json()
    assert {"/embed", "/search", "/classify", "/topics", "/health", "/topic-map"} <= set(schema["paths"])


def test_bad_requests_get_clear_4xx(served):
    _, app, _ = served
    client = TestClient(app)
    assert client.post("/embed", json={"texts": ["x"] * 51}).status_code == 422
    assert client.post("/embed", json={"texts": [1, 2]}).status_code == 422
    assert client.post("/embed", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    big = client.post("/embed", json={"texts": ["word " * 50_000]})
    assert big.status_code == 413 and "bytes" in big.json()["detail"]
    assert client.post("/search", json={"query": "x", "mode": "fuzzy"}).status_code == 422
    assert client.post("/search", json={"query": "x", "where": {"colour": ["red"]}}).status_code == 422
    assert client.post("/topics", json={"texts": ["a"], "keywords": {"only": ["one"]}}).status_code == 422


def test_search_classify_topics_and_map(served):
    _, app, news = served
    client = TestClient(app)
    hits = client.post("/search", json={"query": news.titles[5], "k": 5, "mode": "hybrid"}).json()["results"]
    assert hits[0]["row"] == 5 and hits[0]["metadata"]["outlet"] == news.labels[5]
    text, spans = hits[0]["text"], hits[0]["highlights"]
    assert spans and all(text[a:b].lower() in news.titles[5].lower() for a, b in spans)
    only = client.post("/search", json={"query": "war", "where": {"outlet": ["www.bbc.co.uk"]}}).json()["results"]
    assert only and all(h["metadata"]["outlet"] == "www.bbc.co.uk" for h in only)
    labels = client.post("/classify", json={"texts": ["Crooked Hillary! Make America great again!"]}).json()
    assert labels["labels"] == ["realDonaldTrump"] and abs(sum(labels["probabilities"][0].values()) - 1) < 1e-5
    topics = client.post("/topics", json={"texts": ["the goalie saved a shot", "nasa launched a rocket",
                                                    "the team won the hockey game", "the shuttle reached orbit"],
                                          "keywords": {"hockey": ["hockey", "goalie"], "space": ["nasa", "orbit"]}})
    assert topics.json()["labels"] == ["hockey", "space", "hockey", "space"]
    topic_map = client.get("/topic-map", params={"points": 300}).json()
    assert len(topic_map["points"]) == 300 and len(topic_map["topics"]) == 3  # one per ~100 documents
    first_words = [t["keywords"][0] for t in topic_map["topics"]]
    assert len(set(first_words)) == 3 and "said" not in {w for t in topic_map["topics"] for w in t["keywords"][:3]}
    assert all(t["name"].startswith(f"{t['topic']}: {t['keywords'][0]}") for t in topic_map["topics"])
    assert len({t["colour"] for t in topic_map["topics"]}) == 3


def test_bearer_token_is_required_when_set(served):
    model, _, _ = served
    client = TestClient(create_app(model=model, token="s3cret"))
    assert client.get("/health").status_code == 200
    assert client.post("/embed", json={"texts": ["x"]}).status_code == 401
    assert client.post("/embed", json={"texts": ["x"]}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/embed", json={"texts": ["x"]}, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/search", json={"query": "x"}, headers={"Authorization": "Bearer s3cret"}).status_code == 404


def test_concurrent_requests_are_batched(served):
    model, _, _ = served
    app = create_app(model=model, batch_wait_ms=20)
    texts = [f"request number {i} about topic {i % 7}" for i in range(40)]

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            replies = await asyncio.gather(*[client.post("/embed", json={"texts": [t]}) for t in texts])
        return [r.json()["embeddings"][0] for r in replies]

    vectors = asyncio.run(run())
    assert np.allclose(np.asarray(vectors), model.encode(texts), atol=1e-5)
    assert app.state.batcher.batches < len(texts)


def test_highlight_spans():
    assert highlight_spans("The Fed raised RATES; rates rose.", "rates fed") == [[4, 7], [15, 20], [22, 27]]
    assert highlight_spans("anything", "   ") == []


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed (make installs it as root)")
def test_page_in_headless_chromium(served, tmp_path):
    from playwright.sync_api import sync_playwright

    from lexdense.serve.background import serving

    _, app, news = served
    with serving(app) as url:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.goto(url + "/")
            page.fill("#query", news.titles[5])
            page.press("#query", "Enter")
            page.wait_for_selector(".hit mark")
            # spans count code points: after an emoji (two UTF-16 units) the right word is marked
            marked = page.evaluate(r"highlighted(Array.from('\u{1F389}\u{1F389} rates rose'), [[3, 8]])")
            assert marked == "\U0001F389\U0001F389 <mark>rates</mark> rose"
            assert highlight_spans("\U0001F389\U0001F389 rates rose", "rates") == [[3, 8]]
            assert page.locator(".hit").count() >= 5
            first = page.locator(".hit").first.inner_text()
            assert news.texts[5][:40].split()[0] in first
            shot = tmp_path / "search.png"
            page.screenshot(path=str(shot))
            page.click("#tab-map")
            page.wait_for_function("() => document.getElementById('legend').children.length > 0", timeout=60_000)
            legend = page.inner_text("#legend")  # topic names from their keywords, none named by a stopword
            assert legend.startswith("0: ") and "said" not in legend and page.locator("#legend span").count() >= 3
            page.screenshot(path=str(tmp_path / "map.png"))
            browser.close()
        from PIL import Image

        for name in ("search.png", "map.png"):
            image = np.asarray(Image.open(tmp_path / name).convert("L"), dtype=float)
            assert image.shape == (800, 1000) and image.std() > 10  # not a blank page


def test_topics_work_runs_off_the_event_loop_and_is_bounded(served):
    """A large /topics request must not stall /health (it ran on the event loop before)."""
    import time

    _, app, news = served
    vocabulary = sorted({w for w in " ".join(news.texts[:200]).lower().split() if w.isalpha() and len(w) > 4})
    too_many = {f"label{i}": ["word"] for i in range(201)}
    with TestClient(app) as client:
        assert client.post("/topics", json={"texts": ["a"], "keywords": too_many}).status_code == 422
        wordy = {"a": [f"w{i}" for i in range(51)], "b": ["b"]}
        assert client.post("/topics", json={"texts": ["a"], "keywords": wordy}).status_code == 422

    async def race():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            keywords = {f"topic {i}": vocabulary[8 * i: 8 * i + 8] for i in range(50)}
            finished = {}

            async def timed(name, request):
                response = await request
                finished[name] = time.perf_counter()
                return response

            heavy = asyncio.create_task(timed("topics", client.post(
                "/topics", json={"texts": news.texts[:50], "keywords": keywords})))
            await asyncio.sleep(0.01)
            health = await timed("health", client.get("/health"))
            response = await heavy
            return health.status_code, response, finished

    assert len(vocabulary) >= 400
    health_status, topics, finished = asyncio.run(race())
    assert health_status == 200 and topics.status_code == 200, topics.text
    assert finished["health"] < finished["topics"]  # answered while the topics work ran in a thread


def test_streamed_body_over_the_limit_gets_413(served):
    """A chunked body (no Content-Length) over the limit is a 413 too, not FastAPI's 400."""
    _, app, _ = served

    def body():
        yield b'{"texts": ["'
        for _ in range(30):
            yield b"a" * 10_000  # 300 kB against the fixture's 200 kB limit
        yield b'"]}'

    with TestClient(app) as client:
        for path in ("/embed", "/topics", "/search"):
            response = client.post(path, content=body(), headers={"content-type": "application/json"})
            assert response.status_code == 413 and "bytes" in response.json()["detail"], (path, response.text)


def test_health_never_waits_for_worker_threads_and_cpu_work_is_bounded(served, tmp_path, monkeypatch):
    """/health is answered on the event loop even when every worker thread is taken, and at most
    ``cpu_workers`` searches run at once (the rest queue without a thread; none gets a 5xx)."""
    import threading
    import time

    import anyio.to_thread

    model, _, news = served
    SearchIndex.build(news.texts[:60], model=model).save(tmp_path / "index")
    app = create_app(model=model, index=tmp_path / "index", cpu_workers=2)
    active, peak, lock = [0], [0], threading.Lock()
    original = SearchIndex.search

    def slow_search(self, *args, **kwargs):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        try:
            return original(self, *args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(SearchIndex, "search", slow_search)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            searches = await asyncio.gather(*[client.post("/search", json={"query": news.titles[i], "k": 3})
                                              for i in range(8)])
            anyio.to_thread.current_default_thread_limiter().total_tokens = 1
            release = threading.Event()
            blocker = asyncio.create_task(anyio.to_thread.run_sync(release.wait))  # takes the only thread
            await asyncio.sleep(0.05)
            try:
                health = await asyncio.wait_for(client.get("/health"), 5)
            finally:
                release.set()
                await blocker
            return searches, health

    searches, health = asyncio.run(scenario())
    assert [r.status_code for r in searches] == [200] * 8
    assert 1 <= peak[0] <= 2
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_only_the_bound_host_names_are_accepted_and_security_headers_are_sent():
    """DNS rebinding: a page under another name must not reach a loopback server with auth off."""
    from lexdense.serve.app import host_names

    model = LexDense.load("lexdense-base")
    client = TestClient(create_app(model=model, allowed_hosts=host_names("127.0.0.1")))
    assert client.get("/health", headers={"host": "evil.example:8000"}).status_code == 400
    ok = client.get("/health", headers={"host": "localhost:8000"})
    assert ok.status_code == 200 and client.get("/health", headers={"host": "127.0.0.1"}).status_code == 200
    page = client.get("/", headers={"host": "localhost"})
    for response in (ok, page):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert host_names("0.0.0.0") == ["*"] and host_names("10.0.0.5") == ["10.0.0.5"]
