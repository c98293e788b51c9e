"""Command line of the translation server (LibreTranslate's API; see docs/serve.md)::

python -m nmt.serve --model en-es --model es-en [--host 127.0.0.1] [--port 5000]
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import nmt
from nmt.env import one_core_per_worker, prefer_onednn, quiet_tensorflow
from nmt.server.settings import ServeSettings

if TYPE_CHECKING:
    from nmt.detect import LanguageDetector
    from nmt.server.app import ServedModel
    from nmt.translator import Translator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
# sentences translated once at start-up, so that the first client does not wait for the search
# graph to be built (more than the translator answers without compiling)
WARM_UP = ["Warm up."] * 64


# option, ServeSettings field, type, what it limits
LIMIT_OPTIONS = (
    ("--char-limit", "char_limit", int, "characters per text"),
    ("--batch-limit", "batch_limit", int, "texts per request"),
    ("--alternatives-limit", "alternatives_limit", int, "most alternatives (n-best) per text"),
    ("--max-body-bytes", "max_body_bytes", int, "largest request body (larger: 413)"),
    ("--max-queue", "max_queue", int, "sentences waiting for the translator (more: 503)"),
    (
        "--batch-wait-ms",
        "batch_wait_ms",
        float,
        "how long an idle translator waits for more requests to join the first",
    ),
    ("--max-batch", "max_batch", int, "most sentences translated in one call"),
    ("--timeout", "timeout_s", float, "seconds per request, queueing included (longer: 504)"),
    (
        "--workers",
        "workers",
        int,
        "translator threads sharing the waiting requests, one per CPU unless given; with more "
        "than one, each translates on one core",
    ),
)


class ServeError(Exception):
    """A start-up problem, shown as one ``error:`` line."""


def build_parser() -> argparse.ArgumentParser:
    defaults = ServeSettings()
    parser = argparse.ArgumentParser(
        prog="nmt-serve",
        description="Serve translation models over HTTP with LibreTranslate's API "
        "(POST /translate, GET /languages), plus GET /health and GET /metrics.",
    )
    add = parser.add_argument
    add(
        "--model",
        "-m",
        action="append",
        help="run directory or model name, once per model (default: every model in "
        "$NMT_MODELS_DIR and the shipped ones); each serves its source -> target pair",
    )
    add("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    add("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    add("--api-keys", metavar="FILE", help="require one of these keys (one per line) as api_key")
    for flag, field, kind, text in LIMIT_OPTIONS:
        default = getattr(defaults, field)
        add(
            flag,
            dest=field,
            metavar="N",
            type=kind,
            default=default,
            help=f"{text} (default: {default})",
        )
    add("--access-log", action="store_true", help="log every request")
    add("--version", action="version", version=f"lstm-nmt {nmt.__version__}")
    return parser


def settings_from(args: argparse.Namespace) -> ServeSettings:
    try:
        return ServeSettings(**{field: getattr(args, field) for _, field, _, _ in LIMIT_OPTIONS})
    except ValueError as err:
        message = str(err)
        for flag, field, _, _ in LIMIT_OPTIONS:
            message = message.replace(field, flag)
        raise ServeError(message) from None


def read_api_keys(path: str | None) -> frozenset[str] | None:
    """The keys in ``path``, one per line (blank lines and ``#`` comments skipped)."""
    if path is None:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ServeError(f"cannot read the API keys file {path}: {err}") from None
    keys = frozenset(k.strip() for k in lines if k.strip() and not k.strip().startswith("#"))
    if not keys:
        raise ServeError(f"the API keys file {path} holds no keys")
    return keys


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (before any model loads, so a taken port fails at once)."""
    if not 0 <= port <= 65535:
        raise ServeError(f"port must be within 0-65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        raise ServeError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock


def load_models(names: list[str] | None) -> tuple[list[ServedModel], dict[str, Translator]]:
    """Load each model (default: every one found) and warm its search up."""
    from nmt.checkpoint import CheckpointError, model_names
    from nmt.server.app import ServedModel
    from nmt.translator import Translator

    names = names or model_names()
    if not names:
        raise ServeError("no models: give --model RUN_DIR (or set $NMT_MODELS_DIR)")
    served: list[ServedModel] = []
    translators: dict[str, Translator] = {}
    pairs: dict[tuple[str, str], str] = {}
    for name in dict.fromkeys(names):
        try:
            translator = Translator.from_checkpoint(name)
        except CheckpointError as err:
            raise ServeError(str(err)) from None
        source, target = translator.metadata.get("src_lang"), translator.metadata.get("tgt_lang")
        if not (isinstance(source, str) and isinstance(target, str) and source and target):
            raise ServeError(f"{name}: its metadata.json names no src_lang and tgt_lang")
        pair = (source.lower(), target.lower())
        if pair in pairs:
            raise ServeError(f"{pairs[pair]} and {name} both translate {source} -> {target}")
        pairs[pair] = name
        translator.translate(WARM_UP)
        translators[name] = translator
        served.append(ServedModel(name, *pair, beam_size=translator.decode.beam_size))
    return served, translators


def language_detector(translators: dict[str, Translator]) -> LanguageDetector:
    """A detector over every served language (``nmt.detect.models_detector``)."""
    from nmt.detect import models_detector

    return models_detector(
        (t.metadata["src_lang"], t.src_tokenizer, t.metadata["tgt_lang"], t.tgt_tokenizer)
        for t in translators.values()
    )


def translate_fn(translators: dict[str, Translator]):
    """The batcher's translate: (model, beam, n-best) key and texts -> hypotheses' texts."""

    def translate(key: tuple[str, int, int], texts: list[str]) -> list[list[str]]:
        name, beam_size, n_best = key
        found = translators[name].translate_detailed(texts, beam_size=beam_size, n_best=n_best)
        return [[hyp.text for hyp in hyps] for hyps in found]

    return translate


def serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    keys = read_api_keys(args.api_keys)
    try:
        import uvicorn

        from nmt.server.app import create_app
    except ImportError as err:
        raise ServeError(
            f"the server needs FastAPI and uvicorn ({err.name} is missing): "
            "pip install 'lstm-nmt[serve]'"
        ) from None
    from nmt.server.batcher import Batcher
    from nmt.server.metrics import Metrics

    sock = listen_socket(args.host, args.port)
    prefer_onednn()
    quiet_tensorflow()
    one_core_per_worker(settings.workers)
    models, translators = load_models(args.model)
    metrics: Metrics
    batcher = Batcher(
        translate_fn(translators),
        wait_s=settings.batch_wait_ms / 1000,
        max_queue=settings.max_queue,
        max_batch=settings.max_batch,
        on_batch=lambda stats: metrics.batch(stats.key[0], stats.sentences, stats.seconds),
        workers=settings.workers,
    )
    metrics = Metrics(queue_depth=lambda: batcher.depth)
    app = create_app(models, batcher, metrics, settings, keys, language_detector(translators))
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=args.access_log,
        # in-flight requests finish within their own timeout; then the server stops anyway
        timeout_graceful_shutdown=int(settings.timeout_s) + 5,
    )
    host, port = sock.getsockname()[:2]
    # listen before saying so: connections made before uvicorn's loop runs then wait in the
    # backlog instead of being refused (uvicorn listens again on the same socket)
    sock.listen(2048)
    pairs = ", ".join(f"{m.source}->{m.target} ({m.name})" for m in models)
    print(f"serving {pairs} on http://{host}:{port}", file=sys.stderr, flush=True)
    # uvicorn stops gracefully on SIGTERM and then raises the signal again: let that end the
    # process quietly with status 0 (a stop asked for, not a failure)
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.Server(config).run(sockets=[sock])
    print("server stopped", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return serve(args)
    except ServeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
