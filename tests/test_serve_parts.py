"""The server's parts without a model or a socket: the batcher, the request checks, the
settings, the metrics text, and the application's overload and timeout answers (in process,
over a fake translator)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from nmt.server.batcher import Batcher, Overloaded, Stopped
from nmt.server.markup import parse
from nmt.server.metrics import Metrics
from nmt.server.parsing import ApiError, body_fields, translate_request
from nmt.server.settings import ServeSettings


class FakeTranslator:
    """Upper-cases texts; records each call; may block on ``gate``, take ``delay`` seconds or
    fail on ``poison``."""

    def __init__(self, gate: threading.Event | None = None, poison: str | None = None, delay=0.0):
        self.calls: list[tuple[object, list[str]]] = []
        self.gate = gate
        self.poison = poison
        self.delay = delay

    def __call__(self, key, texts):
        if self.gate is not None:
            self.gate.wait(10)
        time.sleep(self.delay)
        if self.poison in texts:
            raise ValueError("poisoned")
        self.calls.append((key, list(texts)))
        return [[t.upper(), t.title()] for t in texts]


def make_batcher(fake, wait_s=0.05, max_queue=100, max_batch=100, stats=None) -> Batcher:
    batcher = Batcher(fake, wait_s, max_queue, max_batch, on_batch=stats)
    batcher.start()
    return batcher


def test_batcher_translates_queued_jobs_of_one_key_together():
    fake = FakeTranslator()
    seen = []
    batcher = make_batcher(fake, wait_s=0.2, stats=seen.append)
    futures = [batcher.submit("a", [f"x{i}", f"y{i}"]) for i in range(5)]
    other = batcher.submit("b", ["z"])
    assert [f.result(5) for f in futures] == [
        [[f"X{i}", f"X{i}"], [f"Y{i}", f"Y{i}"]] for i in range(5)
    ]
    assert other.result(5) == [["Z", "Z"]]
    batcher.stop()
    assert [key for key, _ in fake.calls] == ["a", "b"]  # one call per key
    assert [(s.sentences, s.requests) for s in seen] == [(10, 5), (1, 1)]


def test_batcher_caps_a_call_at_max_batch_splitting_requests():
    fake = FakeTranslator()
    batcher = make_batcher(fake, wait_s=0.2, max_batch=4)
    futures = [batcher.submit("a", [f"p{i}", f"q{i}", f"r{i}"]) for i in range(3)]
    assert [f.result(5) for f in futures] == [
        [[f"{t}{i}".upper(), f"{t}{i}".title()] for t in "pqr"] for i in range(3)
    ]
    batcher.stop()
    assert [texts for _, texts in fake.calls] == [
        ["p0", "q0", "r0", "p1"], ["q1", "r1", "p2", "q2"], ["r2"]
    ]


def test_batcher_refuses_work_over_the_queue_bound_at_once():
    gate = threading.Event()
    batcher = make_batcher(FakeTranslator(gate), wait_s=0, max_queue=3)
    first = batcher.submit("a", ["1"])
    time.sleep(0.1)  # the worker holds the first job (blocked on the gate)
    waiting = batcher.submit("a", ["2", "3", "4"])
    start = time.perf_counter()
    with pytest.raises(Overloaded, match="3 sentences are waiting"):
        batcher.submit("a", ["5"])
    assert time.perf_counter() - start < 0.1
    assert batcher.depth == (1, 3)
    gate.set()
    assert first.result(5) == [["1", "1"]] and len(waiting.result(5)) == 3
    batcher.stop()


def test_batcher_skips_cancelled_jobs_and_drains_on_stop():
    gate = threading.Event()
    fake = FakeTranslator(gate)
    batcher = make_batcher(fake, wait_s=0)
    busy = batcher.submit("a", ["busy"])
    time.sleep(0.1)
    given_up = batcher.submit("a", ["gone"])
    kept = batcher.submit("a", ["kept"])
    assert given_up.cancel()
    threading.Timer(0.2, gate.set).start()
    batcher.stop()  # waits for the queued job
    assert busy.result(0) == [["BUSY", "Busy"]] and kept.result(0) == [["KEPT", "Kept"]]
    assert all("gone" not in texts for _, texts in fake.calls)
    with pytest.raises(Stopped):
        batcher.submit("a", ["late"])


def test_batcher_answers_a_lone_client_without_waiting_the_window():
    fake = FakeTranslator()
    batcher = make_batcher(fake, wait_s=2.0)
    assert batcher.submit("a", ["first"]).result(5) == [["FIRST", "First"]]  # waited the window
    start = time.perf_counter()
    for text in ("two", "three"):  # one request in play at a time: nobody else to wait for
        batcher.submit("a", [text]).result(5)
    assert time.perf_counter() - start < 1.0
    batcher.stop()
    assert [texts for _, texts in fake.calls] == [["first"], ["two"], ["three"]]


def test_batcher_waits_for_as_many_requests_as_were_in_play():
    fake = FakeTranslator()
    batcher = make_batcher(fake, wait_s=3.0)
    for f in [batcher.submit("a", [f"x{i}"]) for i in range(3)]:
        f.result(10)  # the first call: three requests
    start = time.perf_counter()
    returning = []
    for i in range(3):  # the three clients come back one by one, 0.2 s apart
        returning.append(batcher.submit("a", [f"y{i}"]))
        time.sleep(0.2)
    for f in returning:
        f.result(10)
    # one call as soon as the third came back, not three calls and not the whole window
    assert time.perf_counter() - start < 2.5
    batcher.stop()
    assert [texts for _, texts in fake.calls] == [["x0", "x1", "x2"], ["y0", "y1", "y2"]]


def test_batcher_failure_fails_only_the_bad_request():
    fake = FakeTranslator(poison="bad")
    batcher = make_batcher(fake, wait_s=0.2)
    good = batcher.submit("a", ["ok"])
    bad = batcher.submit("a", ["bad"])
    assert good.result(5) == [["OK", "Ok"]]
    with pytest.raises(ValueError, match="poisoned"):
        bad.result(5)
    assert batcher.submit("a", ["still"]).result(5) == [["STILL", "Still"]]  # worker lives on
    batcher.stop()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"char_limit": 0}, "char_limit"),
        ({"batch_limit": 10, "max_queue": 5}, "max_queue"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"batch_wait_ms": -1}, "batch_wait_ms"),
        ({"alternatives_limit": -1}, "alternatives_limit"),
        ({"max_body_bytes": 1.5}, "max_body_bytes"),
        ({"workers": 0}, "workers"),
    ],
)
def test_settings_are_checked(change, message):
    with pytest.raises(ValueError, match=message):
        ServeSettings(**change)


SETTINGS = ServeSettings(char_limit=10, batch_limit=3, alternatives_limit=2)


def check(fields, from_json=True):
    return translate_request(fields, from_json, SETTINGS)


def test_translate_request_fields():
    request = check({"q": ["a", ""], "source": "EN", "target": "es", "alternatives": "2"})
    assert (request.texts, request.batch, request.source, request.alternatives) == (
        ["a", ""],
        True,
        "en",
        2,
    )
    assert check({"q": "a", "source": "en", "target": "es", "alternatives": -3}).alternatives == 0
    form = check({"q": "a\r\nb", "source": "en", "target": "es"}, from_json=False)
    assert form.texts == ["a\nb"] and not form.batch and not form.html
    assert check({"q": "<b>a</b>", "source": "en", "target": "es", "format": "html"}).html


HTML = (
    "<!DOCTYPE html><html><head><title>My page</title><style>p {color: red}</style></head>"
    '<body><p class="a notranslate">Keep me</p><p>\n  Tom &amp; Mary &lt;3 </p><br>'
    '<img src="x.png" alt="A cat"/><script>var a = "Hi there";</script><pre>code here</pre>'
    '<span translate="no">Brand <b>name</b></span> <ul><li>One<li>Two</ul>'
    "<!-- a comment --><p>Hello <b>world</b>, how are you?</p> &nbsp; | </body></html>"
)


def test_html_documents_keep_their_markup_and_give_up_their_text():
    document = parse(HTML)
    assert document.texts == (
        "My page", "Tom & Mary <3", "One", "Two", "Hello", "world", ", how are you?",
    )  # fmt: skip
    # unchanged text gives the document back, entities escaped as they came
    assert document.render(list(document.texts)) == HTML
    out = document.render([t.upper() for t in document.texts])
    assert "<title>MY PAGE</title>" in out and "<p>\n  TOM &amp; MARY &lt;3 </p>" in out
    assert "Keep me" in out and 'var a = "Hi there"' in out and "<pre>code here</pre>" in out
    assert '<span translate="no">Brand <b>name</b></span>' in out
    assert "<li>ONE<li>TWO</ul>" in out and "<p>HELLO <b>WORLD</b>, HOW ARE YOU?</p>" in out
    assert parse("").texts == () and parse("").render([]) == ""
    assert parse("plain text").render(["x < y"]) == "x &lt; y"
    with pytest.raises(ValueError, match="2 translations for 1 runs"):
        parse("a").render(["a", "b"])


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"source": "en", "target": "es"}, "missing q"),
        ({"q": [], "source": "en", "target": "es"}, "missing q"),
        ({"q": {"a": 1}, "source": "en", "target": "es"}, "list of strings"),
        ({"q": "a", "target": "es"}, "missing source"),
        ({"q": "a", "source": 3, "target": "es"}, "source must be"),
        ({"q": "a", "source": "en", "target": "es", "alternatives": 3}, "<= 2"),
        ({"q": "a", "source": "en", "target": "es", "alternatives": True}, "not a number"),
        ({"q": "a", "source": "en", "target": "es", "alternatives": 1.5}, "not a number"),
        ({"q": "a", "source": "en", "target": "es", "format": "xml"}, "text or html, got 'xml'"),
        ({"q": "a", "source": "en", "target": "es", "format": ["html"]}, "list"),
        ({"q": ["a"] * 4, "source": "en", "target": "es"}, "4 texts"),
        ({"q": "a" * 11, "source": "en", "target": "es"}, "11 characters"),
    ],
)
def test_translate_request_refusals(fields, message):
    with pytest.raises(ApiError, match=message) as caught:
        check(fields)
    assert caught.value.status == 400


def test_body_fields_by_content_type():
    assert body_fields("application/json; charset=utf-8", b'{"q": "x"}', {}) == ({"q": "x"}, True)
    assert body_fields("application/x-www-form-urlencoded", b"q=a+b&q=c", {"source": "en"}) == (
        {"source": "en", "q": "a b"},
        False,
    )
    multipart = (
        b'--B\r\nContent-Disposition: form-data; name="q"\r\n\r\n\xc2\xbfqu\xc3\xa9?\r\n--B--\r\n'
    )
    assert body_fields("multipart/form-data; boundary=B", multipart, {}) == ({"q": "¿qué?"}, False)
    assert body_fields(None, b"", {"q": "x"}) == ({"q": "x"}, False)
    for content_type, body, status in [
        ("application/json", b"\xff", 400),
        ("application/json", b"[" * 100000, 400),
        ("application/x-www-form-urlencoded", b"q=%ff", 400),
        ("multipart/form-data; boundary=B", multipart.replace(b"\xc3\xa9", b"\xe9"), 400),
        ("text/plain", b"hello", 415),
    ]:
        with pytest.raises(ApiError) as caught:
            body_fields(content_type, body, {})
        assert caught.value.status == status, (content_type, body[:20])


def test_metrics_text():
    metrics = Metrics(queue_depth=lambda: (2, 7))
    metrics.request("/translate", 200, 0.03)
    metrics.request("/translate", 400, 0.001)
    metrics.batch('m"1', 5, 0.25)
    metrics.batch('m"1', 2, 0.5)
    text = metrics.render()
    assert 'nmt_batches_total{model="m\\"1"} 2' in text
    assert 'nmt_translate_seconds_total{model="m\\"1"} 0.750000' in text
    assert 'nmt_requests_total{endpoint="/translate",status="400"} 1' in text
    assert 'nmt_sentences_total{model="m\\"1"} 7' in text
    assert 'nmt_request_duration_seconds_bucket{le="0.01"} 1' in text
    assert 'nmt_request_duration_seconds_bucket{le="0.05"} 2' in text
    assert "nmt_request_duration_seconds_count 2" in text
    assert "nmt_queue_requests 2" in text and "nmt_queue_sentences 7" in text


def run_app(
    fake, settings: ServeSettings, requests: list[dict]
) -> tuple[list[tuple[int, dict]], float]:
    """Send ``requests`` (JSON bodies), 50 ms apart, to the application in this process;
    returns the answers and the seconds until the last came."""
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    from nmt.server.app import ServedModel, create_app

    batcher = Batcher(fake, settings.batch_wait_ms / 1000, settings.max_queue, settings.max_batch)
    app = create_app([ServedModel("m", "en", "es", 1)], batcher, Metrics(), settings)
    batcher.start()  # the test client does not run the lifespan

    async def send_all():
        start = time.perf_counter()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            sent = []
            for body in requests:
                sent.append(asyncio.create_task(client.post("/translate", json=body)))
                await asyncio.sleep(0.05)  # in order: each is queued before the next
            answers = await asyncio.gather(*sent)
        return [(a.status_code, a.json()) for a in answers], time.perf_counter() - start

    try:
        return asyncio.run(send_all())
    finally:
        batcher.stop()


def test_app_answers_overload_with_503_and_slow_translations_with_504():
    settings = ServeSettings(batch_limit=2, max_queue=2, batch_wait_ms=0, timeout_s=0.5)
    request = {"q": ["a", "b"], "source": "en", "target": "es"}
    answers, seconds = run_app(FakeTranslator(delay=1.0), settings, [request] * 3)
    # the first is held by the worker, the second waits in the queue, the third is refused
    assert [status for status, _ in answers] == [504, 504, 503], answers
    assert "Server busy" in answers[2][1]["error"] and "timed out" in answers[0][1]["error"]
    assert seconds < 0.9  # nobody waited for the translator to finish


def test_app_answers_with_the_translation():
    answers, _ = run_app(
        FakeTranslator(),
        ServeSettings(),
        [
            {"q": "hi", "source": "en", "target": "es"},
            {"q": ["a", "b"], "source": "en", "target": "es", "alternatives": 1},
        ],
    )
    assert answers == [
        (200, {"translatedText": "HI"}),
        # hypotheses ["A", "A"]: the repeated best is no alternative
        (200, {"translatedText": ["A", "B"], "alternatives": [[], []]}),
    ]


def test_app_translates_html_documents_run_by_run():
    fake = FakeTranslator()
    html = {"source": "en", "target": "es", "format": "html"}
    answers, _ = run_app(
        fake,
        ServeSettings(),
        [
            {**html, "q": "<p>hi <b>there</b></p><script>x</script>"},
            {**html, "q": ["<i>a</i>", "<br>", "b"]},
        ],
    )
    assert answers == [
        (200, {"translatedText": "<p>HI <b>THERE</b></p><script>x</script>"}),
        (200, {"translatedText": ["<i>A</i>", "<br>", "B"]}),
    ]
    assert sorted(texts for _, texts in fake.calls) == [["a", "b"], ["hi", "there"]]
    # a document of more text runs than a request may hold texts
    many, _ = run_app(
        FakeTranslator(), ServeSettings(batch_limit=3), [{**html, "q": "<b>a</b>" * 4}]
    )
    assert many[0][0] == 400 and "4 text runs" in many[0][1]["error"]


def test_two_workers_translate_two_groups_at_once_and_stop_cleanly():
    """With ``workers=2`` a second group is translated while the first is still running (the
    fake translation of each waits until both have started); every job gets its own texts."""
    started = threading.Barrier(2, timeout=5)
    calls = []

    def fake(key, texts):
        calls.append(list(texts))
        started.wait()  # breaks (and fails the jobs) unless two calls run at the same time
        return [[text.upper()] for text in texts]

    batcher = Batcher(fake, wait_s=0.0, max_queue=100, max_batch=1, workers=2)
    batcher.start()
    try:
        first = batcher.submit("m", ["a"])
        second = batcher.submit("m", ["b"])
        assert first.result(timeout=10) == [["A"]] and second.result(timeout=10) == [["B"]]
    finally:
        batcher.stop(timeout=5)
    assert sorted(calls) == [["a"], ["b"]]
    assert not any(thread.is_alive() for thread in batcher._threads)


def test_idle_workers_share_one_large_request_and_answer_it_in_order():
    """Two idle workers split a 9-text request (5 + 4) and translate both parts at the same time
    (each fake call waits until the other has started); the answer keeps the request's order."""
    started = threading.Barrier(2, timeout=5)
    calls = []

    def fake(key, texts):
        calls.append(list(texts))
        started.wait()
        return [[text.upper()] for text in texts]

    batcher = Batcher(fake, wait_s=0.3, max_queue=100, max_batch=100, workers=2)
    batcher.start()
    try:
        time.sleep(0.1)  # both workers idle
        texts = [f"t{i}" for i in range(9)]
        assert batcher.submit("m", texts).result(timeout=10) == [[t.upper()] for t in texts]
    finally:
        batcher.stop(timeout=5)
    assert sorted(calls) == [texts[:5], texts[5:]]


