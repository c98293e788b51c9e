"""Which of a few languages a text is in, from the models' own SentencePiece tokenizers.

A unigram SentencePiece model is a language model over pieces: the score of a text under it
is the sum of the log-probabilities of its best segmentation. Each language a server knows
has such a tokenizer (a model's source or target side), so the text's scores under them,
turned into a posterior with equal priors, say which language it most likely is. This tells
apart the languages at hand; it is no general language identifier (it knows only those).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from nmt.tokenizer import Tokenizer

# A piece the tokenizer does not know costs this much below its least likely piece, as
# SentencePiece's own unigram segmentation penalises it.
UNKNOWN_PENALTY = 10.0


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float  # percent, as LibreTranslate reports it


class LanguageDetector:
    """Scores texts under one tokenizer per language code."""

    def __init__(self, tokenizers: dict[str, Tokenizer]):
        if not tokenizers:
            raise ValueError("a detector needs at least one language")
        self._models = []
        for code, tokenizer in tokenizers.items():
            sp = tokenizer.sp
            scores = [sp.get_score(i) for i in range(sp.get_piece_size())]
            unknown = min(scores) - UNKNOWN_PENALTY
            # control and unknown pieces never come out of segmenting a text but the unknown
            scores = [unknown if sp.is_unknown(i) else s for i, s in enumerate(scores)]
            self._models.append((code, sp, scores))

    @property
    def languages(self) -> list[str]:
        return [code for code, _, _ in self._models]

    def log_likelihoods(self, text: str) -> dict[str, float]:
        """Each language's log-probability of ``text`` (its best segmentation)."""
        return {code: sum(scores[i] for i in sp.encode(text)) for code, sp, scores in self._models}

    def detect(self, text: str) -> list[Detection]:
        """Every language, most likely first, with its posterior probability in percent."""
        found = self.log_likelihoods(text)
        top = max(found.values())
        weights = {code: math.exp(value - top) for code, value in found.items()}
        total = sum(weights.values())
        ranked = sorted(weights.items(), key=lambda item: -item[1])
        return [Detection(code, round(100.0 * w / total, 1)) for code, w in ranked]


def models_detector(sides: Iterable[tuple[str, Tokenizer, str, Tokenizer]]) -> LanguageDetector:
    """A detector over every language of some models, each given as ``(src_lang, src_tokenizer,
    tgt_lang, tgt_tokenizer)``: a language takes a model's source tokenizer where one reads
    it, else a target tokenizer."""
    sides = list(sides)
    tokenizers: dict[str, Tokenizer] = {}
    for src_lang, src_tokenizer, _, _ in sides:
        tokenizers.setdefault(src_lang.lower(), src_tokenizer)
    for _, _, tgt_lang, tgt_tokenizer in sides:
        tokenizers.setdefault(tgt_lang.lower(), tgt_tokenizer)
    return LanguageDetector(tokenizers)
