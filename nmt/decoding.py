"""Per-request decode settings: one frozen value, built once per request, passed whole.

A translator's defaults are its model's stored ``decode`` section (``DecodeConfig``); a request
overrides what it needs with ``decode_settings(defaults, ...)`` and gets a new value. Nothing
assigns to shared settings, so concurrent requests with different settings can share one
loaded model. ``SearchSettings`` is what the search graph depends on, and keys the cache of
compiled searches (``nmt.executor``).

The policies that turn what was asked for into what is searched live here, in one place:

- a beam is never narrower than the n-best list asked for (the model's default beam widens to
  it; a list longer than a beam asked for is cut to the beam);
- an n-best list is searched unpruned (pruning would empty the list it is asked to show);
- attention is collected only where the model has it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

from nmt.config import DecodeConfig

STOPPING = ("heuristic", "exact")
NEG_INF = -1e9  # a finite "minus infinity": arithmetic on it never gives NaN


class SearchResult(NamedTuple):
    """What every way of searching returns (TensorFlow tensors or NumPy arrays): ``tokens``
    ``(batch, n_best, length)`` padded with 0 after EOS; ``scores`` ``(batch, n_best)``
    (length-normalised for beam search); ``log_probs`` ``(batch, n_best)``; ``attention``
    ``(batch, n_best, length, src_len)`` or empty."""

    tokens: Any
    scores: Any
    log_probs: Any
    attention: Any


@dataclass(frozen=True)
class SearchSettings:
    """One search: beam width, list length, scoring and stopping, length limit (output length
    at most ``max_length_a * src_len + max_length_b`` pieces)."""

    beam_size: int
    n_best: int
    with_attention: bool
    length_penalty: float
    stopping: str
    beam_prune: float
    max_length_a: float
    max_length_b: int


@dataclass(frozen=True)
class DecodeSettings:
    """One request: its search, and the text handling and batching around it."""

    search: SearchSettings
    complete_end_mark: bool
    split_sentences: bool  # each sentence of a text alone (nmt.sentences), then joined
    max_source_tokens: int  # longer inputs are split (nmt.segment) and joined
    token_budget: int  # source pieces per search batch
    max_batch_size: int  # sentences per search batch

    @property
    def beam_size(self) -> int:
        return self.search.beam_size

    @property
    def n_best(self) -> int:
        return self.search.n_best


# what a request may set: DecodeConfig's fields, the list and attention, the split length
_FIELDS = {f.name for f in dataclasses.fields(DecodeConfig)} | {
    "n_best",
    "with_attention",
    "max_source_tokens",
}


def decode_settings(
    defaults: DecodeConfig,
    default_max_source_tokens: int,
    has_attention: bool = True,
    **overrides: Any,
) -> DecodeSettings:
    """``defaults`` (and the model's ``default_max_source_tokens``) with ``overrides`` (any
    ``DecodeConfig`` field, ``n_best``, ``with_attention``, ``max_source_tokens``; None means
    "the default") and the policies above applied. Raises ValueError for an unknown name or a
    value out of range."""
    unknown = set(overrides) - _FIELDS
    if unknown:
        raise ValueError(f"unknown decode setting(s) {sorted(unknown)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    values = {
        **dataclasses.asdict(defaults),
        "max_source_tokens": default_max_source_tokens,
        **given,
    }
    n_best = int(values.get("n_best", 1))
    beam_size = int(values["beam_size"])
    if beam_size < 1 or n_best < 1:
        raise ValueError(f"beam size and n-best must be >= 1, got {beam_size} and {n_best}")
    if "beam_size" in given:
        n_best = min(n_best, beam_size)
    else:
        beam_size = max(beam_size, n_best)
    if values["stopping"] not in STOPPING:
        raise ValueError(f"stopping must be one of {STOPPING}, got {values['stopping']!r}")
    if not float(values["beam_prune"]) >= 0.0:
        raise ValueError(f"beam pruning must be >= 0, got {values['beam_prune']}")
    if int(values["max_source_tokens"]) < 1:
        raise ValueError("max source tokens must be >= 1")
    search = SearchSettings(
        beam_size=beam_size,
        n_best=n_best,
        with_attention=bool(values.get("with_attention", False)) and has_attention,
        length_penalty=float(values["length_penalty"]),
        stopping=str(values["stopping"]),
        beam_prune=float(values["beam_prune"]) if n_best == 1 else 0.0,
        max_length_a=float(values["max_length_a"]),
        max_length_b=int(values["max_length_b"]),
    )
    return DecodeSettings(
        search=search,
        complete_end_mark=bool(values["complete_end_mark"]),
        split_sentences=bool(values["split_sentences"]),
        max_source_tokens=int(values["max_source_tokens"]),
        token_budget=int(values["token_budget"]),
        max_batch_size=int(values["max_batch_size"]),
    )
