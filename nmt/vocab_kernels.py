"""CPU vocabulary kernels of the search: the best entries of each row of ``(rows, vocab)``
scores (an argmax, the ``k`` best extensions of a sentence's beams) and each row's
log-normaliser, without a full pass of TensorFlow's scalar CPU ``argmax`` / ``top_k`` or a
``log_softmax`` over the whole vocabulary.

Every function is exact (the same result as the plain TensorFlow ops, ties included) and
traceable inside ``tf.function``.
"""

from __future__ import annotations

import tensorflow as tf

from nmt.decoding import NEG_INF


def to_slots(values: tf.Tensor, slots: tf.Tensor, count, fill) -> tf.Tensor:
    """Rows ``values`` ``(live, ...)`` placed at ``slots`` of a ``(count, ...)`` tensor whose
    other rows are ``fill``."""
    shape = tf.concat([[count], tf.shape(values)[1:]], 0)
    return tf.tensor_scatter_nd_update(tf.fill(shape, fill), slots[:, None], values)


def top_extensions(log_probs: tf.Tensor, base: tf.Tensor, k: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The ``k`` best of ``base[:, :, None] + log_probs`` over beams and tokens together.

    ``log_probs`` ``(batch, beam, vocab)``, ``base`` ``(batch, beam)``. Returns the scores
    ``(batch, k)`` and flat indices ``beam_index * vocab + token`` ``(batch, k)``: exactly
    ``tf.math.top_k`` of the sum flattened to ``(batch, beam * vocab)`` (ties: lower index first).

    TensorFlow's CPU ``top_k`` is a scalar pass of some 10 ns per entry, which at beam 5 costs a
    third of a decoder step. Here each beam's row is cut into groups of ``size`` tokens: one
    vectorised max per group, the ``k`` best groups over all beams (each of the ``k`` best
    entries lies in one of them), then ``top_k`` over those ``k * size`` entries only. The sum
    is never formed over the whole vocabulary: a beam's ``base`` shifts its groups' maxima alike.
    """
    return _dense_top_extensions(log_probs, base, k, normalize=False)[:2]


def normalized_top_extensions(
    scores: tf.Tensor, base: tf.Tensor, k: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``top_extensions`` of ``log_softmax(scores)`` without forming it: also returns each
    beam's log-normaliser ``(batch, beam)`` (as ``argmax_and_normalizer``, whose argmax comes
    from the same group maxima, so the vocabulary is read once for both)."""
    top, index, normalizer, _ = _dense_top_extensions(scores, base, k, normalize=True)
    return top, index, tf.reshape(normalizer, tf.shape(base))


def _dense_top_extensions(scores: tf.Tensor, base: tf.Tensor, k: int, normalize: bool):
    """``top_extensions_at_slots`` with a row for every beam: ``scores``
    ``(batch, beam, vocab)``."""
    slots = tf.range(tf.shape(scores)[0] * tf.shape(scores)[1])
    flat = tf.ensure_shape(tf.reshape(scores, [-1, tf.shape(scores)[-1]]), [None, scores.shape[-1]])
    return top_extensions_at_slots(flat, slots, slots, base, k, normalize)


def top_extensions_at_slots(
    scores: tf.Tensor,
    slots: tf.Tensor,
    row_of: tf.Tensor,
    base: tf.Tensor,
    k: int,
    normalize: bool,
):
    """The ``k`` best extensions over the beams of each sentence, from step rows that cover
    only some beams. ``scores`` ``(rows, vocab)`` at ``slots`` ``(rows,)`` of the
    ``(batch, beam)`` beams, ``row_of`` ``(batch * beam,)`` the inverse (any row for a slot
    without one), ``base`` ``(batch, beam)`` the beams' totals (``NEG_INF`` where no row).
    With ``normalize``, ``scores`` are logits and each row's log-normaliser is subtracted.
    Returns top scores and flat indices ``(batch, k)`` as ``top_extensions``, the rows'
    log-normalisers ``(rows,)`` (zeros without ``normalize``) and ``base`` less them
    ``(batch, beam)`` (``NEG_INF`` where no row)."""
    vocab = scores.shape[-1]
    beam = base.shape[1]
    count = tf.size(base)
    flat_base = tf.reshape(base, [-1])
    if vocab is None or beam is None or vocab < 32 * k:
        normalizer = tf.zeros(tf.shape(slots), scores.dtype)
        if normalize:
            normalizer = argmax_and_normalizer(scores)[1]
        row_base = tf.gather(flat_base, slots) - normalizer
        shifted = tf.reshape(to_slots(row_base, slots, count, NEG_INF), tf.shape(base))
        total = to_slots(row_base[:, None] + scores, slots, count, NEG_INF + NEG_INF)
        top, index = tf.math.top_k(tf.reshape(total, [tf.shape(base)[0], -1]), k=k)
        return top, index, normalizer, shifted
    size = _group_size(vocab, beam * vocab // k)
    groups = -(-vocab // size)
    x = scores
    if groups * size > vocab:  # pad with -inf: never chosen before a real entry
        x = tf.pad(x, [[0, 0], [0, groups * size - vocab]], constant_values=float("-inf"))
    x = tf.reshape(x, [-1, groups, size])
    group_maxima = tf.reduce_max(x, -1)  # (rows, groups)
    normalizer = tf.zeros(tf.shape(slots), scores.dtype)
    if normalize:  # each row's best entry from the same maxima, then its normaliser
        normalizer = _normalizer_at(scores, _argmax_in_groups(x, group_maxima))
    row_base = tf.gather(flat_base, slots) - normalizer
    shifted = tf.reshape(to_slots(row_base, slots, count, NEG_INF), tf.shape(base))
    maxima = to_slots(group_maxima + row_base[:, None], slots, count, float("-inf"))
    maxima = tf.reshape(maxima, [-1, beam * groups])
    chosen = tf.sort(tf.math.top_k(maxima, k=k)[1], axis=-1)  # (batch, k), in index order
    slot = tf.range(tf.shape(base)[0])[:, None] * beam + chosen // groups  # (batch, k)
    shift = tf.gather(tf.reshape(shifted, [-1]), slot)  # (batch, k)
    row_group = tf.gather(row_of, slot) * groups + chosen % groups
    candidates = tf.gather(tf.reshape(x, [-1, size]), row_group) + shift[:, :, None]
    top, position = tf.math.top_k(tf.reshape(candidates, [-1, k * size]), k=k)
    group = tf.gather(chosen, position // size, batch_dims=1)  # beam * groups + g
    index = (group // groups) * vocab + (group % groups) * size + position % size
    return top, index, normalizer, shifted


def argmax_and_normalizer(scores: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``scores`` ``(rows, vocab)`` -> the best entry of each row ``(rows,)`` int32 (the first
    of ties, as ``tf.argmax``) and ``logsumexp`` over the row ``(rows,)``, so that an entry's
    log-probability is ``scores - normalizer``.

    Cheaper on a CPU than ``log_softmax`` then ``argmax`` (9 us against 16 us per row of 8000
    entries, 480 rows, 2-core AVX2): the argmax is found group-wise (a vectorised max per group
    of entries, then the best group's entries), and the normaliser comes from a softmax at that
    entry, ``logsumexp = best_score - log(softmax[best])``: exact, since
    ``softmax[best] >= 1 / vocab`` cannot underflow.
    """
    best = _argmax_last(scores)
    return best, _normalizer_at(scores, best)


def log_normalizer(best_score: tf.Tensor, best_prob: tf.Tensor) -> tf.Tensor:
    """``logsumexp`` of a row from its largest entry and that entry's softmax probability:
    ``best_score - log(best_prob)``. Exact, and ``best_prob >= 1 / vocab`` never underflows."""
    return best_score - tf.math.log(best_prob)


def _normalizer_at(scores: tf.Tensor, best: tf.Tensor) -> tf.Tensor:
    """``logsumexp`` over the last axis of ``scores`` ``(..., vocab)`` from the softmax at
    ``best`` ``(...)``, the index of each row's maximum (``log_normalizer``)."""
    batch_dims = len(best.shape)
    probs = tf.gather(tf.nn.softmax(scores), best, batch_dims=batch_dims)
    return log_normalizer(tf.gather(scores, best, batch_dims=batch_dims), probs)


def _argmax_in_groups(grouped: tf.Tensor, maxima: tf.Tensor) -> tf.Tensor:
    """The argmax over a row cut into groups: ``grouped`` ``(..., groups, size)`` and its
    ``maxima = reduce_max(grouped, -1)`` -> the index in the row ``(...)`` int32 (the first
    of ties, as ``tf.argmax``)."""
    batch_dims = len(maxima.shape) - 1
    group = tf.argmax(maxima, -1, output_type=tf.int32)
    within = tf.argmax(tf.gather(grouped, group, batch_dims=batch_dims), -1, output_type=tf.int32)
    return group * grouped.shape[-1] + within


def _argmax_last(x: tf.Tensor) -> tf.Tensor:
    """``tf.argmax`` over the last axis of ``x`` ``(rows, vocab)`` as int32; group-wise when the
    vocabulary has a divisor near its square root (TensorFlow's CPU argmax is a scalar pass)."""
    vocab = x.shape[-1]
    size = _group_size(vocab, vocab) if vocab else 0
    if not vocab or vocab < 64 or vocab % size:
        return tf.argmax(x, axis=-1, output_type=tf.int32)
    grouped = tf.reshape(x, [-1, vocab // size, size])
    return _argmax_in_groups(grouped, tf.reduce_max(grouped, -1))


def _group_size(vocab: int, ideal_squared: int) -> int:
    """About ``sqrt(ideal_squared)`` (for ``top_extensions`` that balances the group maxima
    against the candidates; for an argmax, ``ideal_squared = vocab``): a divisor of ``vocab``
    near it if there is one (no padding copy)."""
    ideal = max(2, round(ideal_squared**0.5))
    for size in sorted(range(max(2, ideal // 2), 2 * ideal + 1), key=lambda s: abs(s - ideal)):
        if vocab % size == 0:
            return size
    return ideal
