"""The Translator: the one object every front end (CLI, evaluation, training callbacks) uses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from nmt.batching import budget_batches, pad_batch
from nmt.config import Config, DecodeConfig
from nmt.end_marks import EndMarks
from nmt.model import Seq2Seq
from nmt.numpy_decode import NumpySeq2Seq, gnmt_penalty, numpy_search
from nmt.search import SearchResult, beam_search, greedy_search
from nmt.segment import split_ids
from nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer

DEFAULT_MAX_SOURCE_TOKENS = 100
# A first request of at most this many sentences is not worth compiling for: tracing and
# optimising the graph takes seconds. It runs eagerly, or in NumPy (nmt.numpy_decode) when it
# holds at most NUMPY_FIRST_CALL_PIECES source pieces and asks for neither n-best lists nor
# attention: an eager beam search of one short sentence runs some 2,000 TensorFlow operations
# at 0.05-0.4 ms each, the NumPy one takes a few milliseconds.
EAGER_FIRST_CALL = 16
NUMPY_FIRST_CALL_PIECES = 64
# The decoder's input table costs vocabulary * 4 * hidden floats (65 MB for the default 8000
# pieces x 512 hidden, 512 MB at 32000 x 1024): above this it is left out and steps multiply.
DECODE_TABLE_BYTES = 256 * 2**20
# A beam batch holds float32 log-probabilities of (sentences * beam, vocabulary): fewer sentences
# per batch than decode.max_batch_size when that would pass this size (beam 5 with 8000 pieces
# gets 838 sentences, beam 10 419; 32000 pieces at beam 10 get 104).
DECODE_LOGITS_BYTES = 128 * 2**20


@dataclass
class Hypothesis:
    """One translation: text, target pieces, its sum of log-probabilities and normalised score,
    the source pieces, and the attention matrix ``(len(tokens), len(src_tokens))`` when asked
    for (one row per target piece, EOS left out)."""

    text: str
    tokens: list[int]
    log_prob: float
    score: float
    attention: np.ndarray | None = None
    src_tokens: list[int] = field(default_factory=list)


class Translator:
    """Tokenize -> batched search -> detokenize, with graphs compiled once per search setting.

    Sentences longer than ``max_source_tokens`` pieces (the training limit) are split at
    sentence or word boundaries, translated piece by piece and joined.
    """

    def __init__(
        self,
        model: Seq2Seq,
        src_tokenizer: Tokenizer,
        tgt_tokenizer: Tokenizer,
        decode: DecodeConfig,
        config: Config | None = None,
        metadata: dict | None = None,
        frozen: bool = False,
        packed: bool | None = None,
    ):
        """``frozen``: the model's weights stay as they are for this translator's life, so the
        compiled search may keep tables computed from them (``Seq2Seq.decode_tables``). A
        translator over a model still training must leave it False. ``packed``: encode with
        ``Seq2Seq.encode_packed`` (padding costs nothing) rather than the Keras layers; by
        default on a machine without a GPU, where the Keras layers would run cuDNN."""
        self.model = model
        self.frozen = frozen
        if packed is None:
            packed = not tf.config.list_physical_devices("GPU")
        self.packed = packed
        self._decode_tables: dict | None = None
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.decode = decode
        self.config = config
        self.metadata = metadata or {}
        self.max_source_tokens = config.data.max_tokens if config else DEFAULT_MAX_SOURCE_TOKENS
        self._functions: dict[tuple, tf.types.experimental.GenericFunction] = {}
        self._ready: set[tuple] = set()  # settings whose graph has run once
        self._eager_runs: set[tuple] = set()  # settings already answered eagerly once
        self._compiling: set[tuple] = set()  # settings that compile() is tracing now
        self._numpy_model: NumpySeq2Seq | None = None

    @classmethod
    def from_checkpoint(cls, run_dir: str | Path, weights: str = "best") -> Translator:
        from nmt.checkpoint import load_run

        config, model, src, tgt, metadata = load_run(run_dir, weights=weights)
        return cls(model, src, tgt, config.decode, config=config, metadata=metadata, frozen=True)

    @property
    def end_marks(self) -> EndMarks | None:
        """The final marks the model's training data used, if recorded (``nmt.end_marks``)."""
        return EndMarks.from_dict((self.metadata.get("end_marks") or {}).get("marks"))

    @property
    def has_attention(self) -> bool:
        return self.model.attention_type != "none"

    # --- compiled search ------------------------------------------------------------------
    def _key(self, beam_size: int, n_best: int, with_attention: bool) -> tuple:
        return (
            beam_size, n_best, with_attention, float(self.decode.length_penalty),
            self.decode.stopping, float(self.decode.beam_prune), self.packed,
        )  # fmt: skip

    def compile(self, beam_size: int | None = None, n_best: int = 1, with_attention: bool = False):
        """Trace and run the search graph for this setting now (e.g. in a background thread
        while a user types), so that later requests do not wait for it."""
        beam_size = beam_size or self.decode.beam_size
        n_best = max(1, min(n_best, beam_size))
        with_attention = with_attention and self.has_attention
        key = self._key(beam_size, n_best, with_attention)
        self._compiling.add(key)
        try:
            self._search_fn(beam_size, n_best, with_attention)(tf.constant([[1]], tf.int32))
            self._ready.add(key)
        finally:
            self._compiling.discard(key)

    def _search_fn(self, beam_size: int, n_best: int, with_attention: bool):
        """A ``tf.function`` ``src (batch, src_len) int32 -> SearchResult``, traced once."""
        alpha = float(self.decode.length_penalty)
        key = self._key(beam_size, n_best, with_attention)
        if key not in self._functions:
            tables = self.decode_tables()  # computed now, outside the trace: the graph keeps them
            self._functions[key] = tf.function(
                lambda src: self._search(src, beam_size, n_best, with_attention, alpha, tables),
                input_signature=[tf.TensorSpec([None, None], tf.int32)],
                reduce_retracing=True,
                autograph=False,  # the search has explicit loops; converting costs start-up time
            )
        return self._functions[key]

    def decode_tables(self) -> dict | None:
        """The model's ``decode_tables``, computed once, for a frozen model; else None."""
        if self.frozen and self._decode_tables is None:
            tables = self.model.decode_tables(max_input_bytes=DECODE_TABLE_BYTES)
            self._decode_tables = {name: tf.constant(value) for name, value in tables.items()}
        return self._decode_tables if self.frozen else None

    def _search(
        self,
        src,
        beam_size: int,
        n_best: int,
        with_attention: bool,
        alpha: float,
        tables: dict | None = None,
    ) -> SearchResult:
        """``src`` ``(batch, src_len)`` -> SearchResult (see nmt.search); ``tables``: see
        ``decode_tables``."""
        model = self.model
        encode = model.encode_packed if self.packed else model.encode
        memory, src_mask, states = encode(src)
        src_lengths = tf.reduce_sum(tf.cast(src_mask, tf.int32), axis=1)
        max_lengths = (
            tf.cast(
                tf.math.ceil(self.decode.max_length_a * tf.cast(src_lengths, tf.float32)), tf.int32
            )
            + self.decode.max_length_b
        )

        def step(tokens, states, context, rows):
            memory, src_mask = context
            slots, beams = (None, 1) if rows is None else rows
            return model.decode_step(
                tokens, states, memory, src_mask, tables, normalize=False, slots=slots, beams=beams
            )

        src_len = tf.shape(src)[1] if with_attention else None
        if beam_size == 1:
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
            beam_size=beam_size,
            n_best=n_best,
            length_penalty=alpha,
            pad_id=PAD_ID,
            src_len=src_len,
            stopping=self.decode.stopping,
            # an n-best list is asked for to see the alternatives: it is searched unpruned
            prune=float(self.decode.beam_prune) if n_best == 1 else 0.0,
        )

    # --- public API -------------------------------------------------------------------------
    def encode_sources(self, texts: list[str]) -> list[list[int]]:
        return self.src_tokenizer.encode(texts)

    def translate(self, texts: list[str], beam_size: int | None = None) -> list[str]:
        """Translate a list of sentences; returns one string per input, in order."""
        return [hyps[0].text for hyps in self.translate_detailed(texts, beam_size)]

    def translate_detailed(
        self,
        texts: list[str],
        beam_size: int | None = None,
        n_best: int = 1,
        with_attention: bool = False,
        stats: Counter | None = None,
    ) -> list[list[Hypothesis]]:
        """Translate ``texts``; returns, per input, up to ``n_best`` hypotheses, best first.

        Empty inputs give one empty hypothesis without running the model. A text longer than
        ``max_source_tokens`` pieces is split (counted in ``stats["split_lines"]``) and gives
        one joined hypothesis.
        """
        beam_size = beam_size or self.decode.beam_size
        if beam_size < 1:
            raise ValueError(f"beam size must be >= 1, got {beam_size}")
        n_best = max(1, min(n_best, beam_size))
        with_attention = with_attention and self.has_attention
        marks = self.end_marks if self.decode.complete_end_mark else None
        completed = [marks.complete(t) if marks else (t, False) for t in texts]
        texts, added = [t for t, _ in completed], [was_added for _, was_added in completed]
        ids = self.encode_sources(texts)
        # units: the id lists actually translated; owner[u] is the input they belong to
        units: list[list[int]] = []
        owner: list[int] = []
        for i, seq in enumerate(ids):
            parts = [seq]
            if len(seq) > self.max_source_tokens:
                parts = split_ids(seq, self.src_tokenizer.pieces(seq), self.max_source_tokens)
            if len(parts) > 1 and stats is not None:
                stats["split_lines"] += 1
                stats["split_pieces"] += len(parts)
            units.extend(parts)
            owner.extend([i] * len(parts))
        done = self._translate_units(units, beam_size, n_best, with_attention)
        grouped: list[list[list[Hypothesis]]] = [[] for _ in texts]
        for i, hyps in zip(owner, done):
            grouped[i].append(hyps)
        alpha = float(self.decode.length_penalty)
        found = [
            parts[0] if len(parts) == 1 else [_join(parts, alpha, with_attention)]
            for parts in grouped
        ]
        if marks is not None:
            found = [
                [replace(h, text=marks.strip(h.text)) for h in hyps] if was_added else hyps
                for hyps, was_added in zip(found, added)
            ]
        return found

    def _translate_units(
        self, units: list[list[int]], beam_size: int, n_best: int, with_attention: bool
    ) -> list[list[Hypothesis]]:
        """Search for id lists in length-sorted token-budget batches; results in input order."""
        results: list[list[Hypothesis]] = [[Hypothesis("", [], 0.0, 0.0)] for _ in units]
        todo = [i for i, seq in enumerate(units) if seq]
        if not todo:
            return results
        lengths = np.array([len(units[i]) for i in todo])
        search = self._pick_search(beam_size, n_best, with_attention, lengths)
        # packed, the encoder's work is the real pieces: the budget counts them, not padding
        batches = budget_batches(
            lengths,
            self.decode.token_budget,
            self.batch_sentences(beam_size),
            rng=None,
            padded=not self.packed,
        )
        for batch in batches:
            index = [todo[j] for j in batch]
            out = search(tf.constant(pad_batch([units[i] for i in index])))
            hyps = self._hypotheses(out, [units[i] for i in index], n_best, with_attention)
            for i, h in zip(index, hyps):
                results[i] = h
        return results

    def batch_sentences(self, beam_size: int) -> int:
        """Sentences per search batch at ``beam_size``: ``decode.max_batch_size``, fewer where
        the beams' log-probabilities would pass ``DECODE_LOGITS_BYTES``. The source-token
        budget is the same for every beam size: the encoder runs once per sentence, and a beam
        search over a full batch keeps its matrix products large (at beam 5, 512-sentence
        batches ran 19% faster than batches of a fifth of the tokens)."""
        per_sentence = 4 * beam_size * self.model.tgt_vocabulary_size
        return max(1, min(self.decode.max_batch_size, DECODE_LOGITS_BYTES // per_sentence))

    def _pick_search(self, beam_size: int, n_best: int, with_attention: bool, lengths):
        """The compiled search, or, for a small first request while the graph is not ready,
        the same search run eagerly or in NumPy (the graph is compiled on the next request).
        While ``compile`` traces the graph in another thread, small requests keep going to
        NumPy. ``lengths``: the request's source lengths."""
        key = self._key(beam_size, n_best, with_attention)
        alpha = float(self.decode.length_penalty)
        small = len(lengths) <= EAGER_FIRST_CALL
        numpy_ok = (
            n_best == 1 and not with_attention and self.frozen
            and small and int(np.sum(lengths)) <= NUMPY_FIRST_CALL_PIECES
        )  # fmt: skip
        if key in self._compiling and numpy_ok:  # compile() is busy: do not wait for it
            return lambda src: self._numpy_search(src, beam_size, alpha)
        if key not in self._ready and key not in self._eager_runs and small:
            self._eager_runs.add(key)
            if numpy_ok:
                return lambda src: self._numpy_search(src, beam_size, alpha)
            return lambda src: self._search(src, beam_size, n_best, with_attention, alpha)
        compiled = self._search_fn(beam_size, n_best, with_attention)

        def search(src):
            out = compiled(src)
            self._ready.add(key)
            return out

        return search

    def _numpy_search(self, src, beam_size: int, alpha: float) -> SearchResult:
        """``_search`` (1-best, no attention) of ``src`` ``(batch, src_len)`` in NumPy."""
        if self._numpy_model is None:
            self._numpy_model = NumpySeq2Seq(self.model)
        decode = self.decode
        found = []
        for row in np.asarray(src):
            ids = row[row != PAD_ID].tolist()
            # as _search computes it, in float32
            limit = np.ceil(np.float32(decode.max_length_a) * np.float32(len(ids)))
            found.append(
                numpy_search(
                    self._numpy_model,
                    ids,
                    int(limit) + decode.max_length_b,
                    BOS_ID,
                    EOS_ID,
                    beam_size,
                    alpha,
                    decode.beam_prune,
                    decode.stopping == "exact",
                )  # fmt: skip
            )
        width = max(len(f.tokens) for f in found) + 1
        tokens = np.full((len(found), 1, width), PAD_ID, np.int32)
        for i, f in enumerate(found):
            tokens[i, 0, : len(f.tokens) + 1] = [*f.tokens, EOS_ID]
        scores = np.array([[f.score] for f in found], np.float32)
        log_probs = np.array([[f.log_prob] for f in found], np.float32)
        return SearchResult(
            tf.constant(tokens), tf.constant(scores), tf.constant(log_probs), tf.zeros([0])
        )

    def _hypotheses(
        self, out: SearchResult, sources: list[list[int]], n_best: int, with_attention: bool
    ) -> list[list[Hypothesis]]:
        """Turn a batch's SearchResult into Hypothesis lists (numpy once per batch)."""
        tokens = out.tokens.numpy()
        scores = out.scores.numpy()
        log_probs = out.log_probs.numpy()
        attention = out.attention.numpy() if with_attention else None
        k = min(n_best, tokens.shape[1])
        seqs = [[_strip(tokens[row, j]) for j in range(k)] for row in range(len(sources))]
        texts = self.tgt_tokenizer.decode([seq for row in seqs for seq in row])
        result = []
        for row, src in enumerate(sources):
            hyps = []
            for j, seq in enumerate(seqs[row]):
                weights = None
                if attention is not None:
                    weights = attention[row, j, : len(seq), : len(src)]
                text = texts[row * k + j]
                hyps.append(
                    Hypothesis(
                        text, seq, float(log_probs[row, j]), float(scores[row, j]), weights, src
                    )
                )
            result.append(hyps)
        return result


def _strip(row: np.ndarray) -> list[int]:
    """Target ids up to (not including) the first EOS or padding."""
    stop = np.flatnonzero((row == EOS_ID) | (row == PAD_ID))
    return row[: stop[0] if len(stop) else len(row)].tolist()


def _join(parts: list[list[Hypothesis]], alpha: float, with_attention: bool) -> Hypothesis:
    """One hypothesis from the best translations of consecutive pieces of a long input; the
    attention matrix is block-diagonal."""
    best = [hyps[0] for hyps in parts]
    tokens = [t for h in best for t in h.tokens]
    src_tokens = [t for h in best for t in h.src_tokens]
    log_prob = sum(h.log_prob for h in best)
    attention = None
    if with_attention:
        attention = np.zeros((len(tokens), len(src_tokens)), np.float32)
        row = col = 0
        for h in best:
            if h.attention is not None:
                attention[row : row + len(h.tokens), col : col + len(h.src_tokens)] = h.attention
            row, col = row + len(h.tokens), col + len(h.src_tokens)
    text = " ".join(h.text for h in best if h.text)
    score = log_prob / gnmt_penalty(len(tokens) + 1, alpha)
    return Hypothesis(text, tokens, log_prob, score, attention, src_tokens)
