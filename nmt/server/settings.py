"""The server's limits and batching settings, checked once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from nmt.env import usable_cpus


@dataclass(frozen=True)
class ServeSettings:
    """Limits of one server. Field names follow LibreTranslate's options where it has one
    (``char_limit``, ``batch_limit``, ``alternatives_limit``)."""

    char_limit: int = 5000  # characters per text
    batch_limit: int = 1000  # texts per request
    alternatives_limit: int = 9  # n-best alternatives per text
    max_body_bytes: int = 2**20  # request body; larger -> 413
    max_queue: int = 4000  # sentences waiting for the worker; more -> 503
    batch_wait_ms: float = 10.0  # how long the idle worker waits for more requests to join
    max_batch: int = 2000  # sentences handed to the translator at once
    timeout_s: float = 60.0  # per request, queueing included; longer -> 504
    # translator threads; with more than one, each call runs on one core
    # (nmt.env.one_core_per_worker)
    workers: int = field(default_factory=usable_cpus)

    def __post_init__(self) -> None:
        positive = (
            "char_limit", "batch_limit", "max_body_bytes", "max_queue", "max_batch", "workers"
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.alternatives_limit, int) or self.alternatives_limit < 0:
            raise ValueError(f"alternatives_limit must be >= 0, got {self.alternatives_limit!r}")
        if not 0 <= self.batch_wait_ms <= 1000:
            raise ValueError(f"batch_wait_ms must be within 0-1000, got {self.batch_wait_ms!r}")
        if not 0 < self.timeout_s <= 3600:
            raise ValueError(f"timeout_s must be within 0-3600 seconds, got {self.timeout_s!r}")
        if self.max_queue < self.batch_limit:
            # else a request within the batch limit could never be queued
            raise ValueError(
                f"max_queue ({self.max_queue}) must be at least batch_limit ({self.batch_limit})"
            )