def test_idle_workers_split_many_small_requests_evenly():
    """Sixteen one-text requests waiting for two idle workers go as two calls of eight."""
    gate = threading.Event()
    calls = []

    def fake(key, texts):
        gate.wait(10)
        calls.append(list(texts))
        return [[text] for text in texts]

    batcher = Batcher(fake, wait_s=0.5, max_queue=100, max_batch=100, workers=2)
    batcher.start()
    try:
        time.sleep(0.1)
        futures = [batcher.submit("m", [f"x{i}"]) for i in range(16)]
        time.sleep(0.7)  # the window passes: both workers take their share
        gate.set()
        assert [f.result(timeout=10) for f in futures] == [[[f"x{i}"]] for i in range(16)]
    finally:
        batcher.stop(timeout=5)
    assert sorted(len(c) for c in calls) == [8, 8]


def test_a_failing_part_fails_its_request_once_and_spares_the_others():
    """A request split between two workers fails when one part fails; a request sharing the
    failed call is retried alone and answered."""
    calls = []

    def fake(key, texts):
        calls.append(list(texts))
        if "bad" in texts:
            raise ValueError("poisoned")
        return [[text] for text in texts]

    batcher = Batcher(fake, wait_s=0.3, max_queue=100, max_batch=100, workers=2)
    batcher.start()
    try:
        time.sleep(0.1)
        split = batcher.submit("m", ["a", "b", "c", "bad"])
        other = batcher.submit("m", ["ok"])
        with pytest.raises(ValueError, match="poisoned"):
            split.result(timeout=10)
        assert other.result(timeout=10) == [["ok"]]
        assert batcher.submit("m", ["still"]).result(timeout=10) == [["still"]]
    finally:
        batcher.stop(timeout=5)


