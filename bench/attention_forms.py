#!/usr/bin/env python3
"""The decoding step's attention three ways, each alone in a ``tf.function``: batched matrix
products (as ``nmt.layers.LuongAttention.attend``), a broadcast multiply and sum, and one
block-diagonal 2-D product over every sentence's memory (other sentences' entries masked).
Microseconds per call, the forms alternated round by round, printed as JSON. ``--loop N`` runs
each form N times inside one ``tf.while_loop`` per call, so that Python's call is not timed.

    python bench/attention_forms.py --sentences 16 --beams 5 --src-len 12 --hidden 384
    python bench/attention_forms.py --loop 200 --calls 5
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=16)
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--src-len", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", type=int, default=1, help="attentions per call, in a loop")
    args = parser.parse_args(argv)

    import tensorflow as tf

    query = tf.random.normal([args.sentences, args.beams, args.hidden])  # (sentences, beams, h)
    memory = tf.random.normal([args.sentences, args.src_len, args.hidden])  # (sentences, src, h)

    def products(query, memory):
        weights = tf.nn.softmax(tf.matmul(query, memory, transpose_b=True))
        return tf.matmul(weights, memory)

    def multiply_sum(query, memory):
        weights = tf.nn.softmax(tf.reduce_sum(query[:, :, None] * memory[:, None], -1))
        return tf.reduce_sum(weights[..., None] * memory[:, None], 2)

    def block_diagonal(query, memory):
        sentences, beams, src_len = tf.shape(query)[0], tf.shape(query)[1], tf.shape(memory)[1]
        flat_memory = tf.reshape(memory, [-1, args.hidden])  # (sentences * src_len, h)
        scores = tf.matmul(tf.reshape(query, [-1, args.hidden]), flat_memory, transpose_b=True)
        own = tf.equal(
            (tf.range(sentences * beams) // beams)[:, None],
            (tf.range(sentences * src_len) // src_len)[None, :],
        )
        weights = tf.nn.softmax(tf.where(own, scores, -1e9))
        return tf.reshape(tf.matmul(weights, flat_memory), tf.shape(query))

    def compiled(form):
        if args.loop == 1:
            return tf.function(form)

        @tf.function
        def looped(query, memory):
            def body(i, total):  # each round reads the last, so none is left out
                return i + 1, total + form(query + 1e-9 * total, memory)

            start = (tf.constant(0), tf.zeros_like(query))
            return tf.while_loop(lambda i, _: i < args.loop, body, start)[1]

        return looped

    plain = {"batched_products": products, "multiply_sum": multiply_sum,
             "block_diagonal": block_diagonal}  # fmt: skip
    forms = {name: compiled(form) for name, form in plain.items()}
    reference = products(query, memory)
    difference = max(
        float(tf.reduce_max(tf.abs(reference - form(query, memory)))) for form in plain.values()
    )
    times: dict[str, list[float]] = {name: [] for name in forms}
    for _ in range(args.rounds):
        for name, form in forms.items():
            form(query, memory)
            start = time.perf_counter()
            for _ in range(args.calls):
                form(query, memory)
            seconds = (time.perf_counter() - start) / args.calls / args.loop
            times[name].append(round(seconds * 1e6, 1))
    print(json.dumps({**vars(args), "max_difference": difference, "us_per_call": times}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
