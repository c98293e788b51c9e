"""The FastAPI application: LibreTranslate's ``/translate``, ``/detect`` and ``/languages``, plus
``/health`` and ``/metrics``. Every answer other than 200 is JSON ``{"error": message}``."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

import nmt
from nmt.server.batcher import Batcher, Overloaded, Stopped
from nmt.server.languages import language_name
from nmt.server.markup import Document, parse
from nmt.server.metrics import CONTENT_TYPE, Metrics
from nmt.server.parsing import (
    FORMATS,
    ApiError,
    TranslateRequest,
    api_key,
    body_fields,
    detect_request,
    translate_request,
)
from nmt.server.settings import ServeSettings

if TYPE_CHECKING:  # the server's package imports only itself; serve.py passes the detector
    from nmt.detect import Detection, LanguageDetector

# A body over the limit is still read (and dropped) up to this size before the 413 goes out:
# a client still sending when the server answers and closes would see a broken connection
# instead of the error.
DRAIN_BYTES = 16 * 2**20


@dataclass(frozen=True)
class ServedModel:
    name: str  # as given on the command line; the batcher's key
    source: str
    target: str
    beam_size: int  # the model's own decode setting


def search_key(model: ServedModel, alternatives: int) -> tuple[str, int, int]:
    """(model, beam size, n-best): requests with the same key are translated together. An
    n-best list needs a beam at least as wide: alternatives widen the model's beam."""
    if not alternatives:
        return model.name, model.beam_size, 1
    n_best = alternatives + 1
    return model.name, max(model.beam_size, n_best), n_best


def detection(found: Detection) -> dict:
    return {"confidence": found.confidence, "language": found.language}


def rendered(document: Document, found: list[list[str]]) -> list[str]:
    """A document's hypotheses from its runs' (``found``: per run, best first): the ``j``-th
    with every run's ``j``-th translation (a run's last where it has fewer); one, the document
    as it came, when it has no text to translate."""
    count = max((len(hyps) for hyps in found), default=1)
    return [
        document.render([hyps[min(j, len(hyps) - 1)] for hyps in found]) for j in range(count)
    ]


