"""The training loss: label-smoothed cross-entropy over the target tokens, written with its own
gradient.

Autodiff of the textbook form (log-softmax, pick the label, mix with the uniform term) runs a
pass over the ``(tokens, vocabulary)`` logits for every op on the way back, and picking the
label's entry scatters its gradient into a dense tensor of that size. The gradient is known in
closed form, ``p - target``, so the forward pass keeps only the softmax and the backward pass is
one scaled subtraction plus one entry per token (``bench/train_speed.py`` measures the step).
"""

from __future__ import annotations

import tensorflow as tf

from nmt.tokenizer import PAD_ID
from nmt.vocab_kernels import log_normalizer


def smoothed_cross_entropy(labels, logits, label_smoothing: float) -> tf.Tensor:
    """Mean over non-pad positions of the cross-entropy against the target distribution
    ``(1 - e) * one_hot(label) + e / vocabulary_size``, that is ``(1 - e) * NLL + e * uniform
    cross-entropy``.

    ``labels`` ``(batch, tgt_len)`` int (``PAD_ID`` where there is no token), ``logits``
    ``(batch, tgt_len, vocab)`` (computed in float32) -> a scalar float32.
    """
    labels = tf.cast(labels, tf.int32)
    mask = tf.cast(tf.not_equal(labels, PAD_ID), tf.float32)
    share = mask / tf.maximum(tf.reduce_sum(mask), 1.0)  # (batch, tgt_len): a token's weight
    return _weighted_cross_entropy(tf.cast(logits, tf.float32), labels, share, label_smoothing)


def _weighted_cross_entropy(logits, labels, share, e: float) -> tf.Tensor:
    """``sum(share * CE)`` for ``logits`` ``(batch, tgt_len, vocab)`` float32, with the
    gradient ``share * (softmax - target)`` written out."""
    flat_labels = tf.reshape(labels, [-1])  # (tokens,)
    label_at = tf.stack([tf.range(tf.size(flat_labels)), flat_labels], axis=1)  # (tokens, 2)

    @tf.custom_gradient
    def loss(logits):
        vocabulary_size = tf.cast(tf.shape(logits)[-1], tf.float32)
        probs = tf.nn.softmax(logits)
        normalizer = log_normalizer(tf.reduce_max(logits, -1), tf.reduce_max(probs, -1))
        label_logit = tf.gather(logits, labels, batch_dims=2)
        token_loss = normalizer - (1.0 - e) * label_logit
        if e:
            token_loss -= e / vocabulary_size * tf.reduce_sum(logits, -1)
        value = tf.reduce_sum(share * token_loss)

        def grad(upstream):
            weight = upstream * share  # (batch, tgt_len)
            shifted = probs - e / vocabulary_size if e else probs
            d = shifted * weight[..., None]
            d = tf.reshape(d, [-1, tf.shape(logits)[-1]])
            d = tf.tensor_scatter_nd_sub(d, label_at, (1.0 - e) * tf.reshape(weight, [-1]))
            return tf.reshape(d, tf.shape(logits))

        return value, grad

    return loss(logits)
