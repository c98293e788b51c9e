#!/usr/bin/env python3
"""Serving speed against file translation, printed as JSON.

For each client count (1, 4, 16) a round: the model's test split through ``translate.py -i
FILE`` (its own lines/s, model loading left out), then through one running ``python -m
nmt.serve`` from that many concurrent clients, each sending its share one request at a time
(``--per-request`` sentences per request): the server's sentences/s, p50/p95 request latency,
sentences per translator call, and the ratio to the round's file sentences/s (taken within a
round, as a shared machine's speed drifts). The clients run in this process, on the same
machine as the server.

    python bench/serve_speed.py --model en-es --clients 1,4,16
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_FILE_RATE = re.compile(r"translated (\d+) line\(s\) in ([\d.]+) s \(([\d.]+) lines/s")


def file_translation(model: str, sources: list[str], folder: Path) -> tuple[dict, list[str]]:
    """``translate.py -i`` over ``sources``: its reported rate and its output lines."""
    src, out = folder / "src.txt", folder / "out.txt"
    src.write_text("".join(s + "\n" for s in sources), encoding="utf-8")
    command = [sys.executable, str(REPO / "translate.py"), "-m", model, "-i", str(src)]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "-o", str(out)], cwd=REPO, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    found = _FILE_RATE.search(done.stderr)
    if found is None:
        raise RuntimeError(f"translate.py printed no rate:\n{done.stderr}")
    lines, seconds, _ = found.groups()
    report = {
        "sentences": int(lines),
        "seconds": float(seconds),
        "sentences_per_s": round(int(lines) / float(seconds), 1),
        "wall_s_with_start_up": round(wall, 2),
    }
    return report, out.read_text(encoding="utf-8").splitlines()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def load(url: str, body: dict, chunks: list[list[str]], clients: int) -> tuple[dict, dict]:
    """Send ``chunks`` (one request each) from ``clients`` threads; the figures and, per
    source, the translation it got."""
    import httpx

    latencies: list[float] = []
    answers: dict[int, list[str]] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def client(mine: list[int]) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            for index in mine:
                start = time.perf_counter()
                got = http.post("/translate", json={**body, "q": chunks[index]})
                seconds = time.perf_counter() - start
                with lock:
                    latencies.append(seconds)
                    if got.status_code == 200:
                        answers[index] = got.json()["translatedText"]
                    else:
                        errors.append(f"{got.status_code} {got.text[:200]}")

    threads = [
        threading.Thread(target=client, args=(list(range(i, len(chunks), clients)),))
        for i in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    sentences = sum(len(c) for c in chunks)
    report = {
        "requests": len(chunks),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "sentences_per_s": round(sentences / wall, 1),
        "p50_ms": round(1000 * percentile(latencies, 50), 1),
        "p95_ms": round(1000 * percentile(latencies, 95), 1),
    }
    return report, answers


def translator_calls(url: str) -> tuple[int, int]:
    """(sentences, translator calls) so far, from the server's /metrics."""
    import httpx

    totals = {"nmt_sentences_total": 0, "nmt_batches_total": 0}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        name = line.split("{", 1)[0]
        if name in totals:
            totals[name] += int(line.rsplit(" ", 1)[1])
    return totals["nmt_sentences_total"], totals["nmt_batches_total"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-es", help="run directory or model name")
    parser.add_argument("--clients", default="1,4,16", help="comma list of client counts")
    parser.add_argument("--per-request", type=int, default=1, help="sentences per request")
    parser.add_argument("--limit", type=int, help="only the first N test sentences")
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    parser.add_argument("--batch-wait-ms", type=float, help="the server's batch window")
    parser.add_argument("--workers", type=int, help="the server's translator threads")
    args = parser.parse_args(argv)
    if args.per_request < 1:
        parser.error("--per-request must be at least 1")

    from nmt.checkpoint import read_metadata, resolve_run_dir
    from nmt.evaluate import rebuild_test_split
    from nmt.server.process import ServerProcess

    run_dir = resolve_run_dir(args.model)
    metadata = read_metadata(run_dir)
    sources = rebuild_test_split(run_dir, args.data_dir)[0][: args.limit]
    k = args.per_request
    chunks = [sources[i : i + k] for i in range(0, len(sources), k)]
    body = {"source": metadata["src_lang"], "target": metadata["tgt_lang"]}
    server_args = ["--model", str(run_dir), "--batch-limit", str(max(k, 1000))]
    if args.batch_wait_ms is not None:
        server_args += ["--batch-wait-ms", str(args.batch_wait_ms)]
    if args.workers is not None:
        server_args += ["--workers", str(args.workers)]
    runs = []
    with ServerProcess(server_args, cwd=REPO) as server, tempfile.TemporaryDirectory() as tmp:
        load(server.url, body, chunks[:32], 4)  # connections and batch shapes warmed up
        for clients in (int(c) for c in args.clients.split(",")):
            file_report, file_lines = file_translation(str(run_dir), sources, Path(tmp))
            sentences_before, calls_before = translator_calls(server.url)
            report, answers = load(server.url, body, chunks, clients)
            sentences, calls = translator_calls(server.url)
            report["sentences_per_translator_call"] = round(
                (sentences - sentences_before) / max(1, calls - calls_before), 1
            )
            got = [line for i in range(len(chunks)) for line in answers.get(i, [None] * k)]
            report["same_as_file"] = sum(a == b for a, b in zip(got, file_lines))
            report["of_file_speed"] = round(
                report["sentences_per_s"] / file_report["sentences_per_s"], 2
            )
            runs.append({"clients": clients, "file": file_report, "server": report})
    result = {
        "model": args.model,
        "sentences": len(sources),
        "per_request": k,
        "beam_size": _beam(run_dir),
        "cpu_count": os.cpu_count(),
        "rounds": runs,
    }
    print(json.dumps(result, indent=2))
    return 0


def _beam(run_dir: Path) -> int:
    from nmt.config import load_config

    return load_config(run_dir / "config.yaml").decode.beam_size


if __name__ == "__main__":
    sys.exit(main())
