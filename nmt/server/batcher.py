"""Worker threads that own the translators: requests queue, and those asking for the same
model and search are translated in one call, so concurrent clients share batches."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field

# (group key, texts) -> per text, its hypotheses' texts, best first
TranslateFn = Callable[[Hashable, list[str]], list[list[str]]]


class Overloaded(RuntimeError):
    """The queue holds too many sentences to take a request now."""


class Stopped(RuntimeError):
    """The batcher is shutting down and takes no new requests."""


@dataclass
class Job:
    key: Hashable
    texts: list[str]
    future: Future = field(default_factory=Future)


@dataclass
class BatchStats:
    """What the worker reports after each translator call (for metrics)."""

    key: Hashable
    sentences: int
    requests: int
    seconds: float


class Batcher:
    """Queue of jobs, translated by ``workers`` threads in groups of one key.

    An idle worker gives others up to ``wait_s`` to join the first queued job, then translates
    every queued job of the oldest job's key (up to ``max_batch`` sentences) in one call. It
    stops waiting early once as many requests queue as were in play when its last call ended
    (answered by it, or queued meanwhile): clients that wait for an answer before they send
    again come back together into one call instead of splitting into two half-size ones that
    take turns, and a lone client is not kept waiting for company. ``submit`` refuses work
    when more than ``max_queue`` sentences would wait. With more than one worker, one
    translates while another gathers the next group (TensorFlow's calls release Python's
    lock); on two cores that gained nothing (docs/serve.md).
    """

    def __init__(
        self,
        translate: TranslateFn,
        wait_s: float,
        max_queue: int,
        max_batch: int,
        on_batch: Callable[[BatchStats], None] | None = None,
        workers: int = 1,
    ):
        self._translate = translate
        self._wait_s = wait_s
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._on_batch = on_batch
        self._jobs: deque[Job] = deque()
        self._queued = 0  # sentences in self._jobs
        # requests in play when the last call ended (None before the first): wait for no more
        self._expected: int | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._run, name=f"nmt-translate-{i}", daemon=True)
            for i in range(workers)
        ]

    @property
    def depth(self) -> tuple[int, int]:
        """(requests, sentences) waiting."""
        with self._cond:
            return len(self._jobs), self._queued

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Take no new jobs, translate those queued, and end the worker."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def submit(self, key: Hashable, texts: list[str]) -> Future:
        """Queue ``texts``; the future gives their hypotheses' texts (see ``TranslateFn``).
        Cancelling the future before the worker takes it drops the job."""
        job = Job(key, list(texts))
        with self._cond:
            if self._stopping:
                raise Stopped("the server is shutting down")
            if self._queued + len(job.texts) > self._max_queue:
                raise Overloaded(
                    f"{self._queued} sentences are waiting (at most {self._max_queue})"
                )
            self._jobs.append(job)
            self._queued += len(job.texts)
            self._cond.notify_all()
        return job.future

    # --- worker -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            group = self._next_group()
            if group is None:
                return
            self._translate_group(group)

    def _next_group(self) -> list[Job] | None:
        """Wait for jobs, give others the wait window to join, and take the oldest job's key's
        jobs; None once stopping with nothing queued."""
        with self._cond:
            while not self._jobs:
                if self._stopping:
                    return None
                self._cond.wait()
            deadline = time.monotonic() + self._wait_s
            while (
                not self._stopping
                and self._queued < self._max_batch
                and (self._expected is None or len(self._jobs) < self._expected)
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            key = self._jobs[0].key
            group: list[Job] = []
            size = 0
            kept: deque[Job] = deque()
            for job in self._jobs:
                fits = not group or size + len(job.texts) <= self._max_batch
                if job.key == key and fits:
                    group.append(job)
                    size += len(job.texts)
                else:
                    kept.append(job)
            self._jobs = kept
            self._queued -= size
        # a job whose request gave up (timeout, closed connection) is not translated
        return [job for job in group if job.future.set_running_or_notify_cancel()]

    def _translate_group(self, group: list[Job]) -> None:
        if not group:
            return
        error = self._translate_jobs(group)
        if error is None:
            return
        if len(group) == 1:
            group[0].future.set_exception(error)
            return
        # translate each request alone, so that one bad request fails only itself
        for job in group:
            error = self._translate_jobs([job])
            if error is not None:
                job.future.set_exception(error)

    def _translate_jobs(self, jobs: list[Job]) -> Exception | None:
        """Translate ``jobs`` in one call and give each its share; the error if it failed."""
        texts = [text for job in jobs for text in job.texts]
        start = time.perf_counter()
        try:
            found = self._translate(jobs[0].key, texts)
        except Exception as err:  # noqa: BLE001  (reported to the requests; the worker lives on)
            return err
        if len(found) != len(texts):
            return RuntimeError(f"the translator gave {len(found)} results for {len(texts)} texts")
        if self._on_batch is not None:
            self._on_batch(
                BatchStats(jobs[0].key, len(texts), len(jobs), time.perf_counter() - start)
            )
        # counted before the answers go out, or the first clients back would count twice
        with self._cond:
            self._expected = max(1, len(jobs) + len(self._jobs))
        at = 0
        for job in jobs:
            job.future.set_result(found[at : at + len(job.texts)])
            at += len(job.texts)
        return None
