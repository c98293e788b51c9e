"""The real server in a child process, on a free 127.0.0.1 port, over the tiny test model (xx ->
yy): translations through the published libretranslatepy client and plain HTTP equal
``Translator.translate``; every bad request gets a clear 4xx and the server keeps serving; 8
concurrent clients; overload; SIGTERM; command-line errors."""

from __future__ import annotations

import html
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error

import pytest
from conftest import REPO, WORDS

from nmt.server.process import ServerProcess

httpx = pytest.importorskip("httpx")
libretranslatepy = pytest.importorskip("libretranslatepy")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

KEY = "key-two"
LIMITS = ["--char-limit", "300", "--batch-limit", "100", "--max-body-bytes", "65536"]


def sentences(n: int, seed: int) -> list[str]:
    """Distinct inputs of the reverse task."""
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < n:
        found[" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))] = None
    return list(found)


@pytest.fixture(scope="module")
def reference(trained_run):
    from nmt.translator import Translator

    return Translator.from_checkpoint(trained_run)


@pytest.fixture(scope="module")
def server(trained_run, tmp_path_factory):
    keys = tmp_path_factory.mktemp("serve") / "keys.txt"
    keys.write_text(f"# keys of the test server\nkey-one\n\n{KEY}\n", encoding="utf-8")
    args = ["--model", str(trained_run), "--api-keys", str(keys), *LIMITS]
    with ServerProcess([*args, "--alternatives-limit", "3"], cwd=REPO) as process:
        yield process


def post(server, body=None, **kwargs) -> httpx.Response:
    if body is not None:
        kwargs["json"] = body
    return httpx.post(f"{server.url}/translate", timeout=30, **kwargs)


def request(q, **extra) -> dict:
    return {"q": q, "source": "xx", "target": "yy", "api_key": KEY, **extra}


def test_libretranslatepy_round_trip(server, reference):
    texts = sentences(6, seed=1)
    # a paragraph as one text: translated sentence by sentence, joined
    texts.append(f"{texts[0]}. {texts[1].capitalize()}! {texts[2]}")
    client = libretranslatepy.LibreTranslateAPI(server.url, api_key=KEY)
    got = [client.translate(text, "xx", "yy") for text in texts]
    assert got == reference.translate(texts)
    assert client.languages() == [
        {"code": "xx", "name": "xx", "targets": ["yy"]},
        {"code": "yy", "name": "yy", "targets": []},
    ]
    with pytest.raises(urllib.error.HTTPError) as refused:
        libretranslatepy.LibreTranslateAPI(server.url, api_key="wrong").translate("alpha", "xx")
    assert refused.value.code == 403


def test_plain_http_json_form_and_multipart(server, reference):
    texts = sentences(20, seed=2)
    expected = reference.translate(texts)
    answer = post(server, request(texts))
    assert answer.status_code == 200 and answer.json() == {"translatedText": expected}
    assert answer.headers["content-type"] == "application/json"
    form = {"q": texts[0], "source": "xx", "target": "yy", "api_key": KEY}
    assert post(server, data=form).json() == {"translatedText": expected[0]}
    files = {name: (None, value) for name, value in form.items()}
    assert post(server, files=files).json() == {"translatedText": expected[0]}
    query = httpx.post(f"{server.url}/translate", params=form, timeout=30)
    assert query.json() == {"translatedText": expected[0]}


def test_alternatives_are_the_n_best_list(server, reference):
    texts = sentences(3, seed=3)
    texts.append(f"{texts[0]}. {texts[1].capitalize()}")  # its list joins its sentences' lists
    found = reference.translate_detailed(texts, beam_size=3, n_best=3)
    answer = post(server, request(texts, alternatives=2)).json()
    assert answer["translatedText"] == [hyps[0].text for hyps in found]
    for alternatives, hyps in zip(answer["alternatives"], found):
        best = hyps[0].text
        assert alternatives == list(dict.fromkeys(h.text for h in hyps[1:] if h.text != best))
    one = post(server, request(texts[0], alternatives="2")).json()
    assert one == {
        "translatedText": answer["translatedText"][0],
        "alternatives": answer["alternatives"][0],
    }


def test_html_format_translates_the_text_and_keeps_the_markup(server, reference):
    texts = sentences(3, seed=4)
    page = (
        f'<p class="x">{texts[0]}, <b>{texts[1]}</b></p><script>{texts[2]}</script>'
        f'<p translate="no">{texts[2]}</p><p>\n {texts[2]} &amp;</p><br>'
    )
    one, two, three = reference.translate([texts[0] + ",", texts[1], texts[2] + " &"])
    expected = (
        f'<p class="x">{one} <b>{two}</b></p><script>{texts[2]}</script>'
        f'<p translate="no">{texts[2]}</p><p>\n {html.escape(three, quote=False)}</p><br>'
    )
    answer = post(server, request(page, format="html")).json()
    assert answer == {"translatedText": expected}
    listed = post(server, request([page, "<br>"], format="html")).json()
    assert listed == {"translatedText": [answer["translatedText"], "<br>"]}


def test_languages_health_and_metrics(server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert post(server, request("alpha bravo")).status_code == 200
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    for family in (
        "nmt_requests_total counter",
        "nmt_sentences_total counter",
        "nmt_request_duration_seconds histogram",
        "nmt_queue_sentences gauge",
    ):
        assert f"# TYPE {family}" in text
    assert 'nmt_requests_total{endpoint="/translate",status="200"}' in text


def test_auto_source_and_detect(server, reference):
    texts = sentences(5, seed=5)
    expected = reference.translate(texts)
    answer = post(server, request(texts, source="auto")).json()
    assert answer["translatedText"] == expected
    assert [d["language"] for d in answer["detectedLanguage"]] == ["xx"] * 5
    assert all(50 < d["confidence"] <= 100 for d in answer["detectedLanguage"])
    one = post(server, request(texts[0], source="auto")).json()
    assert one["translatedText"] == expected[0] and one["detectedLanguage"]["language"] == "xx"

    def detect(**kwargs) -> httpx.Response:
        return httpx.post(f"{server.url}/detect", timeout=30, **kwargs)

    found = detect(json={"q": texts[0], "api_key": KEY}).json()
    assert [d["language"] for d in found] == ["xx", "yy"]
    assert found[0]["confidence"] >= found[1]["confidence"]
    assert abs(sum(d["confidence"] for d in found) - 100) < 0.2
    assert detect(data={"q": expected[0], "api_key": KEY}).json()[0]["language"] == "yy"
    client = libretranslatepy.LibreTranslateAPI(server.url, api_key=KEY)
    assert client.detect(texts[1])[0]["language"] == "xx"
    assert client.translate(texts[1], "auto", "yy") == expected[1]
    refused = [
        (detect(json={"api_key": KEY}), 400, "missing q"),
        (detect(json={"q": ["alpha"], "api_key": KEY}), 400, "must be a string"),
        (detect(json={"q": "alpha"}), 403, "Missing API key"),
        (detect(json={"q": "a" * 301, "api_key": KEY}), 400, "301 characters"),
    ]
    for got, status, error in refused:
        assert got.status_code == status and error in got.json()["error"], got.text


JSON = {"Content-Type": "application/json"}
BAD_REQUESTS = [
    # name, request keyword arguments, status, part of the error
    (
        "no api_key",
        {"json": {"q": "alpha", "source": "xx", "target": "yy"}},
        403,
        "Missing API key",
    ),
    ("wrong api_key", {"json": request("alpha", api_key="nope")}, 403, "Invalid API key"),
    ("empty q", {"json": request("")}, 400, "missing q"),
    ("empty list", {"json": request([])}, 400, "missing q"),
    ("no q", {"json": {"source": "xx", "target": "yy", "api_key": KEY}}, 400, "missing q"),
    ("q a number", {"json": request(5)}, 400, "list of strings"),
    ("q list of numbers", {"json": request(["alpha", 3])}, 400, "list of strings"),
    ("q an object", {"json": request({"a": 1})}, 400, "list of strings"),
    ("no source", {"json": {"q": "alpha", "target": "yy", "api_key": KEY}}, 400, "missing source"),
    ("source a list", {"json": request("alpha", source=["xx"])}, 400, "source must be"),
    ("unknown language", {"json": request("alpha", target="fr")}, 400, "fr is not supported"),
    ("pair not served", {"json": request("alpha", source="yy", target="xx")}, 400, "not available"),
    (
        "auto finds a language not translated to the target",
        {"json": request("ALPHA BRAVO", source="auto")},
        400,
        "not available as a target language from yy",
    ),
    ("format xml", {"json": request("alpha", format="xml")}, 400, "text or html"),
    ("alternatives text", {"json": request("alpha", alternatives="x")}, 400, "not a number"),
    ("alternatives over limit", {"json": request("alpha", alternatives=4)}, 400, "<= 3"),
    ("10,000 texts", {"json": request(["a"] * 10000)}, 400, "10000 texts"),
    ("text over char limit", {"json": request("a" * 301)}, 400, "301 characters"),
    ("1 MB string", {"json": request("a" * 2**20)}, 413, "too large"),
    ("JSON array", {"content": b"[1, 2]", "headers": JSON}, 400, "Invalid JSON"),
    ("broken JSON", {"content": b'{"q": ', "headers": JSON}, 400, "Invalid JSON"),
    ("bad UTF-8 JSON", {"content": b'{"q": "caf\xe9"}', "headers": JSON}, 400, "UTF-8"),
    (
        "bad UTF-8 form",
        {
            "content": b"q=caf%E9&source=xx&target=yy",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        400,
        "UTF-8",
    ),
    (
        "plain text body",
        {"content": b"alpha", "headers": {"Content-Type": "text/plain"}},
        415,
        "content type",
    ),
]


@pytest.mark.parametrize(
    "kwargs, status, error",
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_requests_get_a_clear_error(server, kwargs, status, error):
    answer = post(server, **kwargs)
    assert answer.status_code == status, answer.text
    assert error in answer.json()["error"]


def test_server_keeps_serving_after_bad_requests(server, reference):
    sizes = [
        post(server, content=b"x" * 10**6).status_code,
        httpx.get(f"{server.url}/translate").status_code,
    ]
    assert sizes == [413, 405]
    assert post(server, request("alpha bravo")).json() == {
        "translatedText": reference.translate(["alpha bravo"])[0]
    }


def test_concurrent_clients_each_get_their_own_answer(server, reference):
    clients, per_client = 8, 50
    texts = sentences(clients * per_client, seed=4)
    expected = dict(zip(texts, reference.translate(texts)))
    answers: dict[str, tuple[int, object]] = {}
    lock = threading.Lock()
    before = _batches(server)

    def client(mine: list[str]) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for text in mine:
                got = http.post("/translate", json=request(text))
                with lock:
                    answers[text] = (got.status_code, got.json().get("translatedText"))

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(texts[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    seconds = time.perf_counter() - start
    assert len(answers) == clients * per_client
    errors = [(t, a) for t, a in answers.items() if a[0] != 200]
    assert not errors, errors[:5]
    wrong = [t for t, (_, got) in answers.items() if got != expected[t]]
    assert not wrong, wrong[:5]
    batches = _batches(server) - before
    print(f"{len(answers)} requests from {clients} clients in {seconds:.1f} s, {batches} batches")
    assert batches < len(answers)  # requests shared translator calls
    assert seconds < 30


def _batches(server) -> int:
    text = httpx.get(f"{server.url}/metrics").text
    return sum(
        int(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("nmt_batches_total{")
    )


@pytest.fixture(scope="module")
def slow_server(trained_run):
    """A server whose idle translator waits half a second for requests to batch with."""
    args = ["--model", str(trained_run), "--batch-wait-ms", "500", "--max-queue", "100"]
    with ServerProcess([*args, "--batch-limit", "100"], cwd=REPO) as process:
        yield process


def _post_in_thread(url: str, body: dict) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def send():
        answer = httpx.post(f"{url}/translate", json=body, timeout=30)
        result.update(status=answer.status_code, body=answer.json())

    thread = threading.Thread(target=send)
    thread.start()
    return thread, result


def test_overload_is_answered_with_503_at_once(slow_server, reference):
    texts = sentences(100, seed=5)
    thread, first = _post_in_thread(slow_server.url, {"q": texts, "source": "xx", "target": "yy"})
    time.sleep(0.2)  # the first request waits in the queue (the batch window)
    start = time.perf_counter()
    busy = httpx.post(
        f"{slow_server.url}/translate", json={"q": "alpha", "source": "xx", "target": "yy"}
    )
    assert busy.status_code == 503 and "Server busy" in busy.json()["error"]
    assert busy.headers["retry-after"] == "1"
    assert time.perf_counter() - start < 0.3
    thread.join(30)
    assert first == {"status": 200, "body": {"translatedText": reference.translate(texts)}}


def test_sigterm_lets_the_request_in_flight_finish(slow_server, reference):
    texts = sentences(10, seed=6)
    thread, answer = _post_in_thread(slow_server.url, {"q": texts, "source": "xx", "target": "yy"})
    time.sleep(0.2)
    status = slow_server.stop(signal.SIGTERM)
    thread.join(30)
    assert answer == {"status": 200, "body": {"translatedText": reference.translate(texts)}}
    assert status == 0, slow_server.stderr
    assert "Traceback" not in slow_server.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{slow_server.url}/health")


def test_command_line_errors_are_one_line():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = str(taken.getsockname()[1])
    serve = [sys.executable, "-m", "nmt.serve"]
    commands = {
        "unknown model": [*serve, "--model", "no-such-model", "--port", "0"],
        "port in use": [*serve, "--model", "en-es", "--port", port],
        "queue below batch limit": [*serve, "--max-queue", "5", "--batch-limit", "10"],
        "missing keys file": [*serve, "--api-keys", "/nonexistent/keys.txt"],
    }
    running = {
        name: subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
        for name, command in commands.items()
    }
    try:
        outcomes = {name: (p.wait(120), p.stderr.read()) for name, p in running.items()}
    finally:
        taken.close()
    expected = {
        "unknown model": "model 'no-such-model' not found",
        "port in use": "address already in use",
        "queue below batch limit": "--max-queue (5) must be at least --batch-limit (10)",
        "missing keys file": "cannot read the api keys file",
    }
    for name, (code, stderr) in outcomes.items():
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1, (name, stderr)
        assert lines[0].startswith("error: ") and expected[name] in lines[0].lower(), (name, stderr)


@pytest.mark.slow
def test_shipped_models_through_libretranslatepy(shared_corpora):
    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split
    from nmt.translator import Translator

    with ServerProcess(["--model", "en-es", "--model", "es-en"], cwd=REPO) as process:
        client = libretranslatepy.LibreTranslateAPI(process.url)
        for name, (source, target) in {"en-es": ("en", "es"), "es-en": ("es", "en")}.items():
            run_dir = resolve_run_dir(name)
            texts = rebuild_test_split(run_dir, str(shared_corpora))[0][:100]
            expected = Translator.from_checkpoint(run_dir).translate(texts)
            assert [client.translate(t, source, target) for t in texts] == expected, name
            listed = post(process, {"q": texts, "source": source, "target": target})
            assert listed.json() == {"translatedText": expected}
            # source auto: the test sentences are told from the other language's
            detected = [client.detect(t)[0]["language"] for t in texts]
            assert detected.count(source) >= 98, name
            told = [i for i, d in enumerate(detected) if d == source]
            body = {"q": [texts[i] for i in told], "source": "auto", "target": target}
            auto = post(process, body)
            assert auto.json()["translatedText"] == [expected[i] for i in told], name
