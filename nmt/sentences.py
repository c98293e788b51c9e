"""Cutting a text into its sentences before translation, and joining the translations again.

A model trained on single sentences, given a line of several, often drops or garbles all but
the first ("I am hungry. Where is the station? Tom went home." loses a sentence): nearly
nothing it saw went on past a final mark. So each sentence is translated alone, as
LibreTranslate and Argos do, and the translations are joined with the whitespace the source
had between them.

A boundary is a run of sentence-final marks (``.!?`` and the like, with closing quotes or
brackets) followed by whitespace and a sentence start: an upper-case letter, a digit, or a
letter of a script without case, after any opening marks (``¿¡"«(``). The full-width marks of
scripts written without spaces (``。！？``) end a sentence without whitespace. A period is no
boundary after a single letter (an initial: ``J. K. Rowling``), after a word with a period
inside (``U.S.``, ``e.g.``), after a Latin word without a vowel (``Mr``, ``Dr``; not an acronym
such as ``TV``), after an abbreviation the training data showed (a word that appears before a
period inside lines far more often than at their end), or after a number where the training
data writes ordinals with a period (``am 5. Mai``); the last two are learned by
``learn_sentence_splitting`` and recorded in the run's metadata. Nothing
here names a language.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

# Sentence-final marks, the closing quotes and brackets after them, the marks that may open a
# sentence before its first letter (besides the Unicode categories Ps, Pi, Pf), the categories
# of that first letter (upper or title case, a script without case, a digit), the full-width
# marks of scripts written without spaces, and a Latin word of consonants only, lower case after
# its first letter (an abbreviation: Mr, Dr, St, vs; not an acronym, TV or DVD, which may end a
# sentence). nmt.savedmodel builds the same rules from these in RE2.
ENDS = ".!?\u2026\u203c\u2047\u2048\u2049\u061f\u0964\u0965"
CLOSING = "\"'\u00bb\u201d\u2019)]}\u300d\u300f"
OPENING = "\"'\u00bf\u00a1"
OPENING_CATEGORIES = ("Ps", "Pi", "Pf")
START_CATEGORIES = ("Lu", "Lt", "Lo", "Lm", "Nd")
FULL_WIDTH = "\u3002\uff01\uff1f"
NO_VOWEL_WORD = "[B-DF-HJ-NP-TV-XZ]?[b-df-hj-np-tv-xz]+"
_SPACED = re.compile(f"[{re.escape(ENDS)}]+[{re.escape(CLOSING)}]*(?=\\s)")
_FULL_WIDTH = re.compile(f"[{FULL_WIDTH}]+[{re.escape(CLOSING)}]*")
_NO_VOWEL = re.compile(NO_VOWEL_WORD)
# a word is learned as an abbreviation when seen before an inner period at least this often,
# this many times more often there than before a line's final period, and with a period after
# it in at least this share of all its occurrences (as Punkt's abbreviation test)
MIN_ABBREVIATION_COUNT = 3
ABBREVIATION_RATIO = 4
MIN_PERIOD_SHARE = 0.9
# a model whose training sources held lines of several sentences at least this often has
# learned to translate such lines: its texts are not cut (splitter_for)
MAX_MULTI_SENTENCE_SHARE = 0.2
# numbers are ordinals when they stand before an inner period, against a line's last one, this
# many times more often than other words do (a corpus of single sentences has few true inner
# boundaries, so inner periods after numbers are then mostly ordinals' periods)
ORDINAL_RATIO = 10


def _starts_sentence(text: str, at: int) -> bool:
    """Whether ``text[at:]`` begins like a sentence: opening marks (``¿¡"«(``), then an
    upper-case letter, a digit, or a letter of a script without case."""
    while at < len(text) and _is_opening(text[at]):
        at += 1
    return at < len(text) and unicodedata.category(text[at]) in START_CATEGORIES


def _is_opening(char: str) -> bool:
    return unicodedata.category(char) in OPENING_CATEGORIES or char in OPENING


def _word_before(text: str, end: int) -> str:
    """The whitespace-separated word that ends at ``end``, leading marks (``¿"(``) left off."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return _strip_marks(text[start:end], leading=True)


def _strip_marks(word: str, leading: bool) -> str:
    """``word`` without its leading (or trailing) punctuation."""
    while word and unicodedata.category(word[0 if leading else -1]).startswith("P"):
        word = word[1:] if leading else word[:-1]
    return word


def _is_number(word: str) -> bool:
    return bool(word) and all(unicodedata.category(char) == "Nd" for char in word)


def _is_abbreviation(word: str, abbreviations: frozenset[str], ordinals: bool) -> bool:
    """A word that a period after does not end a sentence: an initial, a word with a period
    inside, a learned abbreviation, or with ``ordinals`` a number."""
    return (
        (len(word) == 1 and word.isalpha())
        or "." in word
        or bool(_NO_VOWEL.fullmatch(word))
        or word.casefold() in abbreviations
        or (ordinals and _is_number(word))
    )


def _after_space(text: str, at: int) -> int:
    """The first position from ``at`` on that is not whitespace."""
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _candidates(text: str):
    """Every boundary by the rules without abbreviations, as ``(word, end, start)``: ``word``
    is the word before a lone period (which an abbreviation would make no boundary), else
    None."""
    for match in _SPACED.finditer(text):
        end, start = match.end(), _after_space(text, match.end())
        if start < len(text) and _starts_sentence(text, start):
            lone_period = match.group().rstrip(CLOSING) == "."
            yield (_word_before(text, match.start()) if lone_period else None), end, start
    for match in _FULL_WIDTH.finditer(text):
        end, start = match.end(), _after_space(text, match.end())
        if start < len(text) and text[start] not in FULL_WIDTH:  # not inside a run of marks
            yield None, end, start


@dataclass(frozen=True)
class SentenceSplitter:
    """Splits texts at sentence boundaries (see the module docstring); ``abbreviations``: words
    a period after does not end a sentence, case-folded; ``ordinals``: nor does one after a
    number (``am 5. Mai``); both as ``learn_sentence_splitting`` finds them."""

    abbreviations: frozenset[str] = frozenset()
    ordinals: bool = False

    def boundaries(self, text: str) -> list[tuple[int, int]]:
        """``(end, start)`` of each boundary: where a sentence ends and the next begins (the
        whitespace between them is ``text[end:start]``), in order."""
        return sorted(
            {
                (end, start)
                for word, end, start in _candidates(text)
                if word is None or not _is_abbreviation(word, self.abbreviations, self.ordinals)
            }
        )

    def split(self, text: str) -> tuple[list[str], list[str]]:
        """``text``'s sentences and the separators between them (``" "`` where the source had
        whitespace, ``""`` where it had none; one fewer than the sentences). A text without a
        boundary is one sentence, as it is; leading and trailing whitespace stays on the
        first and last."""
        sentences, separators, at = [], [], 0
        for end, start in self.boundaries(text):
            if end < at:  # overlaps the boundary before (a spaced and a full-width match)
                continue
            sentences.append(text[at:end])
            separators.append(" " if start > end else "")
            at = start
        sentences.append(text[at:])
        return sentences, separators

    @classmethod
    def from_dict(cls, values: Any) -> SentenceSplitter:
        """The splitter a run's ``sentences`` metadata record describes (the plain rules when
        there is none)."""
        if not isinstance(values, dict):
            return cls()
        found = values.get("abbreviations")
        words = found if isinstance(found, list) else []
        return cls(
            frozenset(word.casefold() for word in words if isinstance(word, str)),
            values.get("ordinals") is True,
        )


def learn_sentence_splitting(texts: list[str]) -> dict[str, Any]:
    """What a training side says about sentences: the share of its distinct lines that hold more
    than one (by the rules without learned abbreviations), and ``abbreviations``, the words seen
    before a period inside lines at least ``MIN_ABBREVIATION_COUNT`` times and
    ``ABBREVIATION_RATIO`` times more often than before a line's last period, and followed by a
    period in ``MIN_PERIOD_SHARE`` of their occurrences (words compared case-folded); and
    ``ordinals``, whether numbers are written with a period (``am 5. Mai``): numbers stand
    before inner periods ``ORDINAL_RATIO`` times more often, against before a line's last
    period, than words do."""
    inner: Counter = Counter()  # before a boundary's lone period
    final: Counter = Counter()  # before a line's last period
    with_period: Counter = Counter()
    seen: Counter = Counter()
    several = 0
    for text in dict.fromkeys(texts):  # a corpus's repeated lines count once
        for token in text.split():
            word = _strip_marks(token, leading=True)
            if word.endswith(".") and not word.endswith(".."):
                with_period[word[:-1].casefold()] += 1
                word = word[:-1]
            seen[_strip_marks(word, leading=False).casefold()] += 1
        stripped = text.rstrip()
        if stripped.endswith(".") and not stripped.endswith(".."):
            final[_word_before(stripped, len(stripped) - 1).casefold()] += 1
        found = list(_candidates(text))
        several += bool(found)
        inner.update(word.casefold() for word, _, _ in found if word is not None)
    abbreviations = sorted(
        word
        for word, count in inner.items()
        if word
        and count >= MIN_ABBREVIATION_COUNT
        and count >= ABBREVIATION_RATIO * final[word]
        and with_period[word] >= MIN_PERIOD_SHARE * seen[word]
    )
    numbers_inner = sum(count for word, count in inner.items() if _is_number(word))
    numbers_final = sum(count for word, count in final.items() if _is_number(word))
    words_rate = (sum(inner.values()) - numbers_inner) / max(1, sum(final.values()) - numbers_final)
    ordinals = numbers_inner >= MIN_ABBREVIATION_COUNT and numbers_inner >= (
        ORDINAL_RATIO * words_rate * max(1, numbers_final)
    )
    distinct = len(set(texts))
    share = round(several / distinct, 4) if texts else 0.0
    return {"multi_sentence_share": share, "abbreviations": abbreviations, "ordinals": ordinals}


def splitter_for(record: Any) -> SentenceSplitter | None:
    """The splitter for a model whose metadata ``sentences`` record is ``record``: None when
    its training sources held lines of several sentences ``MAX_MULTI_SENTENCE_SHARE`` of the
    time or more (the model learned to translate them whole), else
    ``SentenceSplitter.from_dict(record)`` (the plain rules without a record)."""
    share = record.get("multi_sentence_share") if isinstance(record, dict) else None
    if isinstance(share, (int, float)) and share >= MAX_MULTI_SENTENCE_SHARE:
        return None
    return SentenceSplitter.from_dict(record)
