"""nmt.cpu_lstm against the Keras layers whose weights it runs: outputs, final states and every
gradient, per layer and through a whole model's training loss; and who uses it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nmt.config import ModelConfig, load_config
from nmt.cpu_lstm import run_lstm, use_cpu_kernel
from nmt.env import has_gpu
from nmt.model import build_model
from nmt.training import compile_model

RNG = np.random.default_rng(0)


def _random(*shape):
    return tf.constant(RNG.normal(size=shape).astype("float32"))


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("initial", [False, True])
def test_outputs_states_and_gradients_equal_the_keras_layer(go_backwards, initial):
    batch, time, dim, units = 5, 7, 6, 4
    x = _random(batch, time, dim)
    mask = tf.sequence_mask([7, 3, 5, 1, 6], time)  # right padding, one full row
    states = [_random(batch, units), _random(batch, units)] if initial else None
    layer = keras.layers.LSTM(
        units, return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    layer.build((None, None, dim))
    weights = _random(batch, time, units)
    results = {}
    for name in ("keras", "cpu"):
        with tf.GradientTape() as tape:
            watched = [x] + (states or [])
            tape.watch(watched)
            if name == "keras":
                out, h, c = layer(x, mask=mask, initial_state=states)
                if go_backwards:  # Bidirectional puts the backward outputs in input order
                    out = tf.reverse(out, [1])
            else:
                out, h, c = run_lstm(layer, x, mask, states)
            loss = tf.reduce_sum(out * weights) + tf.reduce_sum(h * h) + tf.reduce_sum(c**3)
        grads = tape.gradient(loss, watched + layer.weights)
        results[name] = [out, h, c] + grads
    assert len(results["cpu"]) == len(results["keras"])
    for ours, theirs in zip(results["cpu"], results["keras"]):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=2e-5, rtol=1e-5)


def test_a_training_step_equals_the_keras_layers():
    """The same batch through a bidirectional 2-layer encoder and a 2-layer decoder with each
    kernel: the same loss and the same gradient for every weight."""
    config = ModelConfig(
        embedding_dim=16, hidden_dim=24, encoder_layers=2, decoder_layers=2, dropout=0.0
    )
    model = build_model(config, 50, 60, label_smoothing=0.1)
    src = np.array([[5, 6, 7, 8, 0], [9, 10, 0, 0, 0], [11, 12, 13, 14, 15]], "int32")
    tgt = np.array([[2, 16, 17, 0], [2, 18, 19, 20], [2, 21, 0, 0]], "int32")
    labels = np.array([[16, 17, 3, 0], [18, 19, 20, 3], [21, 3, 0, 0]], "int32")
    inputs = {"encoder_inputs": src, "decoder_inputs": tgt}
    results = {}
    for enabled in (False, True):
        model.use_cpu_lstm(enabled)
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            loss = model.compute_loss(y=labels, y_pred=logits)
        grads = tape.gradient(loss, model.trainable_weights)
        results[enabled] = [loss] + [tf.convert_to_tensor(g) for g in grads]
    for ours, theirs in zip(results[True], results[False]):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=1e-5, rtol=1e-4)


def test_training_uses_it_on_a_cpu_and_inference_does_not(monkeypatch):
    import nmt.layers

    calls = []
    real = nmt.layers.run_lstm
    monkeypatch.setattr(nmt.layers, "run_lstm", lambda *a: calls.append(1) or real(*a))
    small = ["model.embedding_dim=16", "model.hidden_dim=24"]
    model = build_model(load_config(None, small).model, 50, 60)
    compile_model(model, load_config(None, small + ["train.cpu_lstm=false"]))
    assert not model.encoder.cpu_lstm and not model.decoder.cpu_lstm
    compile_model(model, load_config(None, small))
    on_cpu = not has_gpu()  # a GPU keeps cuDNN
    assert model.encoder.cpu_lstm == on_cpu and model.decoder.cpu_lstm == on_cpu
    if not on_cpu:
        return
    assert not use_cpu_kernel(False)
    inputs = {"encoder_inputs": np.array([[5, 6, 0]], "int32"),
              "decoder_inputs": np.array([[2, 7]], "int32")}
    model(inputs, training=False)  # evaluation and search keep the Keras layers
    model.encode(inputs["encoder_inputs"])
    assert calls == []
    model(inputs, training=True)
    assert len(calls) == 2 * 2 + 1  # two bidirectional encoder layers, one decoder layer