def test_workers_that_finish_together_keep_their_calls_whole():
    """Two workers answer sixteen requests in two calls of eight, at about the same time; when
    the sixteen clients come back, one by one, they are again two calls of eight (not four
    calls of four, as splitting the queue between the two idle workers would give), each
    going as soon as its eight are queued rather than after the window."""
    calls = []

    def fake(key, texts):
        calls.append(list(texts))
        time.sleep(0.05)
        return [[text] for text in texts]

    batcher = Batcher(fake, wait_s=1.0, max_queue=100, max_batch=100, workers=2)
    batcher.start()
    try:
        time.sleep(0.1)  # both workers idle
        first = [batcher.submit("m", [f"x{i}"]) for i in range(16)]
        assert [f.result(timeout=10) for f in first] == [[[f"x{i}"]] for i in range(16)]
        start = time.perf_counter()
        back = []
        for i in range(16):
            back.append(batcher.submit("m", [f"y{i}"]))
            time.sleep(0.005)
        assert [f.result(timeout=10) for f in back] == [[[f"y{i}"]] for i in range(16)]
        assert time.perf_counter() - start < 0.7
    finally:
        batcher.stop(timeout=5)
    assert [len(c) for c in calls] == [8, 8, 8, 8]
    assert sorted(calls[2] + calls[3]) == sorted(f"y{i}" for i in range(16))


