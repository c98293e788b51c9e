"""The packed encoder gives the Keras encoder's results while skipping the padding."""

import numpy as np
import pytest
import tensorflow as tf

from nmt.config import ModelConfig
from nmt.model import build_model
from nmt.packed import encode_packed, packing

SMALL = dict(embedding_dim=16, hidden_dim=24, dropout=0.1)


def ragged_batch(rng, rows: int, longest: int, vocabulary_size: int) -> np.ndarray:
    """Right-padded ids in no particular length order, with ties and one length-1 row."""
    lengths = rng.integers(1, longest + 1, size=rows)
    lengths[0], lengths[-1] = 1, longest
    lengths[1] = lengths[2]
    src = np.zeros((rows, longest), np.int32)
    for i, n in enumerate(lengths):
        src[i, :n] = rng.integers(3, vocabulary_size, size=n)
    return src


def assert_same_encoding(model, src):
    memory, mask, states = model.encode(src)
    packed_memory, packed_mask, packed_states = encode_packed(model, tf.constant(src))
    real = src != 0
    np.testing.assert_array_equal(np.asarray(packed_mask), real)
    np.testing.assert_allclose(np.asarray(packed_memory)[real], np.asarray(memory)[real], atol=1e-5)
    assert not np.asarray(packed_memory)[~real].any()  # padding positions hold zeros
    assert len(packed_states) == len(states)
    for (h, c), (packed_h, packed_c) in zip(states, packed_states):
        np.testing.assert_allclose(np.asarray(packed_h), np.asarray(h), atol=1e-5)
        np.testing.assert_allclose(np.asarray(packed_c), np.asarray(c), atol=1e-5)


@pytest.mark.parametrize("layers, bidirectional", [(2, True), (1, True), (1, False), (3, False)])
def test_packed_encoder_matches_the_keras_encoder(layers, bidirectional):
    model = build_model(
        ModelConfig(encoder_layers=layers, decoder_layers=1, bidirectional=bidirectional, **SMALL),
        50,
        60,
    )
    rng = np.random.default_rng(layers)
    assert_same_encoding(model, ragged_batch(rng, rows=9, longest=7, vocabulary_size=50))


def test_packed_encoder_in_a_graph_and_for_one_row():
    model = build_model(ModelConfig(encoder_layers=2, decoder_layers=2, **SMALL), 50, 60)
    src = ragged_batch(np.random.default_rng(3), rows=6, longest=5, vocabulary_size=50)
    encode = tf.function(lambda s: encode_packed(model, s), autograph=False)
    eager = encode_packed(model, tf.constant(src))
    graph = encode(tf.constant(src))
    np.testing.assert_allclose(np.asarray(graph[0]), np.asarray(eager[0]), atol=1e-6)
    assert_same_encoding(model, src[:1])  # a single one-piece sentence
    assert_same_encoding(model, np.array([[4, 5, 6, 7]], np.int32))  # no padding at all


def test_packing_layout():
    pack = packing(tf.constant([2, 3, 1]), tf.constant(3))
    # sorted rows: batch rows 1 (3 pieces), 0 (2), 2 (1); packed time-major
    assert pack.order.numpy().tolist() == [1, 0, 2]
    assert pack.counts.numpy().tolist() == [3, 2, 1]
    assert pack.offsets.numpy().tolist() == [0, 3, 5]
    assert list(zip(pack.time.numpy(), pack.row.numpy())) == [
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)
    ]  # fmt: skip
    # mirrored within each row's length: sorted row 0 has pieces 0,3,5; row 1 has 1,4; row 2: 2
    assert pack.reverse.numpy().tolist() == [5, 4, 2, 3, 1, 0]
    assert pack.end_rows.numpy().tolist() == [2, 1, 0]  # the order rows finish


def test_translator_output_is_the_same_packed_or_not(monkeypatch):
    """Greedy and beam translations through the search agree with the Keras encoder's."""
    from nmt import executor
    from nmt.config import Config, DecodeConfig
    from nmt.translator import Translator

    model = build_model(ModelConfig(**SMALL), 50, 60)

    class Ids:  # a stand-in tokenizer: text is space-separated ids
        def encode(self, texts):
            return [[int(x) for x in t.split()] for t in texts]

        def decode(self, seqs):
            return [" ".join(map(str, s)) for s in seqs]

        def pieces(self, ids):
            return [str(i) for i in ids]

    texts = ["5 6 7", "8", "9 10 11 12 13 14", "", "15 16"]
    config = Config()
    results = {}
    used = []  # which encoder each search ran or traced
    keras_encode = model.encode
    model.encode = lambda src: used.append("encode") or keras_encode(src)
    monkeypatch.setattr(
        executor,
        "encode_packed",
        lambda m, src: used.append("encode_packed") or encode_packed(m, src),
    )
    for packed in (True, False):  # each translator compiles its own searches
        decode = DecodeConfig(max_length_b=4)
        translator = Translator(model, Ids(), Ids(), decode, config=config, packed=packed)
        used.clear()
        for _ in range(2):  # the first request runs eagerly, the second compiles the graph
            results[packed] = [
                [(h.tokens, h.log_prob) for h in hyps]
                for beam in (1, 3)
                for hyps in translator.translate_detailed(texts, beam_size=beam, n_best=2)
            ]
        assert set(used) == {"encode_packed" if packed else "encode"}
        assert len(used) == 4  # eager and traced, at beam 1 and beam 3
    tokens = {k: [[t for t, _ in hyps] for hyps in v] for k, v in results.items()}
    assert tokens[True] == tokens[False]
    for a, b in zip(results[True], results[False]):
        np.testing.assert_allclose([p for _, p in a], [p for _, p in b], atol=1e-3)