def answer(
    request: TranslateRequest, found: list[list[str]], detected: list[Detection] | None = None
) -> dict:
    """LibreTranslate's response: ``translatedText`` (a string, or a list for a list ``q``),
    ``detectedLanguage`` for ``source: auto``, and when asked for ``alternatives``: the other
    distinct hypotheses, best first."""
    best = [hyps[0] for hyps in found]
    result: dict = {"translatedText": best if request.batch else best[0]}
    if detected is not None:
        languages = [detection(d) for d in detected]
        result["detectedLanguage"] = languages if request.batch else languages[0]
    if request.alternatives:
        others = [
            list(dict.fromkeys(h for h in hyps[1:] if h != hyps[0]))[: request.alternatives]
            for hyps in found
        ]
        result["alternatives"] = others if request.batch else others[0]
    return result


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or ApiError 413 when it passes ``limit`` bytes."""
    too_large = ApiError(413, f"Request body too large: at most {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DRAIN_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_BYTES:
            break
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise too_large
    return b"".join(chunks)


def _error(err: ApiError) -> JSONResponse:
    return JSONResponse({"error": err.message}, status_code=err.status, headers=err.headers)


def _internal_error(err: Exception) -> JSONResponse:
    return JSONResponse({"error": f"Internal error: {err}"}, status_code=500)


class Translation:
    """What ``POST /translate`` does, between the HTTP layer and the batcher."""

    def __init__(
        self,
        models: list[ServedModel],
        batcher: Batcher,
        settings: ServeSettings,
        api_keys: frozenset[str] | None,
        detector: LanguageDetector | None = None,
    ):
        self.pairs = {(m.source, m.target): m for m in models}
        self.codes = {code for m in models for code in (m.source, m.target)}
        self.batcher = batcher
        self.settings = settings
        self.api_keys = api_keys
        self.detector = detector

    def check_key(self, key: str | None) -> None:
        if self.api_keys is None:
            return
        if key is None:
            raise ApiError(403, "Missing API key: this server requires an api_key")
        # compared in constant time, so that answer times do not reveal a key's prefix
        if not any(hmac.compare_digest(key.encode(), k.encode()) for k in self.api_keys):
            raise ApiError(403, "Invalid API key")

    def model(self, source: str, target: str) -> ServedModel:
        found = self.pairs.get((source, target))
        if found is not None:
            return found
        if source == "auto":
            raise ApiError(
                400,
                "Invalid request: this server does not detect languages (source 'auto'); "
                "give the source language",
            )
        for code in (source, target):
            if code not in self.codes:
                raise ApiError(400, f"{code} is not supported")
        raise ApiError(
            400,
            f"{language_name(target)} ({target}) is not available as a target language from "
            f"{language_name(source)} ({source})",
        )

    async def fields(self, request: Request) -> tuple[dict, bool]:
        """The request's fields (and whether they came as JSON), its API key checked."""
        body = await read_body(request, self.settings.max_body_bytes)
        fields, from_json = body_fields(
            request.headers.get("content-type"), body, dict(request.query_params)
        )
        self.check_key(api_key(fields))
        return fields, from_json

    def detect(self, text: str) -> list[Detection]:
        if self.detector is None:
            raise ApiError(400, "Invalid request: this server does not detect languages")
        return self.detector.detect(text)

    def submit(self, model: ServedModel, alternatives: int, texts: list[str]):
        try:
            return self.batcher.submit(search_key(model, alternatives), texts)
        except Overloaded as err:
            raise ApiError(
                503, f"Server busy ({err}): try again shortly", {"Retry-After": "1"}
            ) from None
        except Stopped as err:
            raise ApiError(503, f"Server unavailable: {err}") from None

    async def __call__(self, request: Request, started: float) -> dict:
        fields, from_json = await self.fields(request)
        checked = translate_request(fields, from_json, self.settings)
        # format html: what is translated is each document's text runs
        documents = [parse(text) for text in checked.texts] if checked.html else None
        runs = [list(d.texts) for d in documents] if documents else [[t] for t in checked.texts]
        count = sum(map(len, runs))
        if documents and count > self.settings.batch_limit:
            raise ApiError(
                400,
                f"Invalid request: the HTML holds {count} text runs, more than the text limit "
                f"({self.settings.batch_limit})",
            )
        detected = None
        if checked.source == "auto" and self.detector is not None:
            detected = [self.detect(" ".join(texts))[0] for texts in runs]
            sources = [d.language for d in detected]
        else:
            sources = [checked.source] * len(checked.texts)
        # texts of one source language go to its model together, in their order
        groups: dict[str, list[int]] = {}
        for i, source in enumerate(sources):
            groups.setdefault(source, []).append(i)
        models = {source: self.model(source, checked.target) for source in groups}
        futures = []
        try:
            for source, index in groups.items():
                texts = [text for i in index for text in runs[i]]
                futures.append(self.submit(models[source], checked.alternatives, texts))
        except ApiError:
            for future in futures:
                future.cancel()
            raise
        left = self.settings.timeout_s - (time.perf_counter() - started)
        waiting = asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        try:
            # on timeout the jobs are cancelled: a worker skips those it has not begun
            parts = await asyncio.wait_for(waiting, max(left, 0.001))
        except TimeoutError:
            raise ApiError(
                504, f"Translation timed out after {self.settings.timeout_s:g} s"
            ) from None
        except Exception as err:  # noqa: BLE001  (the translator failed on this request)
            for future in futures:
                future.cancel()
            raise ApiError(500, f"Cannot translate text: {err}") from None
        found: list[list[list[str]]] = [[] for _ in checked.texts]  # per text, per run
        for index, hyps in zip(groups.values(), parts):
            at = 0
            for i in index:
                found[i] = hyps[at : at + len(runs[i])]
                at += len(runs[i])
        if documents is None:
            return answer(checked, [hyps[0] for hyps in found], detected)
        return answer(checked, [rendered(d, h) for d, h in zip(documents, found)], detected)


