"""Worker threads that own the translators: requests queue, and those asking for the same
model and search are translated in one call, so concurrent clients share batches."""

from __future__ import annotations

import math
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


@dataclass(eq=False)
class Job:
    """One request: its texts, and their hypotheses as the parts translated so far give them."""

    key: Hashable
    texts: list[str]
    future: Future = field(default_factory=Future)
    found: list = field(default_factory=list)  # per text, once translated
    left: int = 0  # texts not translated yet
    taken: bool = False  # a worker has begun it (its future is running, or was cancelled)

    def __post_init__(self) -> None:
        self.found = [None] * len(self.texts)
        self.left = len(self.texts)


@dataclass(frozen=True, eq=False)
class Part:
    """Texts ``start:stop`` of ``job``: what one translator call takes of a request. A request
    larger than a worker's share is split, so that idle workers translate it together."""

    job: Job
    start: int
    stop: int

    @property
    def texts(self) -> list[str]:
        return self.job.texts[self.start : self.stop]

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass
class BatchStats:
    """What a worker reports after each translator call (for metrics)."""

    key: Hashable
    sentences: int
    requests: int
    seconds: float


class Batcher:
    """Queue of requests, translated by ``workers`` threads in groups of one key.

    An idle worker gives others up to ``wait_s`` to join the first queued request, then takes
    its share of the queue: the oldest request's key's texts, at most ``max_batch``, splitting a
    request where the share ends. The share is the queue divided evenly among the workers idle
    at that moment, or a worker's part of the sentences in play if that is more. Two idle
    workers thus translate sixteen waiting sentences as two calls of eight at the same time,
    and one large request on both.

    The sentences in play are counted when a call's answers go out: those answered, those
    queued and those other workers are translating, the most any worker counted at its last
    call (a worker that answered a moment earlier has clients still on their way back). A
    worker stops waiting early once its part of them (in play / workers) is queued: clients
    that wait for an answer before they send again come back together, a lone client is not
    kept waiting for company, and workers that finished together do not go on splitting the
    clients' requests into ever smaller calls. ``submit`` refuses work when more than
    ``max_queue`` sentences would wait.
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
        self._parts: deque[Part] = deque()
        self._queued = 0  # sentences in self._parts
        self._idle = 0  # workers looking for work
        self._translating = 0  # sentences taken by workers and not answered yet
        self._in_play: dict[int, int] = {}  # per worker: sentences in play at its last answer
        self._workers = workers
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"nmt-translate-{i}", daemon=True)
            for i in range(workers)
        ]

    @property
    def depth(self) -> tuple[int, int]:
        """(requests, sentences) waiting; a request split between workers counts once per part
        that waits."""
        with self._cond:
            return len(self._parts), self._queued

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Take no new jobs, translate those queued, and end the workers."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def submit(self, key: Hashable, texts: list[str]) -> Future:
        """Queue ``texts``; the future gives their hypotheses' texts (see ``TranslateFn``).
        Cancelling the future before a worker takes it drops the job."""
        job = Job(key, list(texts))
        with self._cond:
            if self._stopping:
                raise Stopped("the server is shutting down")
            if self._queued + len(job.texts) > self._max_queue:
                raise Overloaded(
                    f"{self._queued} sentences are waiting (at most {self._max_queue})"
                )
            if job.texts:
                self._parts.append(Part(job, 0, len(job.texts)))
                self._queued += len(job.texts)
                self._cond.notify_all()
        if not job.texts:
            job.future.set_running_or_notify_cancel()
            job.future.set_result([])
        return job.future

    # --- workers ------------------------------------------------------------------------------
    def _run(self, worker: int) -> None:
        while True:
            group = self._next_group()
            if group is None:
                return
            if group:
                self._translate_group(worker, group)

    def _part_in_play(self) -> int | None:
        """A worker's part of the sentences in play (None before the first answer): the most
        any worker counted, divided among the workers. Holds the lock."""
        if not self._in_play:
            return None
        return math.ceil(max(self._in_play.values()) / self._workers)

    def _next_group(self) -> list[Part] | None:
        """Wait for work, give others the wait window to join, and take this worker's share of
        the oldest request's key; None once stopping with nothing queued."""
        with self._cond:
            self._idle += 1
            try:
                while not self._parts:
                    if self._stopping:
                        return None
                    self._cond.wait()
                deadline = time.monotonic() + self._wait_s
                while not self._stopping and self._queued < self._max_batch:
                    part = self._part_in_play()
                    if part is not None and self._queued >= part:
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        if part is not None:  # fewer came back than counted: count again
                            seen = self._queued + self._translating
                            self._in_play = dict.fromkeys(self._in_play, seen)
                        break
                    self._cond.wait(left)
                if not self._parts:  # another worker took it all meanwhile
                    return []
                share = max(math.ceil(self._queued / self._idle), self._part_in_play() or 0)
                group = self._take(share)
            finally:
                self._idle -= 1
            # a request that gave up (timeout, closed connection) is not translated
            group = [part for part in group if self._begin(part.job)]
            self._translating += sum(part.size for part in group)
            return group

    def _take(self, share: int) -> list[Part]:
        """Up to ``min(share, max_batch)`` texts (at least one part) of the oldest part's key,
        oldest first, splitting the part where the share ends. Holds the lock."""
        share = min(share, self._max_batch)
        key = self._parts[0].job.key
        group: list[Part] = []
        size = 0
        kept: deque[Part] = deque()
        for part in self._parts:
            room = share - size
            if part.job.key != key or room <= 0:
                kept.append(part)
            elif part.size <= room:
                group.append(part)
                size += part.size
            else:
                group.append(Part(part.job, part.start, part.start + room))
                kept.append(Part(part.job, part.start + room, part.stop))
                size += room
        self._parts = kept
        self._queued -= size
        return group

    def _begin(self, job: Job) -> bool:
        """Whether ``job``'s part is to be translated: its first part marks it running, unless
        it was cancelled. Holds the lock."""
        if not job.taken:
            job.taken = True
            return job.future.set_running_or_notify_cancel()
        return not job.future.done()

    def _translate_group(self, worker: int, group: list[Part]) -> None:
        """Translate ``group`` and answer its requests."""
        error = self._translate_parts(worker, group)
        if error is None:
            return
        if len(group) == 1:
            self._answer(worker, group, error)
            return
        # each part alone, so that one bad request fails only itself
        for part in group:
            error = self._translate_parts(worker, [part])
            if error is not None:
                self._answer(worker, [part], error)

    def _translate_parts(self, worker: int, parts: list[Part]) -> Exception | None:
        """Translate ``parts`` in one call and answer them; the error if the call failed
        (nothing answered)."""
        texts = [text for part in parts for text in part.texts]
        start = time.perf_counter()
        try:
            found = self._translate(parts[0].job.key, texts)
        except Exception as err:  # noqa: BLE001  (reported to the requests; the worker lives on)
            return err
        if len(found) != len(texts):
            return RuntimeError(f"the translator gave {len(found)} results for {len(texts)} texts")
        if self._on_batch is not None:
            self._on_batch(
                BatchStats(parts[0].job.key, len(texts), len(parts), time.perf_counter() - start)
            )
        self._answer(worker, parts, found)
        return None

    def _answer(self, worker: int, parts: list[Part], found: list[list[str]] | Exception) -> None:
        """Give each part its hypotheses (or the error) and answer the requests now complete.
        The sentences in play are counted before the answers go out (else the first clients
        back would count twice)."""
        with self._cond:
            answered = sum(part.size for part in parts)
            self._translating -= answered
            self._in_play[worker] = answered + self._queued + self._translating
            at = 0
            for part in parts:
                job = part.job
                if isinstance(found, Exception):
                    if not job.future.done():  # else failed by another part already
                        job.future.set_exception(found)
                    continue
                job.found[part.start : part.stop] = found[at : at + part.size]
                at += part.size
                job.left -= part.size
                if job.left == 0 and not job.future.done():
                    job.future.set_result(job.found)
