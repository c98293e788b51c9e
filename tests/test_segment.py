"""Cutting over-long sources: the best boundary inside the limit, sentence ends first."""

from __future__ import annotations

import random

import pytest

from nmt.segment import SENTENCE_END, split_ids
from nmt.tokenizer import WORD_START


def pieces_of(text: str) -> list[str]:
    """SentencePiece-like pieces from ``"_a _b . _c"``: ``_`` marks a word start."""
    return [p.replace("_", WORD_START) for p in text.split()]


def test_split_ids_prefers_sentence_ends_then_words():
    pieces = ["▁a", "▁b", ".", "▁c", "▁d", "e", "▁f", "▁g", "h", "i", "j"]
    ids = list(range(len(pieces)))
    parts = split_ids(ids, pieces, 5)
    assert parts[0] == [0, 1, 2]  # after "b ."
    assert all(len(p) <= 5 for p in parts)
    assert sum(parts, []) == ids
    assert split_ids(ids, pieces, 20) == [ids]
    assert split_ids([], [], 3) == [[]]
    no_words = split_ids(list(range(12)), ["x"] * 12, 5)  # no boundary at all: hard cuts
    assert [len(p) for p in no_words] == [5, 5, 2]


def cut_points(parts: list[list[int]]) -> list[int]:
    """Where the parts start, after the first (the ids are ``range(n)``)."""
    return [part[0] for part in parts[1:]]


def test_limit_must_be_positive():
    with pytest.raises(ValueError, match="limit"):
        split_ids([1, 2], pieces_of("_a _b"), 0)


def test_a_sequence_of_exactly_the_limit_is_whole():
    ids = list(range(4))
    assert split_ids(ids, pieces_of("_a _b _c _d"), 4) == [ids]


def test_the_last_sentence_end_that_fits_wins_over_a_later_word_start():
    pieces = pieces_of("_a . _b ! _c _d _e _f")
    ids = list(range(len(pieces)))
    # within the first 6: ends after "." (2) and after "!" (4); word starts up to 6
    assert cut_points(split_ids(ids, pieces, 6)) == [4]


def test_a_mark_inside_a_word_is_not_a_sentence_end():
    """``3.5``: the mark is followed by a piece that continues the word, so the cut falls at
    the last word start in reach; with a new word after the mark it would fall there."""
    pieces = pieces_of("_pi _is _3 . 5 _and _more _x")
    ids = list(range(len(pieces)))
    assert cut_points(split_ids(ids, pieces, 6)) == [6]
    pieces = pieces_of("_pi _is _3 . _5 _and _more _x")
    assert cut_points(split_ids(ids, pieces, 6)) == [4]


def test_a_mark_carried_on_a_word_start_piece_ends_a_sentence():
    pieces = pieces_of("_a _b _. _c _d _e")
    assert cut_points(split_ids(list(range(6)), pieces, 5)) == [3]


@pytest.mark.parametrize("mark", SENTENCE_END)
def test_every_sentence_end_mark_counts(mark):
    pieces = pieces_of(f"_a {mark} _b _c _d _e")
    assert cut_points(split_ids(list(range(6)), pieces, 5)) == [2]


def test_random_sequences_keep_every_id_within_the_limit():
    rng = random.Random(0)
    vocabulary = ["_w", "x", ".", "_y", "?", "z"]
    for _ in range(200):
        n = rng.randint(0, 40)
        pieces = pieces_of(" ".join(rng.choice(vocabulary) for _ in range(n))) if n else []
        limit = rng.randint(1, 12)
        parts = split_ids(list(range(n)), pieces, limit)
        assert sum(parts, []) == list(range(n))
        assert all(1 <= len(p) <= limit for p in parts) or parts == [[]]
        for start in cut_points(parts):  # a cut before a word start wherever one was in reach
            previous = max(p for p in [0] + cut_points(parts) if p < start)
            window = range(previous + 1, previous + limit + 1)
            if any(i < n and pieces[i].startswith(WORD_START) for i in window):
                assert pieces[start].startswith(WORD_START)
