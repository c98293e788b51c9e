#!/usr/bin/env python3
"""``nmt.cpu_lstm`` with and without XLA fusing each position's gate arithmetic
(``cell_forward`` and ``cell_backward``, compiled with ``jit_compile=True``; the matrix products
stay with oneDNN). One masked LSTM layer's forward and backward pass, milliseconds per call, the
variants alternated round by round, printed as JSON.

    python bench/lstm_fusion.py --batch 64 --steps 14 --shapes 512x512,256x256
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def fused_cells(enabled: bool):
    """While tracing: ``nmt.cpu_lstm``'s cell functions compiled by XLA (when ``enabled``)."""
    import tensorflow as tf

    import nmt.cpu_lstm as cpu_lstm

    saved = cpu_lstm.cell_forward, cpu_lstm.cell_backward
    if enabled:
        cpu_lstm.cell_forward = tf.function(saved[0], jit_compile=True)
        cpu_lstm.cell_backward = tf.function(saved[1], jit_compile=True)
    try:
        yield
    finally:
        cpu_lstm.cell_forward, cpu_lstm.cell_backward = saved


def layer_pass(dtype, batch: int, steps: int, input_dim: int, units: int, fused: bool, seed=0):
    """A traced forward+backward of one layer: ``(function, its weight gradients)``."""
    import numpy as np
    import tensorflow as tf

    from nmt.cpu_lstm import _lstm

    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(batch, steps, input_dim)), dtype)
    lengths = rng.integers(steps // 2, steps + 1, size=batch)
    mask = tf.constant(np.arange(steps)[None] < lengths[:, None])
    weights = [
        tf.Variable(rng.normal(size=shape) * 0.05, dtype=tf.float32)
        for shape in ((input_dim, 4 * units), (units, 4 * units), (4 * units,))
    ]
    zeros = tf.zeros((batch, units), dtype)

    @tf.function
    def run():
        with tf.GradientTape() as tape:
            cast = [tf.cast(w, dtype) for w in weights]
            outputs, _, _ = _lstm("lstm", x, mask, zeros, zeros, *cast, False)
            loss = tf.reduce_sum(tf.square(tf.cast(outputs, tf.float32)))
        return tape.gradient(loss, weights)

    with fused_cells(fused):
        gradients = run()
    return run, gradients


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=14, help="sequence positions")
    parser.add_argument("--shapes", default="512x512,256x256", help="INPUTxUNITS, comma list")
    parser.add_argument("--dtypes", default="bfloat16,float32")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    results = []
    for dtype_name in args.dtypes.split(","):
        dtype = tf.as_dtype(dtype_name)
        for shape in args.shapes.split(","):
            input_dim, units = (int(v) for v in shape.split("x"))
            variants = {
                name: layer_pass(dtype, args.batch, args.steps, input_dim, units, fused)
                for name, fused in (("plain", False), ("xla_cells", True))
            }
            gap = max(
                float(tf.reduce_max(tf.abs(p - q)) / (tf.reduce_max(tf.abs(p)) + 1e-12))
                for p, q in zip(variants["plain"][1], variants["xla_cells"][1])
            )
            ms: dict[str, list[float]] = {name: [] for name in variants}
            for r in range(args.rounds):
                for name in list(variants) if r % 2 == 0 else list(variants)[::-1]:
                    run = variants[name][0]
                    start = time.perf_counter()
                    for _ in range(args.calls):
                        run()
                    ms[name].append((time.perf_counter() - start) / args.calls * 1000)
            ratio = np.exp(np.mean(np.log(np.array(ms["plain"]) / np.array(ms["xla_cells"]))))
            results.append({
                "dtype": dtype_name,
                "batch": args.batch,
                "steps": args.steps,
                "input_dim": input_dim,
                "units": units,
                "ms_per_call": {k: [round(v, 2) for v in vals] for k, vals in ms.items()},
                "speedup_xla_cells": round(float(ratio), 3),
                "max_relative_gradient_gap": float(f"{gap:.3g}"),
            })
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
