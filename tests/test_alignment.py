"""Word alignments from attention (pieces summed into source words, averaged over target
words), the Pharaoh format and the heat map."""

from __future__ import annotations

import numpy as np
import pytest

from nmt.alignment import pharaoh, plot_attention, word_alignment, word_index


def test_word_alignment_sums_pieces_into_words():
    src = ["▁the", "▁cat", "s", "▁sleep"]
    tgt = ["▁los", "▁gato", "s", "▁duermen"]
    attention = np.array(
        [[0.9, 0.1, 0.0, 0.0], [0.1, 0.5, 0.4, 0.0], [0.0, 0.3, 0.6, 0.1], [0.2, 0.0, 0.0, 0.8]]
    )
    assert word_index(src) == [0, 1, 1, 2]
    assert pharaoh(word_alignment(src, tgt, attention)) == "0-0 1-1 2-2"
    with pytest.raises(ValueError, match="shape"):
        word_alignment(src, tgt, attention[:2])


def test_plot_attention_writes_a_png(tmp_path):
    path = plot_attention(np.eye(3), ["▁a", "▁b", "▁c"], ["▁A", "▁B", "▁C"], tmp_path / "x.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_word_index_counts_word_starts():
    assert word_index([]) == []
    assert word_index(["a", "b", "▁c", "d"]) == [0, 0, 1, 1]  # a first piece opens a word
    assert word_index(["▁a", "▁", "b"]) == [0, 1, 1]


def test_target_pieces_of_one_word_vote_together():
    """The two pieces of the target word disagree; their summed attention decides."""
    src, tgt = ["▁x", "▁y"], ["▁ab", "c"]
    attention = np.array([[0.6, 0.4], [0.0, 1.0]])
    assert word_alignment(src, tgt, attention) == [(1, 0)]


def test_source_pieces_of_one_word_add_up():
    """No single piece of the two-piece word gets most attention, the word does."""
    src, tgt = ["▁long", "er", "▁short"], ["▁w"]
    assert word_alignment(src, tgt, np.array([[0.3, 0.3, 0.4]])) == [(0, 0)]


def test_pairs_are_sorted_by_source_word_and_many_to_one_is_kept():
    src, tgt = ["▁a", "▁b"], ["▁x", "▁y", "▁z"]
    attention = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    pairs = word_alignment(src, tgt, attention)
    assert pairs == [(0, 1), (1, 0), (1, 2)]
    assert pharaoh(pairs) == "0-1 1-0 1-2"


def test_empty_sides_align_nothing():
    assert word_alignment([], ["▁x"], np.zeros((1, 0))) == []
    assert word_alignment(["▁a"], [], np.zeros((0, 1))) == []
    assert pharaoh([]) == ""


def test_plot_attention_makes_folders_and_takes_empty_attention(tmp_path):
    path = plot_attention(np.zeros((0, 0)), [], [], tmp_path / "a" / "b.png", title="empty")
    assert path == tmp_path / "a" / "b.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("shape", [(2, 3), (2, 2)])  # transposed, short
def test_word_alignment_refuses_a_matrix_of_the_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"expected \(3, 2\)"):
        word_alignment(["▁a", "▁b"], ["▁x", "▁y", "▁z"], np.ones(shape))
