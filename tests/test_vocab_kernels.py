"""The search's CPU vocabulary kernels: group-wise argmax and top-k, and the log-normaliser,
against the plain TensorFlow ops and on small hand-made tensors with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from nmt.vocab_kernels import (
    NEG_INF,
    _argmax_in_groups,
    _argmax_last,
    _group_size,
    _normalizer_at,
    argmax_and_normalizer,
    normalized_top_extensions,
    to_slots,
    top_extensions,
    top_extensions_at_slots,
)


def test_to_slots_places_rows_and_fills_the_rest():
    values = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    got = to_slots(values, tf.constant([0, 2]), 3, -1.0)
    np.testing.assert_array_equal(got.numpy(), [[1, 2], [-1, -1], [3, 4]])


def test_group_size_prefers_a_divisor_near_the_square_root():
    assert _group_size(8000, 8000) == 80  # sqrt 89.4: divisors 80 and 100, 80 is nearer
    assert _group_size(8003, 8003) == 53  # 8003 = 151 * 53
    assert _group_size(8009, 8009) == 89  # a prime: no divisor, the ideal size (padding)
    assert _group_size(10, 1) == 2  # never below 2


def test_argmax_in_groups_takes_the_first_of_tied_maxima():
    grouped = tf.constant([[[1.0, 5.0], [5.0, 2.0]], [[0.0, 1.0], [3.0, 3.0]]])
    got = _argmax_in_groups(grouped, tf.reduce_max(grouped, -1))
    np.testing.assert_array_equal(got.numpy(), [1, 2])


@pytest.mark.parametrize("vocab", [8, 100, 101])  # plain, grouped (10 x 10), plain (prime)
def test_argmax_last_is_tf_argmax(vocab):
    x = np.zeros((3, vocab), np.float32)
    x[0, vocab - 1] = 2.0
    x[1, [3, vocab - 3]] = 1.0  # a tie: the lower index
    got = _argmax_last(tf.constant(x))
    assert got.dtype == tf.int32
    np.testing.assert_array_equal(got.numpy(), [vocab - 1, 3, 0])


def test_normalizer_at_is_logsumexp():
    scores = tf.constant([[0.0, 0.0, 0.0, 0.0], [math.log(3.0), 0.0, -1e9, -1e9]])
    got = _normalizer_at(scores, tf.constant([0, 0]))
    np.testing.assert_allclose(got.numpy(), [math.log(4.0), math.log(4.0)], rtol=1e-6)


def test_argmax_and_normalizer_on_a_small_row():
    best, normalizer = argmax_and_normalizer(tf.constant([[1.0, 3.0, 3.0, 0.0]]))
    assert best.numpy().tolist() == [1]
    expected = math.log(math.e + 2 * math.e**3 + 1.0)
    assert normalizer.numpy()[0] == pytest.approx(expected, rel=1e-6)


def test_top_extensions_at_slots_with_some_beams_missing():
    """Two sentences of two beams; only beam 0 of each has a step row. The known best two
    extensions per sentence, and the missing beams stay NEG_INF in the shifted base."""
    scores = tf.constant([[0.0, -1.0, -3.0, -2.0], [-0.5, 0.0, -4.0, -1.0]])
    slots = tf.constant([0, 2])
    row_of = tf.constant([0, 0, 1, 0])  # slot -> step row (any row for a slot without one)
    base = tf.constant([[-1.0, NEG_INF], [-2.0, NEG_INF]])
    top, index, normalizer, shifted = top_extensions_at_slots(
        scores, slots, row_of, base, 2, normalize=False
    )
    np.testing.assert_array_equal(top.numpy(), [[-1.0, -2.0], [-2.0, -2.5]])
    np.testing.assert_array_equal(index.numpy(), [[0, 1], [1, 0]])  # beam * vocab + token
    np.testing.assert_array_equal(normalizer.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(shifted.numpy(), base.numpy())


@pytest.mark.parametrize("normalize", [False, True])
def test_top_extensions_at_slots_grouped_equals_dense_top_k(normalize):
    """A vocabulary large enough for the grouped path, beams of each sentence partly without a
    row: the same as top-k over the dense sum with missing beams at minus infinity."""
    rng = np.random.default_rng(1)
    batch, beam, vocab, k = 3, 4, 1000, 8
    slots = np.array([0, 2, 3, 5, 8, 9, 10, 11], np.int32)
    row_of = np.zeros(batch * beam, np.int32)
    row_of[slots] = np.arange(len(slots))
    scores = rng.normal(scale=2.0, size=(len(slots), vocab)).astype(np.float32)
    base = np.full((batch, beam), NEG_INF, np.float32)
    base.reshape(-1)[slots] = rng.normal(size=len(slots))
    top, index, normalizer, shifted = top_extensions_at_slots(
        tf.constant(scores), tf.constant(slots), tf.constant(row_of), tf.constant(base), k,
        normalize=normalize,
    )  # fmt: skip
    lse = tf.reduce_logsumexp(tf.constant(scores, tf.float64), -1).numpy()
    want_norm = lse if normalize else np.zeros(len(slots))
    np.testing.assert_allclose(normalizer.numpy(), want_norm, rtol=1e-6, atol=1e-5)
    dense = np.full((batch * beam, vocab), -np.inf, np.float32)
    dense[slots] = scores + (base.reshape(-1)[slots] - normalizer.numpy())[:, None]
    want_top, want_index = tf.math.top_k(dense.reshape(batch, -1), k=k)
    np.testing.assert_array_equal(index.numpy(), want_index.numpy())
    np.testing.assert_allclose(top.numpy(), want_top.numpy(), rtol=1e-6)
    missing = np.setdiff1d(np.arange(batch * beam), slots)
    assert (shifted.numpy().reshape(-1)[missing] == NEG_INF).all()


@pytest.mark.parametrize("vocab", [4000, 997, 320])
@pytest.mark.parametrize("ties", [False, True])
def test_top_extensions_is_exactly_flat_top_k(vocab, ties):
    rng = np.random.default_rng(vocab)
    beam = 5
    if ties:  # few distinct values: the lower flat index must win, as in tf.math.top_k
        log_probs = rng.integers(-4, 0, size=(6, beam, vocab)).astype(np.float32)
        base = rng.integers(-3, 0, size=(6, beam)).astype(np.float32)
    else:
        log_probs = rng.normal(size=(6, beam, vocab)).astype(np.float32)
        base = rng.normal(size=(6, beam)).astype(np.float32)
    flat = tf.reshape(base[:, :, None] + log_probs, [6, -1])
    want_scores, want_index = tf.math.top_k(flat, k=2 * beam)
    scores, index = top_extensions(tf.constant(log_probs), tf.constant(base), 2 * beam)
    np.testing.assert_array_equal(scores.numpy(), want_scores.numpy())
    np.testing.assert_array_equal(index.numpy(), want_index.numpy())


@pytest.mark.parametrize("vocab", [40, 8000, 8009])
def test_normalized_top_extensions_equal_top_extensions_of_log_probabilities(vocab):
    """Plain (40), grouped (8000) and padded groups (8009, a prime): the same tokens as
    ``top_extensions`` of the log-softmax, scores and normalisers to float precision."""
    rng = np.random.default_rng(vocab)
    beam = 5
    scores = (rng.normal(scale=3.0, size=(4, beam, vocab)) + 5.0).astype(np.float32)
    base = rng.normal(size=(4, beam)).astype(np.float32)
    base[:, 1:] = NEG_INF  # the first step: one live beam per sentence
    log_probs = tf.nn.log_softmax(tf.constant(scores))
    want_scores, want_index = top_extensions(log_probs, tf.constant(base), 2 * beam)
    got_scores, got_index, normalizer = normalized_top_extensions(
        tf.constant(scores), tf.constant(base), 2 * beam
    )
    np.testing.assert_array_equal(got_index.numpy(), want_index.numpy())
    np.testing.assert_allclose(got_scores.numpy(), want_scores.numpy(), rtol=1e-5, atol=1e-4)
    expected = tf.reduce_logsumexp(tf.constant(scores, tf.float64), -1).numpy()
    np.testing.assert_allclose(normalizer.numpy(), expected, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("vocab", [8, 100, 8000, 8003, 8009])
def test_argmax_and_normalizer_match_argmax_and_logsumexp(vocab):
    """Grouped (100, 8000, 8003 = 151 groups of 53) or plain (8; 8009, a prime):
    the first of tied maxima, and logsumexp to float precision, also with -1e9 entries and a
    row of equal scores."""
    rng = np.random.default_rng(vocab)
    scores = rng.normal(scale=4.0, size=(6, vocab)).astype(np.float32)
    scores[1, 3] = scores[1, vocab - 2] = scores[1].max() + 1.0  # a tie: the lower index wins
    scores[2, : vocab // 2] = NEG_INF
    scores[3] = 0.5
    scores[4] *= 20.0  # one entry far above the rest
    best, normalizer = argmax_and_normalizer(tf.constant(scores))
    np.testing.assert_array_equal(best.numpy(), scores.argmax(-1))
    expected = tf.reduce_logsumexp(tf.constant(scores.astype(np.float64)), -1).numpy()
    np.testing.assert_allclose(normalizer.numpy(), expected, rtol=1e-6, atol=1e-5)
