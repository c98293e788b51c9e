"""Counters, a latency histogram and the queue depth, written in Prometheus' text format."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# request latency buckets in seconds: a single sentence answers in tens of milliseconds, a full
# batch of long texts in seconds
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items()) + "}"


def _family(name: str, kind: str, text: str, samples: list[str]) -> list[str]:
    """One metric family: its HELP and TYPE lines, then its samples."""
    return [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *samples]


class Metrics:
    """Thread-safe: the event loop counts requests, the worker thread counts batches."""

    def __init__(self, queue_depth: Callable[[], tuple[int, int]] = lambda: (0, 0)):
        self._lock = threading.Lock()
        self._queue_depth = queue_depth
        self._requests: Counter[tuple[str, int]] = Counter()
        self._sentences: Counter[str] = Counter()
        self._batches: Counter[str] = Counter()
        self._translate_seconds: Counter[str] = Counter()
        self._bucket_counts = [0] * len(LATENCY_BUCKETS)
        self._latency_sum = 0.0
        self._latency_count = 0

    def request(self, endpoint: str, status: int, seconds: float | None = None) -> None:
        """Count one answered request; ``seconds``: its latency, for the histogram."""
        with self._lock:
            self._requests[endpoint, status] += 1
            if seconds is None:
                return
            self._latency_sum += seconds
            self._latency_count += 1
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self._bucket_counts[i] += 1

    def batch(self, model: str, sentences: int, seconds: float) -> None:
        """Count one translator call of ``sentences`` sentences that took ``seconds``."""
        with self._lock:
            self._sentences[model] += sentences
            self._batches[model] += 1
            self._translate_seconds[model] += seconds

    def render(self) -> str:
        requests, sentences = self._queue_depth()
        with self._lock:
            by_status = sorted(self._requests.items())
            by_model = sorted(set(self._sentences) | set(self._batches))
            buckets = list(zip(LATENCY_BUCKETS, self._bucket_counts))
            latency_sum, latency_count = self._latency_sum, self._latency_count
            counts = {
                m: (self._sentences[m], self._batches[m], self._translate_seconds[m])
                for m in by_model
            }
        histogram = "nmt_request_duration_seconds"
        lines = [
            *_family(
                "nmt_requests_total",
                "counter",
                "HTTP requests answered, by endpoint and status.",
                [
                    f"nmt_requests_total{_labels(endpoint=endpoint, status=str(status))} {n}"
                    for (endpoint, status), n in by_status
                ],
            ),
            *_family(
                "nmt_sentences_total",
                "counter",
                "Sentences translated, by model.",
                [f"nmt_sentences_total{_labels(model=m)} {counts[m][0]}" for m in by_model],
            ),
            *_family(
                "nmt_batches_total",
                "counter",
                "Translator calls (queued requests translated together), by model.",
                [f"nmt_batches_total{_labels(model=m)} {counts[m][1]}" for m in by_model],
            ),
            *_family(
                "nmt_translate_seconds_total",
                "counter",
                "Seconds spent in translator calls, by model (its rate: how busy the worker is).",
                [
                    f"nmt_translate_seconds_total{_labels(model=m)} {counts[m][2]:.6f}"
                    for m in by_model
                ],
            ),
            *_family(
                histogram,
                "histogram",
                "Latency of /translate requests, queueing included.",
                [
                    *(f'{histogram}_bucket{{le="{bound}"}} {n}' for bound, n in buckets),
                    f'{histogram}_bucket{{le="+Inf"}} {latency_count}',
                    f"{histogram}_sum {latency_sum:.6f}",
                    f"{histogram}_count {latency_count}",
                ],
            ),
            *_family(
                "nmt_queue_requests",
                "gauge",
                "Requests waiting for the translator.",
                [f"nmt_queue_requests {requests}"],
            ),
            *_family(
                "nmt_queue_sentences",
                "gauge",
                "Sentences waiting for the translator.",
                [f"nmt_queue_sentences {sentences}"],
            ),
        ]
        return "\n".join(lines) + "\n"