def languages(models: list[ServedModel]) -> list[dict]:
    """LibreTranslate's ``/languages``: every code served, with the targets it translates to."""
    codes = sorted({code for m in models for code in (m.source, m.target)})
    return [
        {
            "code": code,
            "name": language_name(code),
            "targets": sorted(m.target for m in models if m.source == code),
        }
        for code in codes
    ]


TRANSLATE_BODY = {
    "description": "JSON, URL-encoded or multipart form, as LibreTranslate's /translate",
    "content": {
        media: {
            "schema": {
                "type": "object",
                "required": ["q", "source", "target"],
                "properties": {
                    "q": {
                        "oneOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"type": "string"}},
                        ]
                    },
                    "source": {"type": "string", "example": "en"},
                    "target": {"type": "string", "example": "es"},
                    "format": {"type": "string", "enum": list(FORMATS)},
                    "alternatives": {"type": "integer", "minimum": 0},
                    "api_key": {"type": "string"},
                },
            }
        }
        for media in ("application/json", "application/x-www-form-urlencoded")
    },
}


DETECT_BODY = {
    "description": "JSON, URL-encoded or multipart form, as LibreTranslate's /detect",
    "content": {
        media: {
            "schema": {
                "type": "object",
                "required": ["q"],
                "properties": {
                    "q": {"type": "string", "example": "How are you?"},
                    "api_key": {"type": "string"},
                },
            }
        }
        for media in ("application/json", "application/x-www-form-urlencoded")
    },
}


class TranslateFirst:
    """The ASGI application: ``POST /translate`` goes straight to its endpoint, FastAPI serves
    everything else (and lists ``/translate`` on its OpenAPI page, with the same endpoint).

    Why: nearly every request a busy server gets is a translation, and the event loop is one
    thread that writes every answer and reads every next request while the workers wait for
    them; FastAPI's middleware, routing and dependency layers cost that thread more than the
    endpoint itself (docs/serve.md)."""

    def __init__(self, app: FastAPI, translate: Callable[[Request], Awaitable[Response]]):
        self.app = app
        self.translate = translate

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] != "/translate" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            response = await self.translate(Request(scope, receive))
        except Exception as err:  # noqa: BLE001  (as FastAPI's handler below: a JSON 500)
            response = _internal_error(err)
        await response(scope, receive, send)


def create_app(
    models: list[ServedModel],
    batcher: Batcher,
    metrics: Metrics,
    settings: ServeSettings,
    api_keys: frozenset[str] | None = None,
    detector: LanguageDetector | None = None,
) -> TranslateFirst:
    """The application (``TranslateFirst`` over FastAPI); its lifespan starts the batcher's
    workers and, at shutdown (after the server has answered the requests in flight), stops
    them. ``detector``: tells the language of a text for ``/detect`` and ``source: auto``
    (without one, both answer 400)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            await asyncio.to_thread(batcher.stop)

    app = FastAPI(title="lstm-nmt translation server", version=nmt.__version__, lifespan=lifespan)
    translation = Translation(models, batcher, settings, api_keys, detector)
    served = languages(models)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.exception_handler(Exception)
    async def server_error(_: Request, err: Exception) -> JSONResponse:
        return _internal_error(err)

    async def translate(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response: Response = JSONResponse(await translation(request, started))
        except ApiError as err:
            response = _error(err)
        metrics.request("/translate", response.status_code, time.perf_counter() - started)
        return response

    app.post("/translate", openapi_extra={"requestBody": TRANSLATE_BODY})(translate)

    @app.post("/detect", openapi_extra={"requestBody": DETECT_BODY})
    async def detect(request: Request) -> Response:
        try:
            fields, from_json = await translation.fields(request)
            found = translation.detect(detect_request(fields, from_json, settings))
            response: Response = JSONResponse([detection(d) for d in found])
        except ApiError as err:
            response = _error(err)
        metrics.request("/detect", response.status_code)
        return response

    @app.get("/languages")
    async def get_languages() -> list[dict]:
        metrics.request("/languages", 200)
        return served

    @app.get("/health")
    async def health() -> dict:
        metrics.request("/health", 200)
        return {"status": "ok"}

    @app.get("/metrics")
    async def get_metrics() -> Response:
        metrics.request("/metrics", 200)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return TranslateFirst(app, translate)
