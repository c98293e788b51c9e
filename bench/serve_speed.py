#!/usr/bin/env python3
"""Serving speed against file translation, printed as JSON.

For each client count (1, 4, 16) a round: the model's test split through ``translate.py -i
FILE`` (its own lines/s, model loading left out), then through one running ``python -m
nmt.serve`` from that many concurrent clients, each sending its share one request at a time
(``--per-request`` sentences per request, as a list or with ``--as-text`` joined into one text
that the server translates sentence by sentence): the server's sentences/s, p50/p95 request latency,
sentences per translator call, and the ratio to the round's file sentences/s (taken within a
round, as a shared machine's speed drifts). Each client is a process of its own
(``--client-threads``: threads of this process, which then share one Python lock), on the same
machine as the server, and its CPU time is reported beside the server's. Clients speak
HTTP/1.1 with keep-alive through the standard library's ``http.client`` by default, whose CPU
per request is a fraction of httpx's (``--http-client stdlib,httpx`` alternates the two), or
``socket``, a plain-socket client lighter still: a load generator on the server's own cores
should take as little of them as it can. Before the rounds, ``http_only``: the server's CPU
per ``GET /health`` from 8 clients, what HTTP alone costs.

    python bench/serve_speed.py --model en-es --clients 1,4,16
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_FILE_RATE = re.compile(r"translated (\d+) line\(s\) in ([\d.]+) s \(([\d.]+) lines/s")


def file_translation(
    model: str, sources: list[str], folder: Path, options: tuple[str, ...] = ()
) -> tuple[dict, list[str]]:
    """``translate.py -i`` (with ``options``) over ``sources``: its reported rate and its
    output lines."""
    src, out = folder / "src.txt", folder / "out.txt"
    src.write_text("".join(s + "\n" for s in sources), encoding="utf-8")
    command = [sys.executable, str(REPO / "translate.py"), "-m", model, "-i", str(src), *options]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "-o", str(out)], cwd=REPO, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    found = _FILE_RATE.search(done.stderr)
    if found is None:
        raise RuntimeError(f"translate.py printed no rate:\n{done.stderr}")
    lines, seconds, rate = found.groups()
    report = {
        "sentences": int(lines),
        "seconds": float(seconds),
        # the printed rate, not lines / seconds: the seconds are printed to a tenth only
        "sentences_per_s": float(rate),
        "wall_s_with_start_up": round(wall, 2),
    }
    return report, out.read_text(encoding="utf-8").splitlines()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


class _Stdlib:
    """A keep-alive HTTP/1.1 connection through the standard library's ``http.client``: a
    fraction of httpx's CPU a request, which on a shared machine is CPU the server keeps."""

    def __init__(self, url: str) -> None:
        import http.client

        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)

    def post(self, path: str, body: dict) -> tuple[int, str]:
        data = json.dumps(body).encode()
        self.connection.request(
            "POST", path, body=data, headers={"Content-Type": "application/json"}
        )
        answer = self.connection.getresponse()
        return answer.status, answer.read().decode()

    def get(self, path: str) -> tuple[int, str]:
        self.connection.request("GET", path)
        answer = self.connection.getresponse()
        return answer.status, answer.read().decode()

    def close(self) -> None:
        self.connection.close()


class _Httpx:
    """The same through httpx (what the tests' clients use)."""

    def __init__(self, url: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=url, timeout=120)

    def post(self, path: str, body: dict) -> tuple[int, str]:
        got = self.client.post(path, json=body)
        return got.status_code, got.text

    def get(self, path: str) -> tuple[int, str]:
        got = self.client.get(path)
        return got.status_code, got.text

    def close(self) -> None:
        self.client.close()


class _Socket:
    """HTTP/1.1 with keep-alive on a plain socket: the request written in one ``sendall``, the
    answer read up to its ``Content-Length``, as a load generator in C (wrk) does, for less
    CPU a request than ``http.client``: on a shared machine, clients on other machines
    are best stood in for by the lightest client there is. It handles only what this server
    answers (a ``Content-Length``, no chunked bodies)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = f"{parts.hostname}:{parts.port}"
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def _exchange(self, head: bytes) -> tuple[int, str]:
        self.sock.sendall(head)
        data = self.pending
        while b"\r\n\r\n" not in data:
            data += self._recv()
        header, data = data.split(b"\r\n\r\n", 1)
        lines = header.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(data) < length:
            data += self._recv()
        self.pending = data[length:]
        return status, data[:length].decode()

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def post(self, path: str, body: dict) -> tuple[int, str]:
        data = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        return self._exchange(head + data)

    def get(self, path: str) -> tuple[int, str]:
        return self._exchange(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())

    def close(self) -> None:
        self.sock.close()


CLIENTS = {"stdlib": _Stdlib, "httpx": _Httpx, "socket": _Socket}


def _client(
    url: str, body: dict, work: list[tuple[int, list[str]]], barrier, results, kind: str
) -> None:
    """One client: after ``barrier``, send each ``(index, texts)`` and wait for its answer;
    puts (answers, latencies, errors, CPU seconds) on ``results``, then waits at ``barrier``
    again before it closes its connection and exits: a client that is done early would else
    spend the CPU of its exit on the server's cores while the clock still runs."""
    answers: dict[int, list[str]] = {}
    latencies: list[float] = []
    errors: list[str] = []
    http = CLIENTS[kind](url)
    try:
        http.get("/health")  # connected before the clock starts
        barrier.wait()
        cpu = time.process_time()
        for index, texts in work:
            start = time.perf_counter()
            q = " ".join(texts) if body.get("as_text") else texts
            request = {k: v for k, v in body.items() if k != "as_text"}
            status, text = http.post("/translate", {**request, "q": q})
            latencies.append(time.perf_counter() - start)
            if status == 200:
                answers[index] = json.loads(text)["translatedText"]
            else:
                errors.append(f"{status} {text[:200]}")
        cpu = time.process_time() - cpu
        results.put((answers, latencies, errors, cpu))
        barrier.wait(600)
    finally:
        http.close()


