"""The NumPy twin of the model and the search (first small requests) against the real ones."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nmt.config import DecodeConfig, ModelConfig
from nmt.model import build_model
from nmt.numpy_decode import NumpySeq2Seq
from nmt.tokenizer import EOS_ID
from nmt.translator import Translator
from nmt.weights import from_model

SHAPES = [  # attention, (encoder, decoder) layers, bidirectional, tied output embeddings
    ("dot", (2, 1), True, True),
    ("general", (1, 2), False, False),
    ("none", (2, 2), True, True),
]


def small_model(attention, layers, bidirectional, tie, seed=0):
    """A random model whose output distributions are peaked (few near-ties between beams)
    and that never emits padding, unknown or BOS."""
    config = ModelConfig(
        embedding_dim=16, hidden_dim=24, encoder_layers=layers[0], decoder_layers=layers[1],
        bidirectional=bidirectional, attention=attention, tie_embeddings=tie, dropout=0.1,
    )  # fmt: skip
    model = build_model(config, 50, 60)
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.6, size=weight.shape).astype("float32"))
    bias = model.output_bias if tie else model.output_projection.bias
    special = np.zeros(60, np.float32)
    special[:3] = -30.0  # like a trained model, never padding, unknown or BOS
    bias.assign(bias.numpy() + special)
    return model


@pytest.mark.parametrize("attention, layers, bidirectional, tie", SHAPES)
def test_numpy_twin_computes_what_encode_and_decode_step_compute(
    attention, layers, bidirectional, tie
):
    model = small_model(attention, layers, bidirectional, tie)
    twin = NumpySeq2Seq(from_model(model))
    ids = [5, 6, 7, 8, 9]
    memory, mask, states = model.encode(tf.constant([ids], tf.int32))
    np_memory, np_states = twin.encode(ids)
    np.testing.assert_allclose(np_memory, memory[0].numpy(), atol=1e-5)
    for (h, c), (np_h, np_c) in zip(states, np_states):
        np.testing.assert_allclose(np_h, h.numpy(), atol=1e-5)
        np.testing.assert_allclose(np_c, c.numpy(), atol=1e-5)
    rng = np.random.default_rng(1)
    beams = [[rng.normal(size=(3, 24)).astype("float32") for _ in range(2)] for _ in states]
    tokens = np.array([11, 12, 13], np.int32)  # three beams of the one sentence
    logits, new_states, _ = model.decode_step(
        tf.constant(tokens), [[tf.constant(x) for x in layer] for layer in beams], memory, mask,
        normalize=False,
    )  # fmt: skip
    np_logits, np_new_states = twin.step(tokens, beams, np_memory)
    np.testing.assert_allclose(np_logits, logits.numpy(), atol=1e-4)
    for layer, np_layer in zip(new_states, np_new_states):
        for x, np_x in zip(layer, np_layer):
            np.testing.assert_allclose(np_x, x.numpy(), atol=1e-5)


SETTINGS = [  # beam size, pruning margin, stopping
    (1, 0.0, "heuristic"),
    (3, 0.0, "heuristic"),
    (4, 0.5, "heuristic"),
    (3, 0.0, "exact"),
]


def assert_same_search(translator: Translator, sources: list[list[int]]):
    """For every setting, each sentence alone in NumPy finds what the TensorFlow search finds
    for the whole batch: the same tokens, the same scores."""
    width = max(len(s) for s in sources)
    batch = tf.constant([s + [0] * (width - len(s)) for s in sources], tf.int32)
    executor = translator.executor
    for beam, prune, stopping in SETTINGS:
        settings = translator.settings(beam_size=beam, beam_prune=prune, stopping=stopping).search
        want = executor.eager_search(batch, settings)
        for row, ids in enumerate(sources):
            got = executor.numpy_search(tf.constant([ids], tf.int32), settings)
            want_tokens = want.tokens[row, 0].numpy().tolist()
            got_tokens = got.tokens[0, 0].tolist()
            cut = want_tokens.index(EOS_ID) if EOS_ID in want_tokens else len(want_tokens)
            assert got_tokens == want_tokens[:cut] + [EOS_ID], (beam, prune, stopping, row)
            np.testing.assert_allclose(got.scores[0, 0], want.scores[row, 0], atol=1e-4)
            np.testing.assert_allclose(got.log_probs[0, 0], want.log_probs[row, 0], atol=1e-4)


def test_numpy_search_finds_what_the_search_finds_on_a_trained_model(trained_run):
    translator = Translator.from_checkpoint(trained_run)
    texts = ["alpha bravo charlie", "kilo lima golf echo", "india", "delta echo foxtrot golf"]
    assert_same_search(translator, translator.encode_sources(texts))


@pytest.mark.parametrize("attention, layers, bidirectional, tie", SHAPES)
def test_numpy_search_finds_what_the_search_finds_on_random_models(
    attention, layers, bidirectional, tie
):
    model = small_model(attention, layers, bidirectional, tie, seed=3)
    decode = DecodeConfig(max_length_a=1.0, max_length_b=3)
    translator = Translator(model, None, None, decode, frozen=True)
    rng = np.random.default_rng(4)
    assert_same_search(translator, [rng.integers(4, 50, size=n).tolist() for n in (1, 3, 6)])
