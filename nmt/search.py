"""Search strategies over a step function; they know nothing of the model's insides.

A step function has the signature ``step_fn(tokens, states, context) -> (log_probs, states,
attention)``: ``tokens`` ``(batch,)`` int32, ``states`` any nest of ``(batch, ...)`` tensors,
``context`` a nest of ``(batch, ...)`` tensors that never change during search (the encoder
memory), ``log_probs`` ``(batch, vocab)``, ``attention`` ``(batch, src_len)`` or None.
All functions here are traceable inside ``tf.function``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf

StepFn = Callable[[tf.Tensor, Any, Any], tuple[tf.Tensor, Any, Any]]


class SearchResult(NamedTuple):
    """``tokens`` ``(batch, n_best, length)`` padded with 0 after EOS; ``scores``
    ``(batch, n_best)`` (length-normalised for beam search); ``log_probs`` ``(batch, n_best)``;
    ``attention`` ``(batch, n_best, length, src_len)`` or an empty tensor."""

    tokens: tf.Tensor
    scores: tf.Tensor
    log_probs: tf.Tensor
    attention: tf.Tensor


def greedy_search(
    step_fn: StepFn,
    states: Any,
    context: Any,
    max_lengths: tf.Tensor,
    bos_id: int,
    eos_id: int,
    pad_id: int = 0,
    src_len: tf.Tensor | None = None,
) -> SearchResult:
    """Pick the most likely token at each step until every sentence has emitted EOS.

    ``max_lengths`` ``(batch,)``: a sentence that reaches its limit is given EOS. With ``src_len``
    set, attention weights are collected.
    """
    batch = tf.shape(max_lengths)[0]
    limit = tf.reduce_max(max_lengths) + 1
    collect = src_len is not None
    tokens = tf.fill([batch], tf.constant(bos_id, tf.int32))
    finished = tf.zeros([batch], tf.bool)
    total = tf.zeros([batch], tf.float32)
    out = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    attn = tf.TensorArray(tf.float32, size=0, dynamic_size=True)

    def cond(t, tokens, states, finished, total, out, attn):
        return tf.logical_and(t < limit, tf.logical_not(tf.reduce_all(finished)))

    def body(t, tokens, states, finished, total, out, attn):
        log_probs, states, weights = step_fn(tokens, states, context)
        log_probs = tf.cast(log_probs, tf.float32)
        best = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        best = tf.where(t >= max_lengths, eos_id, best)
        step_score = tf.gather(log_probs, best, batch_dims=1)
        total = total + tf.where(finished, 0.0, step_score)
        best = tf.where(finished, pad_id, best)
        out = out.write(t, best)
        if collect:
            attn = attn.write(t, tf.cast(weights, tf.float32))
        finished = tf.logical_or(finished, tf.equal(best, eos_id))
        return t + 1, best, states, finished, total, out, attn

    _, _, _, _, total, out, attn = tf.while_loop(
        cond,
        body,
        (tf.constant(0), tokens, states, finished, total, out, attn),
        maximum_iterations=limit,
    )
    result = tf.transpose(out.stack(), [1, 0])[:, None, :]  # (batch, 1, length)
    attention = (
        tf.transpose(attn.stack(), [1, 0, 2])[:, None] if collect else tf.zeros([0], tf.float32)
    )
    return SearchResult(result, total[:, None], total[:, None], attention)
