"""Cutting an over-long source into pieces the model can translate, at the best boundaries."""

from __future__ import annotations

from nmt.sentences import ENDS, FULL_WIDTH
from nmt.tokenizer import WORD_START

# a cut may follow any sentence-final mark (nmt.sentences), or a clause's ";" and ":"
SENTENCE_END = tuple(ENDS + FULL_WIDTH + ";:")


def split_ids(ids: list[int], pieces: list[str], limit: int) -> list[list[int]]:
    """Split ``ids`` (with their SentencePiece ``pieces``) into runs of at most ``limit`` ids.

    Each cut goes after the last sentence end that fits (a piece ending in ``.!?;:`` and the
    like, followed by a new word), else before the last word start that fits, else exactly at
    ``limit``. A sequence within the limit is returned whole; an empty one as ``[[]]``.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if len(ids) <= limit:
        return [ids]
    parts, start = [], 0
    while len(ids) - start > limit:
        cut = _best_cut(pieces, start, start + limit)
        parts.append(ids[start:cut])
        start = cut
    parts.append(ids[start:])
    return parts


def _best_cut(pieces: list[str], start: int, end: int) -> int:
    """The position in ``(start, end]`` to cut before: sentence end, else word start, else end."""
    word_cut = None
    for cut in range(end, start, -1):
        if cut >= len(pieces) or not pieces[cut].startswith(WORD_START):
            continue
        if pieces[cut - 1].rstrip(WORD_START).endswith(SENTENCE_END):
            return cut
        if word_cut is None:
            word_cut = cut
    return word_cut if word_cut is not None else end
