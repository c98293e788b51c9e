"""A CPU training kernel for the model's Keras LSTM layers: the same weights and the same
function, computed in fewer, larger products.

Keras' LSTM off the GPU steps its cell once per position, with the input product inside the
loop, and differentiates that loop op by op: four products and a mask selection per position
backward. Here the input product of all positions is one matrix product before the loop, the
loop keeps only ``h @ recurrent_kernel``, one sigmoid covers the four gates, and a hand-written
gradient runs one product per position backward, leaving the weight gradients to three large
products after it.

Only training on a CPU uses it (``use_cpu_kernel``); on a GPU the layers keep the cuDNN kernel
(docs/DESIGN.md), and search steps the cells itself. ``tests/test_cpu_lstm.py`` checks outputs,
states and every gradient against the Keras layers.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from nmt.env import has_gpu


def use_cpu_kernel(enabled: bool) -> bool:
    """Whether training runs the LSTMs through this module: ``enabled`` (``train.cpu_lstm``),
    the TensorFlow backend, and no GPU (where cuDNN is the kernel)."""
    return enabled and keras.backend.backend() == "tensorflow" and not has_gpu()


def run_lstm(layer: keras.layers.LSTM, x, mask, initial_state=None):
    """``layer``'s masked sequence computation, as ``layer(x, mask=mask,
    initial_state=initial_state)`` returns it off the GPU: outputs ``(batch, time, units)`` (a
    masked position repeats the last output), last ``h`` and ``c`` ``(batch, units)``. ``x``
    ``(batch, time, dim)``, ``mask`` ``(batch, time)`` bool or None; honours
    ``layer.go_backwards`` (outputs stay in input order, as ``Bidirectional`` aligns them)."""
    cell = layer.cell
    dtype = x.dtype
    batch = tf.shape(x)[0]
    if initial_state is None:
        zeros = tf.zeros((batch, cell.units), dtype)
        initial_state = [zeros, zeros]
    if mask is None:
        mask = tf.ones(tf.shape(x)[:2], tf.bool)
    outputs, h, c = _lstm(
        layer.path.replace("/", "."),
        x,
        tf.cast(mask, tf.bool),
        tf.cast(initial_state[0], dtype),
        tf.cast(initial_state[1], dtype),
        tf.cast(cell.kernel, dtype),
        tf.cast(cell.recurrent_kernel, dtype),
        tf.cast(cell.bias, dtype),
        layer.go_backwards,
    )
    return outputs, h, c


def cell_forward(pre, h, c, y, m):
    """One position's gate arithmetic: the new ``h``, ``c`` and output ``y`` (a masked row keeps
    the old ones), with the gate activations ``a`` (B, 4H) and ``tanh(c_new)`` (B, H) that the
    backward pass reuses. ``pre`` (B, 4H): the scaled pre-activations; ``m`` (B, 1) bool."""
    a = tf.sigmoid(pre)
    i, f, a_c, o = tf.split(a, 4, axis=-1)
    c_new = f * c + i * (2.0 * a_c - 1.0)
    tanh_c = tf.tanh(c_new)
    h_new = o * tanh_c
    return tf.where(m, h_new, h), tf.where(m, c_new, c), tf.where(m, h_new, y), a, tanh_c


def cell_backward(a, tanh_c, c_prev, m, dh, dc, dy):
    """One position's gradient through the gate arithmetic: ``dz`` (B, 4H), the scaled
    pre-activations' gradient; the part of ``dh`` a masked row passes by; ``dc`` and the output
    gradient ``dy`` for the position before. ``dy`` here already holds this position's output
    gradient."""
    zero = tf.zeros((), a.dtype)
    i, f, a_c, o = tf.split(a, 4, axis=-1)
    dh_new = tf.where(m, dh + dy, zero)
    dc_new = tf.where(m, dc, zero) + dh_new * o * (1.0 - tf.square(tanh_c))
    d_a = tf.concat(
        [dc_new * (2.0 * a_c - 1.0), dc_new * c_prev, 2.0 * dc_new * i, dh_new * tanh_c], -1
    )
    dz = d_a * a * (1.0 - a)
    return dz, tf.where(m, zero, dh), dc_new * f + tf.where(m, zero, dc), tf.where(m, zero, dy)


def _lstm(scope: str, x, mask, h0, c0, kernel, recurrent_kernel, bias, reverse: bool):
    # named after the layer, so that profiles (bench/train_profile.py) tell the layers apart
    @tf.custom_gradient
    def forward(x, mask, h0, c0, kernel, recurrent_kernel, bias):
        """Shapes: x (B, T, D), mask (B, T) bool, h0 c0 (B, H), kernel (D, 4H), recurrent (H, 4H),
        bias (4H,)."""
        with tf.name_scope(scope):
            return _forward(x, mask, h0, c0, kernel, recurrent_kernel, bias)

    def _forward(x, mask, h0, c0, kernel, recurrent_kernel, bias):
        steps = tf.shape(x)[1]
        # tanh(z) = 2 sigmoid(2 z) - 1: with the cell-input gate's columns doubled, one sigmoid
        # covers all four gates, and its derivative a (1 - a) all four pre-activations
        units = tf.shape(recurrent_kernel)[0]
        scale = tf.concat([tf.ones([2 * units], x.dtype), tf.fill([units], tf.cast(2, x.dtype)),
                           tf.ones([units], x.dtype)], 0)
        kernel_s, recurrent_s, bias_s = kernel * scale, recurrent_kernel * scale, bias * scale
        x_t = tf.transpose(x, (1, 0, 2))  # (T, B, D)
        m_t = tf.transpose(mask)[:, :, None]  # (T, B, 1) bool
        projected = tf.einsum("tbd,dg->tbg", x_t, kernel_s) + bias_s  # (T, B, 4H)
        order = tf.range(steps - 1, -1, -1) if reverse else tf.range(steps)

        def array():
            return tf.TensorArray(x.dtype, size=steps)

        def step(s, h, c, y, outs, gates_a, c_prev_a, tanh_a, h_prev_a):
            t = order[s]
            pre = projected[t] + tf.matmul(h, recurrent_s)
            h_next, c_next, y, a, tanh_c = cell_forward(pre, h, c, y, m_t[t])
            return (
                s + 1,
                h_next,
                c_next,
                y,
                outs.write(t, y),
                gates_a.write(t, a),
                c_prev_a.write(t, c),
                tanh_a.write(t, tanh_c),
                h_prev_a.write(t, h),
            )

        _, h, c, _, outs, gates_a, c_prev_a, tanh_a, h_prev_a = tf.while_loop(
            lambda s, *_: s < steps,
            step,
            (tf.constant(0), h0, c0, tf.zeros_like(h0), array(), array(), array(), array(),
             array()),
        )
        outputs = tf.transpose(outs.stack(), (1, 0, 2))
        gates, c_prev, tanh_c, h_prev = (
            gates_a.stack(), c_prev_a.stack(), tanh_a.stack(), h_prev_a.stack()
        )

        def grad(d_outputs, d_h, d_c):
            with tf.name_scope(scope + ".grad"):
                return _grad(d_outputs, d_h, d_c)

        def _grad(d_outputs, d_h, d_c):
            d_h = tf.zeros_like(h0) if d_h is None else d_h
            d_c = tf.zeros_like(c0) if d_c is None else d_c
            d_out_t = tf.transpose(d_outputs, (1, 0, 2))  # (T, B, H)
            backward = tf.reverse(order, [0])

            def back(s, dh, dc, dy, dz_a):
                t = backward[s]
                dz, dh_kept, dc_prev, dy = cell_backward(
                    gates[t], tanh_c[t], c_prev[t], m_t[t], dh, dc, dy + d_out_t[t]
                )
                dh_prev = tf.matmul(dz, recurrent_s, transpose_b=True) + dh_kept
                return s + 1, dh_prev, dc_prev, dy, dz_a.write(t, dz)

            _, dh0, dc0, _, dz_a = tf.while_loop(
                lambda s, *_: s < steps,
                back,
                (tf.constant(0), d_h, d_c, tf.zeros_like(d_h), array()),
            )
            dz = dz_a.stack()  # (T, B, 4H)
            # the weights entered scaled: their gradients are the scaled ones' times the scale
            d_x = tf.transpose(tf.einsum("tbg,dg->tbd", dz, kernel_s), (1, 0, 2))
            d_kernel = tf.einsum("tbd,tbg->dg", x_t, dz) * scale
            d_recurrent = tf.einsum("tbh,tbg->hg", h_prev, dz) * scale
            d_bias = tf.reduce_sum(dz, axis=(0, 1)) * scale
            return d_x, None, dh0, dc0, d_kernel, d_recurrent, d_bias

        return (outputs, h, c), grad

    return forward(x, mask, h0, c0, kernel, recurrent_kernel, bias)
