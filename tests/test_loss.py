"""The label-smoothed loss: its values, and its hand-written gradient against autodiff of the
textbook formula."""

import numpy as np
import pytest
import tensorflow as tf

from nmt.loss import smoothed_cross_entropy


def test_label_smoothed_loss_ignores_padding():
    logits = np.log(np.array([[[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]]], "float32"))
    labels = np.array([[1, 0]])  # the second position is padding
    # position 0: label 1 has p=0.1 -> NLL = -log 0.1
    plain = float(smoothed_cross_entropy(labels, logits, 0.0))
    assert plain == pytest.approx(-np.log(0.1), rel=1e-5)
    smooth = float(smoothed_cross_entropy(labels, logits, 0.2))
    expected = 0.8 * -np.log(0.1) + 0.2 * -np.mean(np.log([0.7, 0.1, 0.1, 0.1]))
    assert smooth == pytest.approx(expected, rel=1e-5)


def textbook(labels, logits, e):
    """Autodiff's version: log-softmax, the label's entry, the uniform term, a masked mean."""
    log_probs = tf.nn.log_softmax(logits)
    nll = -tf.gather(log_probs, labels, batch_dims=2)
    uniform = -tf.reduce_mean(log_probs, -1)
    mask = tf.cast(labels != 0, tf.float32)
    return tf.reduce_sum(((1 - e) * nll + e * uniform) * mask) / tf.reduce_sum(mask)


@pytest.mark.parametrize("e", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("jit", [False, True])
def test_loss_and_gradient_equal_the_textbook_formula(e, jit):
    rng = np.random.default_rng(0)
    # large logits too: a normaliser from exp() of them would overflow without the shift
    shift = np.array([0.0, 90.0, -50.0], "float32")[:, None, None]
    logits = tf.constant(rng.normal(0, 4, (3, 5, 37)).astype("float32") + shift)
    labels = rng.integers(1, 37, (3, 5))
    labels[0, 3:] = 0
    labels[2, 1:] = 0
    labels = tf.constant(labels)

    def value_and_grad(fn):
        @tf.function(jit_compile=jit)
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = 2.5 * fn(labels, x, e)  # an upstream gradient other than 1
            return loss, tape.gradient(loss, x)

        return run(logits)

    loss, grad = value_and_grad(smoothed_cross_entropy)
    want_loss, want_grad = value_and_grad(textbook)
    assert float(loss) == pytest.approx(float(want_loss), rel=1e-5)
    np.testing.assert_allclose(grad.numpy(), want_grad.numpy(), atol=1e-6)
    assert np.all(grad.numpy()[0, 3:] == 0) and np.all(grad.numpy()[2, 1:] == 0)  # padding