def test_translate_goes_straight_to_its_endpoint_and_the_rest_to_fastapi():
    """``POST /translate`` skips FastAPI's layers (``TranslateFirst``); FastAPI still lists it
    on the OpenAPI page, serves the same endpoint when called itself, and answers every other
    path and method; an unexpected failure of the endpoint is a JSON 500."""
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    from nmt.server.app import ServedModel, TranslateFirst, create_app

    settings = ServeSettings(batch_wait_ms=0)
    batcher = Batcher(FakeTranslator(), 0.0, settings.max_queue, settings.max_batch)
    app = create_app([ServedModel("m", "en", "es", 1)], batcher, Metrics(), settings)
    assert isinstance(app, TranslateFirst)
    body = {"q": "hi", "source": "en", "target": "es"}

    async def failing(_request):
        raise RuntimeError("broken")

    async def ask(asgi, method: str, path: str):
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            got = await client.request(method, path, json=body if method == "POST" else None)
        return got.status_code, got.json() if "json" in got.headers["content-type"] else None

    async def run():
        return (
            await ask(app, "POST", "/translate"),
            await ask(app.app, "POST", "/translate"),  # FastAPI's own route: the same endpoint
            await ask(app, "GET", "/translate"),
            await ask(app, "GET", "/openapi.json"),
            await ask(app, "GET", "/health"),
            await ask(TranslateFirst(app.app, failing), "POST", "/translate"),
        )

    batcher.start()  # the test client does not run the lifespan
    try:
        straight, routed, wrong_method, openapi, health, failed = asyncio.run(run())
    finally:
        batcher.stop()
    assert straight == routed == (200, {"translatedText": "HI"})
    assert wrong_method == (405, {"error": "Method Not Allowed"})
    assert openapi[0] == 200 and "requestBody" in openapi[1]["paths"]["/translate"]["post"]
    assert health == (200, {"status": "ok"})
    assert failed == (500, {"error": "Internal error: broken"})