def _health_client(url: str, count: int, barrier, results, kind: str) -> None:
    """One client sending ``count`` ``GET /health`` after ``barrier``; puts the failures."""
    http = CLIENTS[kind](url)
    try:
        http.get("/health")
        barrier.wait()
        failed = sum(http.get("/health")[0] != 200 for _ in range(count))
    finally:
        http.close()
    results.put(failed)


def http_cost(url: str, pid: int, clients: int, count: int, kind: str) -> dict:
    """The server's CPU per request for HTTP alone: ``clients`` processes each sending
    ``count`` ``GET /health`` (routing, a JSON answer, the metrics; no translation)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(clients + 1), context.Queue()
    runners = [
        context.Process(target=_health_client, args=(url, count, barrier, results, kind))
        for _ in range(clients)
    ]
    for runner in runners:
        runner.start()
    barrier.wait(120)
    cpu, start = process_cpu_s(pid), time.perf_counter()
    failed = sum(results.get(timeout=600) for _ in runners)
    wall, cpu = time.perf_counter() - start, process_cpu_s(pid) - cpu
    for runner in runners:
        runner.join()
    requests = clients * count
    return {
        "requests": requests,
        "failed": failed,
        "requests_per_s": round(requests / wall, 1),
        "server_cpu_ms_per_request": round(1000 * cpu / requests, 3),
    }


def load(
    url: str,
    body: dict,
    chunks: list[list[str]],
    clients: int,
    threads: bool = False,
    kind: str = "stdlib",
) -> tuple[dict, dict]:
    """Send ``chunks`` (one request each) from ``clients`` concurrent clients, each its own
    process (as clients on other machines would be: none waits for another's Python lock), or
    with ``threads`` threads of this process; the figures and, per source, the translation it
    got."""
    import multiprocessing
    import queue

    context = multiprocessing.get_context("spawn")
    shares = [
        [(i, chunks[i]) for i in range(first, len(chunks), clients)] for first in range(clients)
    ]
    if threads:
        barrier, results = threading.Barrier(clients + 1), queue.Queue()
        runners = [
            threading.Thread(target=_client, args=(url, body, share, barrier, results, kind))
            for share in shares
        ]
    else:
        barrier, results = context.Barrier(clients + 1), context.Queue()
        runners = [
            context.Process(target=_client, args=(url, body, share, barrier, results, kind))
            for share in shares
        ]
    for runner in runners:
        runner.start()
    barrier.wait(120)
    start = time.perf_counter()
    answers: dict[int, list[str]] = {}
    latencies: list[float] = []
    errors: list[str] = []
    client_cpu = 0.0
    for _ in runners:
        got, times, failed, cpu = results.get(timeout=600)
        answers.update(got)
        latencies += times
        errors += failed
        client_cpu += cpu
    wall = time.perf_counter() - start
    barrier.wait(120)  # the clock has stopped: the clients may close and exit
    for runner in runners:
        runner.join()
    sentences = sum(len(c) for c in chunks)
    report = {
        "requests": len(chunks),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "sentences_per_s": round(sentences / wall, 1),
        "p50_ms": round(1000 * percentile(latencies, 50), 1),
        "p95_ms": round(1000 * percentile(latencies, 95), 1),
        # the clients share the server's cores: what they burnt is not the server's
        "client_cpu_s": round(client_cpu, 2),
    }
    return report, answers


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def translator_calls(url: str) -> tuple[int, int, float]:
    """(sentences, translator calls, seconds in them) so far, from the server's /metrics."""
    import httpx

    names = ("nmt_sentences_total", "nmt_batches_total", "nmt_translate_seconds_total")
    totals = dict.fromkeys(names, 0.0)
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        name = line.split("{", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(" ", 1)[1])
    sentences, calls, seconds = (totals[name] for name in names)
    return int(sentences), int(calls), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-es", help="run directory or model name")
    parser.add_argument("--clients", default="1,4,16", help="comma list of client counts")
    parser.add_argument("--per-request", type=int, default=1, help="sentences per request")
    parser.add_argument("--as-text", action="store_true",
                        help="each request's sentences joined into one text, not a list")
    parser.add_argument("--limit", type=int, help="only the first N test sentences")
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    parser.add_argument("--batch-wait-ms", type=float, help="the server's batch window")
    parser.add_argument("--workers", type=int, help="the server's translator threads")
    parser.add_argument("--client-threads", action="store_true",
                        help="clients as threads of this process, not one process each")
    parser.add_argument("--http-client", default="stdlib",
                        help="comma list of clients (stdlib, httpx, socket); each client "
                             "count runs once with each, in turn")
    args = parser.parse_args(argv)
    if args.per_request < 1:
        parser.error("--per-request must be at least 1")
    kinds = args.http_client.split(",")
    if not set(kinds) <= set(CLIENTS):
        parser.error(f"--http-client takes {', '.join(CLIENTS)}, got {args.http_client!r}")

    from nmt.checkpoint import read_metadata, resolve_run_dir
    from nmt.evaluate import rebuild_test_split
    from nmt.server.process import ServerProcess

    run_dir = resolve_run_dir(args.model)
    metadata = read_metadata(run_dir)
    sources = rebuild_test_split(run_dir, args.data_dir)[0][: args.limit]
    k = args.per_request
    chunks = [sources[i : i + k] for i in range(0, len(sources), k)]
    body = {"source": metadata["src_lang"], "target": metadata["tgt_lang"]}
    if args.as_text:
        body["as_text"] = True  # the clients' flag, not sent
    server_args = ["--model", str(run_dir), "--batch-limit", str(max(k, 1000))]
    if args.batch_wait_ms is not None:
        server_args += ["--batch-wait-ms", str(args.batch_wait_ms)]
    if args.workers is not None:
        server_args += ["--workers", str(args.workers)]
    runs = []
    with ServerProcess(server_args, cwd=REPO) as server, tempfile.TemporaryDirectory() as tmp:
        load(server.url, body, chunks[:32], 4, threads=True)  # batch shapes warmed up
        http_only = http_cost(server.url, server.process.pid, 8, 250, kinds[0])
        rounds = [(int(c), kind) for c in args.clients.split(",") for kind in kinds]
        for clients, kind in rounds:
            file_report, file_lines = file_translation(str(run_dir), sources, Path(tmp))
            sentences_before, calls_before, busy_before = translator_calls(server.url)
            server_cpu_before = process_cpu_s(server.process.pid)
            report, answers = load(server.url, body, chunks, clients, args.client_threads, kind)
            report["server_cpu_s"] = round(process_cpu_s(server.process.pid) - server_cpu_before, 2)
            sentences, calls, busy = translator_calls(server.url)
            report["sentences_per_translator_call"] = round(
                (sentences - sentences_before) / max(1, calls - calls_before), 1
            )
            # the share of the wall time the worker spent translating (the rest: waiting for
            # requests to gather, and HTTP)
            report["translator_busy_share"] = round((busy - busy_before) / report["seconds"], 2)
            if args.as_text:  # a text's translation against its sentences' joined
                got = [answers.get(i) for i in range(len(chunks))]
                expected = [" ".join(file_lines[i : i + k]) for i in range(0, len(sources), k)]
                report["same_as_file_texts"] = sum(a == b for a, b in zip(got, expected))
            else:
                got = [line for i in range(len(chunks)) for line in answers.get(i, [None] * k)]
                report["same_as_file"] = sum(a == b for a, b in zip(got, file_lines))
            report["of_file_speed"] = round(
                report["sentences_per_s"] / file_report["sentences_per_s"], 2
            )
            runs.append(
                {"clients": clients, "http_client": kind, "file": file_report, "server": report}
            )
    result = {
        "model": args.model,
        "sentences": len(sources),
        "per_request": k,
        "as_text": args.as_text,
        "beam_size": _beam(run_dir),
        "cpu_count": os.cpu_count(),
        "clients_as": "threads" if args.client_threads else "processes",
        "http_only": http_only,
        "rounds": runs,
        "summary": summary(runs),
    }
    print(json.dumps(result, indent=2))
    return 0


TARGET_SHARE = 0.70  # of the file speed, the server's goal at 16 clients


def summary(runs: list[dict]) -> dict[str, dict]:
    """Per client count and HTTP client, over its rounds: the median server rate and share of
    the file speed (single rounds move with the machine), and how many rounds reached
    ``TARGET_SHARE``."""
    found: dict[str, dict] = {}
    for key in dict.fromkeys(f"{r['clients']} {r['http_client']}" for r in runs):
        rounds = [r for r in runs if f"{r['clients']} {r['http_client']}" == key]
        shares = [r["server"]["of_file_speed"] for r in rounds]
        found[key] = {
            "rounds": len(rounds),
            "median_sentences_per_s": round(
                statistics.median(r["server"]["sentences_per_s"] for r in rounds), 1
            ),
            "median_of_file_speed": round(statistics.median(shares), 2),
            f"rounds_at_least_{TARGET_SHARE:.2f}": sum(share >= TARGET_SHARE for share in shares),
        }
    return found


def _beam(run_dir: Path) -> int:
    from nmt.config import load_config

    return load_config(run_dir / "config.yaml").decode.beam_size


if __name__ == "__main__":
    sys.exit(main())
