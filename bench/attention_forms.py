#!/usr/bin/env python3
"""The decoding step's attention two ways, each alone in a ``tf.function``: batched matrix
products (as ``nmt.layers.LuongAttention.attend``) against a broadcast multiply and sum.
Microseconds per call, the forms alternated round by round, printed as JSON.

    python bench/attention_forms.py --sentences 16 --beams 5 --src-len 12 --hidden 384
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
    args = parser.parse_args(argv)

    import tensorflow as tf

    query = tf.random.normal([args.sentences, args.beams, args.hidden])  # (sentences, beams, h)
    memory = tf.random.normal([args.sentences, args.src_len, args.hidden])  # (sentences, src, h)

    @tf.function
    def products(query, memory):
        weights = tf.nn.softmax(tf.matmul(query, memory, transpose_b=True))
        return tf.matmul(weights, memory)

    @tf.function
    def multiply_sum(query, memory):
        weights = tf.nn.softmax(tf.reduce_sum(query[:, :, None] * memory[:, None], -1))
        return tf.reduce_sum(weights[..., None] * memory[:, None], 2)

    forms = {"batched_products": products, "multiply_sum": multiply_sum}
    difference = tf.reduce_max(tf.abs(products(query, memory) - multiply_sum(query, memory)))
    times: dict[str, list[float]] = {name: [] for name in forms}
    for _ in range(args.rounds):
        for name, form in forms.items():
            form(query, memory)
            start = time.perf_counter()
            for _ in range(args.calls):
                form(query, memory)
            times[name].append(round((time.perf_counter() - start) / args.calls * 1e6, 1))
    print(json.dumps({**vars(args), "max_difference": float(difference), "us_per_call": times}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
