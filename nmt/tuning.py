"""Choices between equivalent computations that only a measurement on this machine can make."""

from __future__ import annotations

import time

import tensorflow as tf

TUNE_ROWS = 256  # about a greedy batch's mean rows per step (Tatoeba test split: 198)


def transposed_product_is_faster(kernel, rows: int = TUNE_ROWS, repeats: int = 5) -> bool:
    """Whether ``h @ kernel`` (``kernel`` ``(..., units, n)``, ``h`` ``(..., rows, units)``)
    runs clearly faster (by a tenth) as a product with the kernel's last two axes swapped,
    flagged ``transpose_b``.

    The answer depends on the math library, not the model: with oneDNN on a 2-core AVX2 CPU a
    512 x 2048 recurrent kernel took 18-20 us per row that way against 29-32 for the plain
    product at 128-256 rows (the same from 512 rows on); TensorFlow's own Eigen kernels ran it
    twice as slowly. Timed here, interleaved, the best of ``repeats`` runs of each.
    """
    kernel = tf.convert_to_tensor(kernel, tf.float32)
    transposed = tf.identity(tf.linalg.matrix_transpose(kernel))  # a contiguous copy
    shape = list(kernel.shape[:-2]) + [rows, kernel.shape[-2]]
    h = tf.random.stateless_normal(shape, seed=(1, 2))
    plain = lambda: tf.linalg.matmul(h, kernel)  # noqa: E731
    flagged = lambda: tf.linalg.matmul(h, transposed, transpose_b=True)  # noqa: E731
    best = {plain: float("inf"), flagged: float("inf")}
    for _ in range(repeats + 1):  # the first round only warms up
        for product in best:
            start = time.perf_counter()
            product().numpy()
            best[product] = min(best[product], time.perf_counter() - start)
    return best[flagged] < 0.9 * best[plain]
