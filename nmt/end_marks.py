"""Sentence-final punctuation that a model expects, learned from its training data.

A model trained on sentences that nearly all end in punctuation learns to end its output after
the final mark; given an input without one ("Mary", "fifty"), it often never stops and repeats
itself. When a training side is punctuated nearly everywhere, the run records that side's most
common final mark; an input lacking a final mark is translated with the source mark added,
and the target mark is taken off the output again, so what comes out is punctuated as what
went in. Nothing here names a language: the marks are whatever the training data used.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

# a side counts as punctuated when at least this share of its sentences end in punctuation:
# then an unpunctuated input is unlike nearly everything the model saw
MIN_PUNCTUATED_SHARE = 0.9


def _final_mark(text: str) -> str | None:
    text = text.rstrip()
    if text and unicodedata.category(text[-1]).startswith("P"):
        return text[-1]
    return None


@dataclass(frozen=True)
class EndMarks:
    """The source side's usual final mark, and the target side's."""

    src: str
    tgt: str

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "tgt": self.tgt}

    @classmethod
    def from_dict(cls, values: Any) -> EndMarks | None:
        if not isinstance(values, dict):
            return None
        src, tgt = values.get("src"), values.get("tgt")
        if isinstance(src, str) and isinstance(tgt, str) and len(src) == len(tgt) == 1:
            return cls(src, tgt)
        return None

    def complete(self, text: str) -> tuple[str, bool]:
        """``text`` with the source mark added if it has no final punctuation; and whether
        one was added (an empty text gets none)."""
        stripped = text.rstrip()
        if not stripped or _final_mark(stripped) is not None:
            return text, False
        return stripped + self.src, True

    def strip(self, text: str) -> str:
        """``text`` without the one target mark that ends it, if it ends with it."""
        stripped = text.rstrip()
        if stripped.endswith(self.tgt):
            return stripped[: -len(self.tgt)].rstrip()
        return text


def learn_end_marks(src_texts: list[str], tgt_texts: list[str]) -> dict[str, Any]:
    """What the training pairs say: each side's share of punctuated sentences and its most
    common final mark, and ``marks`` (an ``EndMarks`` dict) when both sides are punctuated
    nearly everywhere, else None."""
    found: dict[str, Any] = {}
    for side, texts in (("src", src_texts), ("tgt", tgt_texts)):
        marks = Counter(_final_mark(text) for text in texts)
        punctuated = len(texts) - marks.pop(None, 0)
        found[f"{side}_punctuated"] = round(punctuated / len(texts), 4) if texts else 0.0
        found[f"{side}_mark"] = marks.most_common(1)[0][0] if marks else None
    usable = all(found[f"{side}_punctuated"] >= MIN_PUNCTUATED_SHARE for side in ("src", "tgt"))
    found["marks"] = EndMarks(found["src_mark"], found["tgt_mark"]).to_dict() if usable else None
    return found
