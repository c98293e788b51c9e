"""The custom layers' configs: each rebuilt from its serialised config, with the original's
weights copied, gives the original's outputs on a fixed input."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import keras_round_trip

from nmt.layers import Decoder, Encoder, LuongAttention

BATCH, SRC, TGT, EMB, HID = 2, 5, 3, 8, 12


def fixed(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


SRC_MASK = np.array([[True] * SRC, [True] * 3 + [False] * (SRC - 3)])  # the second is padded


def assert_same(a, b) -> None:
    """Equal nests of tensors (None where the layer returns None)."""
    flat_a, flat_b = keras.tree.flatten(a), keras.tree.flatten(b)
    assert len(flat_a) == len(flat_b)
    for x, y in zip(flat_a, flat_b):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y))


def cloned(layer, call):
    """``layer`` round-tripped through its config, built by ``call`` and given its weights."""
    clone = keras_round_trip(layer)
    call(clone)
    assert len(clone.weights) == len(layer.weights)
    clone.set_weights(layer.get_weights())
    return clone


@pytest.mark.parametrize("layers, bidirectional", [(2, True), (1, False)])
def test_encoder_round_trip(layers, bidirectional):
    encoder = Encoder(HID, layers, bidirectional, dropout=0.3, name="encoder")
    inputs = fixed(BATCH, SRC, EMB)

    def call(layer):
        return layer(inputs, mask=SRC_MASK, training=False)

    want = call(encoder)
    assert_same(call(cloned(encoder, call)), want)


@pytest.mark.parametrize("score", ["dot", "general"])
def test_luong_attention_round_trip(score):
    attention = LuongAttention(HID, EMB, score=score, name="attention")
    query, memory = fixed(BATCH, TGT, HID, seed=1), fixed(BATCH, SRC, HID, seed=2)

    def call(layer):
        return layer(query, memory, SRC_MASK)

    want = call(attention)
    assert_same(call(cloned(attention, call)), want)


@pytest.mark.parametrize("attention, layers", [("none", 1), ("dot", 2), ("general", 1)])
def test_decoder_round_trip(attention, layers):
    decoder = Decoder(HID, layers, attention, EMB, dropout=0.3, name="decoder")
    inputs, memory = fixed(BATCH, TGT, EMB, seed=3), fixed(BATCH, SRC, HID, seed=4)
    states = [
        [fixed(BATCH, HID, seed=5 + 2 * i), fixed(BATCH, HID, seed=6 + 2 * i)]
        for i in range(layers)
    ]
    tgt_mask = np.array([[True] * TGT, [True, True, False]])

    def call(layer):
        return layer(inputs, states, memory, SRC_MASK, mask=tgt_mask, training=False)

    want = call(decoder)
    clone = cloned(decoder, call)
    assert_same(call(clone), want)
    step = [inputs[:, 0], states, memory, SRC_MASK]
    assert_same(clone.step(*step), decoder.step(*step))  # the search's path, too
