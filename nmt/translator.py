"""The Translator: the one object every front end (CLI, evaluation, training callbacks) uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from nmt.batching import budget_batches, pad_batch
from nmt.config import Config, DecodeConfig
from nmt.model import Seq2Seq
from nmt.search import SearchResult, greedy_search
from nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer


@dataclass
class Hypothesis:
    """One translation: text, pieces, its sum of log-probabilities and normalised score,
    and the attention matrix ``(tgt_len, src_len)`` when asked for."""

    text: str
    tokens: list[int]
    log_prob: float
    score: float
    attention: np.ndarray | None = None


class Translator:
    """Tokenize -> batched search -> detokenize, with graphs compiled once per beam size."""

    def __init__(
        self,
        model: Seq2Seq,
        src_tokenizer: Tokenizer,
        tgt_tokenizer: Tokenizer,
        decode: DecodeConfig,
        config: Config | None = None,
        metadata: dict | None = None,
    ):
        self.model = model
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.decode = decode
        self.config = config
        self.metadata = metadata or {}
        self._functions: dict[tuple, tf.types.experimental.GenericFunction] = {}

    @classmethod
    def from_checkpoint(cls, run_dir: str | Path, weights: str = "best") -> Translator:
        from nmt.checkpoint import load_run

        config, model, src, tgt, metadata = load_run(run_dir, weights=weights)
        return cls(model, src, tgt, config.decode, config=config, metadata=metadata)

    # --- compiled search ------------------------------------------------------------------
    def _search_fn(self, beam_size: int, n_best: int, with_attention: bool):
        key = (beam_size, n_best, with_attention)
        if key not in self._functions:
            self._functions[key] = tf.function(
                lambda src: self._search(src, beam_size, n_best, with_attention),
                input_signature=[tf.TensorSpec([None, None], tf.int32)],
                reduce_retracing=True,
            )
        return self._functions[key]

    def _search(self, src, beam_size: int, n_best: int, with_attention: bool) -> SearchResult:
        """``src`` ``(batch, src_len)`` -> SearchResult (see nmt.search)."""
        model = self.model
        memory, src_mask, states = model.encode(src)
        src_lengths = tf.reduce_sum(tf.cast(src_mask, tf.int32), axis=1)
        max_lengths = (
            tf.cast(
                tf.math.ceil(self.decode.max_length_a * tf.cast(src_lengths, tf.float32)), tf.int32
            )
            + self.decode.max_length_b
        )

        def step(tokens, states, context):
            memory, src_mask = context
            return model.decode_step(tokens, states, memory, src_mask)

        src_len = tf.shape(src)[1] if with_attention else None
        if beam_size == 1:
            return greedy_search(
                step, states, (memory, src_mask), max_lengths, BOS_ID, EOS_ID, PAD_ID, src_len
            )
        from nmt.search import beam_search

        return beam_search(
            step,
            states,
            (memory, src_mask),
            max_lengths,
            BOS_ID,
            EOS_ID,
            beam_size=beam_size,
            n_best=n_best,
            length_penalty=self.decode.length_penalty,
            pad_id=PAD_ID,
            src_len=src_len,
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
    ) -> list[list[Hypothesis]]:
        """Translate ``texts``; returns, per input, up to ``n_best`` hypotheses, best first.

        Empty inputs give an empty hypothesis without running the model.
        """
        beam_size = beam_size or self.decode.beam_size
        n_best = max(1, min(n_best, beam_size))
        ids = self.encode_sources(texts)
        results: list[list[Hypothesis] | None] = [None] * len(texts)
        todo = [i for i, seq in enumerate(ids) if seq]
        for i, seq in enumerate(ids):
            if not seq:
                results[i] = [Hypothesis("", [], 0.0, 0.0)]
        if todo:
            lengths = np.array([len(ids[i]) for i in todo])
            budget = max(1, self.decode.token_budget // beam_size)
            for batch in budget_batches(lengths, budget, self.decode.max_batch_size, rng=None):
                index = [todo[j] for j in batch]
                src = pad_batch([ids[i] for i in index])
                out = self._search_fn(beam_size, n_best, with_attention)(tf.constant(src))
                for row, i in enumerate(index):
                    results[i] = self._hypotheses(out, row, n_best, len(ids[i]), with_attention)
        return results  # type: ignore[return-value]

    def _hypotheses(
        self, out: SearchResult, row: int, n_best: int, src_len: int, with_attention: bool
    ) -> list[Hypothesis]:
        tokens = out.tokens[row].numpy()
        scores = out.scores[row].numpy()
        log_probs = out.log_probs[row].numpy()
        hyps = []
        for k in range(min(n_best, tokens.shape[0])):
            seq = []
            for token in tokens[k].tolist():
                if token in (EOS_ID, PAD_ID):
                    break
                seq.append(token)
            attention = None
            if with_attention:
                attention = out.attention[row, k, : len(seq) + 1, :src_len].numpy()
            text = self.tgt_tokenizer.decode([seq])[0]
            hyps.append(Hypothesis(text, seq, float(log_probs[k]), float(scores[k]), attention))
        return hyps
