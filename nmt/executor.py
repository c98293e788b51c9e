"""How a search runs: the one place that chooses between the compiled graph, eager TensorFlow
and the NumPy twin (``nmt.numpy_decode``).

The seam is ``SearchExecutor.searcher(settings, lengths)``: for one request's settings and its
source lengths it returns a function ``src (batch, src_len) int32 -> SearchResult`` that every
batch of the request goes through (as keras-hub's ``make_generate_function``). Front ends never
pick a way themselves. ``nmt.numpy_decode.NumpyExecutor`` offers the same seam in a process
without TensorFlow (small 1-best requests, weights read with h5py).

- The compiled ``tf.function`` is traced once per ``SearchSettings`` (the cache key).
- A small first request does not wait seconds for tracing: it runs eagerly, or in NumPy when it
  is short, 1-best and without attention (and the weights are frozen); the next request gets
  the graph.
- While ``compile`` traces a setting in another thread (interactive mode, while the user
  types), small requests of that setting keep going to NumPy.

Thread safety: the bookkeeping (which settings are traced, being traced, or already answered
eagerly) is guarded by one lock; tracing runs outside it. A compiled function may be called
from several threads; the NumPy twin is built once under the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from nmt.decoding import SearchSettings
from nmt.model import Seq2Seq
from nmt.numpy_decode import (
    SMALL_REQUEST_LINES,
    SMALL_REQUEST_PIECES,
    NumpySeq2Seq,
    numpy_batch_search,
)
from nmt.packed import encode_packed
from nmt.search import SearchResult, beam_search, greedy_search
from nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID
from nmt.weights import from_model

# A small first request (nmt.numpy_decode's SMALL_REQUEST_LINES sentences) is not worth
# compiling for: tracing and optimising the graph takes seconds. It runs eagerly, or in NumPy
# when it also holds at most SMALL_REQUEST_PIECES source pieces and asks for neither n-best
# lists nor attention: an eager beam search of one short sentence runs thousands of small
# TensorFlow operations, the NumPy one takes a few milliseconds. The same limits decide what
# translate.py answers before TensorFlow is imported.
# The decoder's input table costs vocabulary * 4 * hidden floats: above this it is left out and
# steps multiply instead.
DECODE_TABLE_BYTES = 256 * 2**20

Search = Callable[[tf.Tensor], SearchResult]


def max_output_lengths(src_lengths: tf.Tensor, settings: SearchSettings) -> tf.Tensor:
    """``(batch,)`` int32: at most ``ceil(a * src_len) + b`` pieces, computed in float32."""
    scaled = tf.math.ceil(settings.max_length_a * tf.cast(src_lengths, tf.float32))
    return tf.cast(scaled, tf.int32) + settings.max_length_b


def search_graph(
    model: Seq2Seq,
    src: tf.Tensor,
    settings: SearchSettings,
    packed: bool,
    tables: dict | None = None,
) -> SearchResult:
    """Encode ``src`` ``(batch, src_len)`` and search: the TensorFlow program every compiled,
    eager or exported search runs. ``tables``: ``Seq2Seq.decode_tables`` of frozen weights."""
    memory, src_mask, states = encode_packed(model, src) if packed else model.encode(src)
    src_lengths = tf.reduce_sum(tf.cast(src_mask, tf.int32), axis=1)
    max_lengths = max_output_lengths(src_lengths, settings)

    def step(tokens, states, context, rows):
        memory, src_mask = context
        slots, beams = (None, 1) if rows is None else rows
        return model.decode_step(
            tokens, states, memory, src_mask, tables, normalize=False, slots=slots, beams=beams
        )

    src_len = tf.shape(src)[1] if settings.with_attention else None
    if settings.beam_size == 1:
        return greedy_search(
            step, states, (memory, src_mask), max_lengths, BOS_ID, EOS_ID, PAD_ID, src_len
        )
    return beam_search(
        step,
        states,
        (memory, src_mask),
        max_lengths,
        BOS_ID,
        EOS_ID,
        beam_size=settings.beam_size,
        n_best=settings.n_best,
        length_penalty=settings.length_penalty,
        pad_id=PAD_ID,
        src_len=src_len,
        stopping=settings.stopping,
        prune=settings.beam_prune,
    )


def _int32(src: tf.Tensor | np.ndarray) -> tf.Tensor:
    return tf.convert_to_tensor(src, tf.int32)


class SearchExecutor:
    """Runs searches over one model (see the module docstring).

    ``frozen``: the weights stay as they are for the executor's life, so the compiled search
    may keep tables computed from them and the NumPy twin may copy them; an executor over a
    model still training must leave it False. ``packed``: encode with
    ``nmt.packed.encode_packed`` (padding costs nothing) rather than the Keras layers.
    """

    def __init__(self, model: Seq2Seq, frozen: bool, packed: bool):
        self.model = model
        self.frozen = frozen
        self.packed = packed
        self.attention = model.attention_type
        self.vocabulary_size = model.tgt_vocabulary_size
        self._lock = threading.Lock()
        self._functions: dict[SearchSettings, Any] = {}
        self._ready: set[SearchSettings] = set()  # settings whose graph has run once
        self._eager_runs: set[SearchSettings] = set()  # settings already answered eagerly
        self._compiling: set[SearchSettings] = set()  # settings compile() is tracing now
        self._decode_tables: dict | None = None
        self._numpy_model: NumpySeq2Seq | None = None

    # --- the seam ---------------------------------------------------------------------------
    def searcher(self, settings: SearchSettings, lengths: np.ndarray) -> Search:
        """The search for one request of source ``lengths`` ``(sentences,)``: compiled, or for
        a small first request while the graph is not ready, eager or NumPy."""
        small = len(lengths) <= SMALL_REQUEST_LINES
        numpy_ok = (
            settings.n_best == 1 and not settings.with_attention and self.frozen
            and small and int(np.sum(lengths)) <= SMALL_REQUEST_PIECES
        )  # fmt: skip
        with self._lock:
            if settings in self._compiling and numpy_ok:  # compile() is busy: do not wait
                return lambda src: self.numpy_search(src, settings)
            first = settings not in self._ready and settings not in self._eager_runs
            if first and small:
                self._eager_runs.add(settings)
                if numpy_ok:
                    return lambda src: self.numpy_search(src, settings)
                return lambda src: self.eager_search(_int32(src), settings)
        compiled = self.compiled(settings)

        def search(src: tf.Tensor | np.ndarray) -> SearchResult:
            out = compiled(_int32(src))
            with self._lock:
                self._ready.add(settings)
            return out

        return search

    def compile(self, settings: SearchSettings) -> None:
        """Trace and run the graph for ``settings`` now (e.g. in a background thread while a
        user types), so that later requests do not wait for it."""
        with self._lock:
            self._compiling.add(settings)
        try:
            self.compiled(settings)(tf.constant([[1]], tf.int32))
            with self._lock:
                self._ready.add(settings)
        finally:
            with self._lock:
                self._compiling.discard(settings)

    # --- the three ways -----------------------------------------------------------------------
    def compiled(self, settings: SearchSettings):
        """The ``tf.function`` ``src (batch, src_len) int32 -> SearchResult`` for
        ``settings``, traced on its first call."""
        with self._lock:
            function = self._functions.get(settings)
        if function is None:
            tables = self.decode_tables()  # computed now, outside the trace: the graph keeps them
            function = tf.function(
                lambda src: search_graph(self.model, src, settings, self.packed, tables),
                input_signature=[tf.TensorSpec([None, None], tf.int32)],
                reduce_retracing=True,
                autograph=False,  # the search has explicit loops; converting costs start-up time
            )
            with self._lock:
                function = self._functions.setdefault(settings, function)
        return function

    def eager_search(self, src: tf.Tensor, settings: SearchSettings) -> SearchResult:
        """``search_graph`` run op by op (no tracing, no tables)."""
        return search_graph(self.model, src, settings, self.packed)

    def numpy_search(self, src: tf.Tensor | np.ndarray, settings: SearchSettings) -> SearchResult:
        """The 1-best search without attention of ``src`` ``(batch, src_len)`` in NumPy, with
        the same limits and scores as ``search_graph``."""
        with self._lock:
            if self._numpy_model is None:
                self._numpy_model = NumpySeq2Seq(from_model(self.model))
            numpy_model = self._numpy_model
        return numpy_batch_search(numpy_model, np.asarray(src), settings)

    def decode_tables(self) -> dict | None:
        """The model's ``decode_tables``, computed once, for frozen weights; else None."""
        if not self.frozen:
            return None
        with self._lock:
            if self._decode_tables is None:
                tables = self.model.decode_tables(max_input_bytes=DECODE_TABLE_BYTES)
                self._decode_tables = {name: tf.constant(v) for name, v in tables.items()}
            return self._decode_tables

    # --- what has run (tests and benchmarks look) ---------------------------------------------
    def traced(self) -> list[SearchSettings]:
        """The settings whose compiled function exists."""
        with self._lock:
            return list(self._functions)

    def is_ready(self, settings: SearchSettings) -> bool:
        with self._lock:
            return settings in self._ready
