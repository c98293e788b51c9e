"""The Translator: the one object every front end (CLI, evaluation, training callbacks) uses.

It owns text handling, splitting of long inputs, batching and hypotheses; how a search runs is
``nmt.executor``'s; what a request asks for is one frozen ``nmt.decoding.DecodeSettings``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nmt.batching import budget_batches, pad_batch
from nmt.config import Config, DecodeConfig
from nmt.decoding import DecodeSettings, SearchResult, decode_settings
from nmt.end_marks import EndMarks
from nmt.env import has_gpu
from nmt.numpy_decode import NumpyExecutor, gnmt_penalty
from nmt.segment import split_ids
from nmt.sentences import SentenceSplitter, splitter_for
from nmt.tokenizer import EOS_ID, PAD_ID, Tokenizer

if TYPE_CHECKING:
    from nmt.model import Seq2Seq

DEFAULT_MAX_SOURCE_TOKENS = 100
# A beam batch holds float32 log-probabilities of (sentences * beam, vocabulary): fewer sentences
# per batch than the settings' max_batch_size when that would pass this size.
DECODE_LOGITS_BYTES = 128 * 2**20
# With several workers a request's batches are made smaller, so that each worker gets several
# (the last ones to start even out the workers' ends), yet not so small that a call's fixed
# cost dominates (docs/translate_speed.md).
BATCHES_PER_WORKER = 8
MIN_PARALLEL_BATCH = 16


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
    """Tokenize -> batched search -> detokenize.

    A text of several sentences is translated sentence by sentence and joined (``nmt.sentences``,
    with the abbreviations its training data showed). Sentences longer than the settings'
    ``max_source_tokens`` pieces (by default the training limit) are split at sentence or word
    boundaries, translated piece by piece and joined.
    """

    def __init__(
        self,
        model: Seq2Seq | None,
        src_tokenizer: Tokenizer,
        tgt_tokenizer: Tokenizer,
        decode: DecodeConfig,
        config: Config | None = None,
        metadata: dict | None = None,
        frozen: bool = False,
        packed: bool | None = None,
        executor: Any = None,
        workers: int = 1,
    ):
        """``decode``: every request's defaults (the model's stored ``decode`` section), copied
        here; a request overrides them with ``settings(...)``, never by assignment.
        ``frozen``: the model's weights stay as they are for this translator's life (see
        ``SearchExecutor``); a translator over a model still training must leave it False.
        ``packed``: encode with ``nmt.packed.encode_packed`` (padding costs nothing) rather than
        the Keras layers; by default on a machine without a GPU, where the Keras layers would
        run cuDNN. ``executor``: how searches run, instead of a ``SearchExecutor`` over
        ``model`` (``from_run_numpy`` passes a ``NumpyExecutor`` and no model). ``workers``:
        threads that translate a request's batches side by side; more than one pays when each
        runs on its own core (``nmt.env.one_core_per_worker``). The results are the same."""
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
        self.workers = workers
        self.model = model
        if executor is None:
            from nmt.executor import SearchExecutor

            if packed is None:
                packed = not has_gpu()
            executor = SearchExecutor(model, frozen=frozen, packed=packed)
        self.executor = executor
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.decode = dataclasses.replace(decode)
        self.config = config
        self.metadata = metadata or {}
        self._sentence_splitter = splitter_for(self.metadata.get("sentences"))
        self.max_source_tokens = config.data.max_tokens if config else DEFAULT_MAX_SOURCE_TOKENS

    @classmethod
    def from_checkpoint(
        cls, run_dir: str | Path, weights: str = "best", workers: int = 1
    ) -> Translator:
        from nmt.checkpoint import load_run

        config, model, src, tgt, metadata = load_run(run_dir, weights=weights)
        return cls(
            model, src, tgt, config.decode, config=config, metadata=metadata, frozen=True,
            workers=workers,
        )  # fmt: skip

    @classmethod
    def from_run_numpy(cls, run_dir: str | Path, weights: str = "best") -> Translator:
        """A translator for small 1-best requests that never imports TensorFlow: the weights
        read with h5py (``nmt.weights.from_h5``), searches in NumPy. Requests with n-best
        lists or attention raise ``NeedsTensorFlow``."""
        from nmt.checkpoint import CheckpointError, open_run
        from nmt.weights import WeightsError, from_h5

        run = open_run(run_dir, weights)
        try:
            executor = NumpyExecutor(from_h5(run.weights, run.config.model))
        except WeightsError as err:
            raise CheckpointError(str(err)) from err
        config = run.config
        return cls(None, run.src, run.tgt, config.decode, config, run.metadata, executor=executor)

    @property
    def end_marks(self) -> EndMarks | None:
        """The final marks the model's training data used, if recorded (``nmt.end_marks``)."""
        return EndMarks.from_dict((self.metadata.get("end_marks") or {}).get("marks"))

    @property
    def sentence_splitter(self) -> SentenceSplitter | None:
        """The splitter of texts into sentences, with what the model's training sources showed
        (``nmt.sentences.learn_sentence_splitting``), if recorded; None for a model trained on
        many lines of several sentences (``nmt.sentences.splitter_for``)."""
        return self._sentence_splitter

    @property
    def has_attention(self) -> bool:
        return self.executor.attention != "none"

    def settings(self, **overrides) -> DecodeSettings:
        """One request's settings: this translator's defaults with ``overrides`` (see
        ``nmt.decoding.decode_settings``; None keeps a default)."""
        return decode_settings(self.decode, self.max_source_tokens, self.has_attention, **overrides)

    def compile(self, settings: DecodeSettings | None = None) -> None:
        """Trace the search graph for ``settings`` now (e.g. in a background thread while a
        user types), so that later requests do not wait for it."""
        self.executor.compile((settings or self.settings()).search)

    # --- public API -------------------------------------------------------------------------
    def encode_sources(self, texts: list[str]) -> list[list[int]]:
        return self.src_tokenizer.encode(texts)

    def translate(
        self,
        texts: list[str],
        beam_size: int | None = None,
        settings: DecodeSettings | None = None,
    ) -> list[str]:
        """Translate a list of sentences; returns one string per input, in order."""
        found = self.translate_detailed(texts, beam_size, settings=settings)
        return [hyps[0].text for hyps in found]

    def translate_detailed(
        self,
        texts: list[str],
        beam_size: int | None = None,
        n_best: int = 1,
        with_attention: bool = False,
        stats: Counter | None = None,
        settings: DecodeSettings | None = None,
    ) -> list[list[Hypothesis]]:
        """Translate ``texts``; returns, per input, up to ``n_best`` hypotheses, best first.

        ``settings`` (from ``settings(...)``) say everything; without them, ``beam_size``,
        ``n_best`` and ``with_attention`` override the defaults. Empty inputs give one empty
        hypothesis without running the model. A text of several sentences (counted in
        ``stats["sentence_lines"]``), or a sentence longer than ``max_source_tokens`` pieces
        (counted in ``stats["split_lines"]``), is translated in parts whose hypotheses are
        joined (``_join_lists``).
        """
        if settings is None:
            settings = self.settings(
                beam_size=beam_size, n_best=n_best, with_attention=with_attention
            )
        marks = self.end_marks if settings.complete_end_mark else None
        completed = [marks.complete(t) if marks else (t, False) for t in texts]
        texts, added = [t for t, _ in completed], [was_added for _, was_added in completed]
        units, owner, unit_joiners = self._units(texts, settings, stats)
        done = self._translate_units(units, settings)
        grouped: list[list[list[Hypothesis]]] = [[] for _ in texts]
        glue: list[list[str]] = [[] for _ in texts]
        for i, joiner, hyps in zip(owner, unit_joiners, done):
            grouped[i].append(hyps)
            glue[i].append(joiner)
        search = settings.search
        found = [
            parts[0]
            if len(parts) == 1
            else _join_lists(parts, joiners[1:], search.length_penalty, search.with_attention)
            for parts, joiners in zip(grouped, glue)
        ]
        if marks is not None:
            found = [
                [replace(h, text=marks.strip(h.text)) for h in hyps] if was_added else hyps
                for hyps, was_added in zip(found, added)
            ]
        return found

    def _units(
        self, texts: list[str], settings: DecodeSettings, stats: Counter | None
    ) -> tuple[list[list[int]], list[int], list[str]]:
        """The id lists to translate for ``texts``: each text's sentences (with
        ``split_sentences``), each cut to ``max_source_tokens`` pieces. Returns the units,
        the text each belongs to, and what joins its translation to the one before within its
        text (``""`` for a text's first)."""
        sentences: list[str] = []
        of_text: list[int] = []
        joiners: list[str] = []
        splitter = self.sentence_splitter if settings.split_sentences else None
        for i, text in enumerate(texts):
            parts, separators = splitter.split(text) if splitter else ([text], [])
            if len(parts) > 1 and stats is not None:
                stats["sentence_lines"] += 1
            sentences.extend(parts)
            of_text.extend([i] * len(parts))
            joiners.extend([""] + separators)
        units: list[list[int]] = []
        owner: list[int] = []
        unit_joiners: list[str] = []
        limit = settings.max_source_tokens
        for i, joiner, seq in zip(of_text, joiners, self.encode_sources(sentences)):
            parts = [seq]
            if len(seq) > limit:
                parts = split_ids(seq, self.src_tokenizer.pieces(seq), limit)
            if len(parts) > 1 and stats is not None:
                stats["split_lines"] += 1
                stats["split_pieces"] += len(parts)
            units.extend(parts)
            owner.extend([i] * len(parts))
            unit_joiners.extend([joiner] + [" "] * (len(parts) - 1))
        return units, owner, unit_joiners

    def _translate_units(
        self, units: list[list[int]], settings: DecodeSettings
    ) -> list[list[Hypothesis]]:
        """Search for id lists in length-sorted token-budget batches (on ``workers`` threads
        when there are several batches); results in input order."""
        results: list[list[Hypothesis]] = [[Hypothesis("", [], 0.0, 0.0)] for _ in units]
        todo = [i for i, seq in enumerate(units) if seq]
        if not todo:
            return results
        lengths = np.array([len(units[i]) for i in todo])
        search = self.executor.searcher(settings.search, lengths)
        sentences = self.batch_sentences(settings)
        if self.workers > 1:
            share = math.ceil(len(todo) / (BATCHES_PER_WORKER * self.workers))
            sentences = min(sentences, max(MIN_PARALLEL_BATCH, share))
        # packed, the encoder's work is the real pieces: the budget counts them, not padding
        batches = budget_batches(
            lengths, settings.token_budget, sentences, rng=None, padded=not self.executor.packed
        )

        def translate(batch: np.ndarray) -> tuple[list[int], list[list[Hypothesis]]]:
            index = [todo[j] for j in batch]
            out = search(pad_batch([units[i] for i in index]))
            return index, self._hypotheses(out, [units[i] for i in index], settings)

        if self.workers > 1 and len(batches) > 1:
            # longest sentences first: the short batches at the end even out the workers
            with ThreadPoolExecutor(min(self.workers, len(batches))) as pool:
                done = list(pool.map(translate, batches[::-1]))
        else:
            done = [translate(batch) for batch in batches]
        for index, hyps in done:
            for i, h in zip(index, hyps):
                results[i] = h
        return results

    def batch_sentences(self, settings: DecodeSettings) -> int:
        """Sentences per search batch: the settings' ``max_batch_size``, fewer where the
        beams' log-probabilities would pass ``DECODE_LOGITS_BYTES``. The source-token budget
        is the same for every beam size: the encoder runs once per sentence, and a beam search
        over a full batch keeps its matrix products large."""
        per_sentence = 4 * settings.beam_size * self.executor.vocabulary_size
        return max(1, min(settings.max_batch_size, DECODE_LOGITS_BYTES // per_sentence))

    def _hypotheses(
        self, out: SearchResult, sources: list[list[int]], settings: DecodeSettings
    ) -> list[list[Hypothesis]]:
        """Turn a batch's SearchResult into Hypothesis lists (numpy once per batch)."""
        tokens = np.asarray(out.tokens)
        scores = np.asarray(out.scores)
        log_probs = np.asarray(out.log_probs)
        attention = np.asarray(out.attention) if settings.search.with_attention else None
        k = min(settings.n_best, tokens.shape[1])
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


def _join_lists(
    parts: list[list[Hypothesis]], separators: list[str], alpha: float, with_attention: bool
) -> list[Hypothesis]:
    """The hypotheses of one input translated in consecutive ``parts`` (sentences or pieces,
    each with its n-best list): the ``j``-th joins every part's ``j``-th hypothesis (a part's
    last where its list is shorter), as many as the longest list; the first is the join of the
    best ones."""
    return [
        _join([hyps[min(j, len(hyps) - 1)] for hyps in parts], separators, alpha, with_attention)
        for j in range(max(len(hyps) for hyps in parts))
    ]


def _join(
    best: list[Hypothesis], separators: list[str], alpha: float, with_attention: bool
) -> Hypothesis:
    """One hypothesis from translations of consecutive sentences or pieces of one input, with
    ``separators[k]`` between parts ``k`` and ``k + 1`` (an empty translation takes no
    separator); the attention matrix is block-diagonal."""
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
    text = ""
    for h, separator in zip(best, [""] + separators):
        if h.text:
            text += (separator if text else "") + h.text
    score = log_prob / gnmt_penalty(len(tokens) + 1, alpha)
    return Hypothesis(text, tokens, log_prob, score, attention, src_tokens)
