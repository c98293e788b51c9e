"""Model shapes, the cuDNN rule on every LSTM, masking, step decoding == teacher forcing, and
the config round trip."""

import keras
import numpy as np
import pytest
from conftest import keras_round_trip

from nmt.config import ModelConfig
from nmt.model import build_model

SMALL = dict(embedding_dim=16, hidden_dim=24, dropout=0.1)


def all_lstms(model):
    """Every LSTM layer inside the model, each once."""
    found = {}

    def visit(layer):
        if isinstance(layer, keras.layers.LSTM):
            found[id(layer)] = layer
        subs = list(getattr(layer, "_layers", []))
        subs += [getattr(layer, "forward_layer", None), getattr(layer, "backward_layer", None)]
        for sub in subs:
            if sub is not None:
                visit(sub)

    visit(model)
    return list(found.values())


@pytest.mark.parametrize(
    "attention, layers, bidirectional",
    [("dot", (2, 1), True), ("general", (1, 2), False), ("none", (2, 2), True)],
)
def test_every_lstm_keeps_the_cudnn_rule(attention, layers, bidirectional):
    config = ModelConfig(
        attention=attention,
        encoder_layers=layers[0],
        decoder_layers=layers[1],
        bidirectional=bidirectional,
        **SMALL,
    )
    model = build_model(config, 50, 60)
    lstms = all_lstms(model)
    expected = layers[0] * (2 if bidirectional else 1) + layers[1]
    assert len(lstms) == expected
    for lstm in lstms:
        cell = lstm.cell
        assert cell.activation is keras.activations.tanh
        assert cell.recurrent_activation is keras.activations.sigmoid
        assert cell.use_bias and not lstm.unroll
        assert cell.dropout == 0 and cell.recurrent_dropout == 0
        assert lstm.use_cudnn == "auto"  # never True: that raises on a CPU


def test_shapes_and_parameter_count():
    model = build_model(ModelConfig(**SMALL), 50, 60)
    src = np.array([[5, 6, 7, 0], [8, 9, 0, 0]], dtype="int32")
    tgt = np.array([[2, 10, 11], [2, 12, 0]], dtype="int32")
    logits = model({"encoder_inputs": src, "decoder_inputs": tgt})
    assert tuple(logits.shape) == (2, 3, 60)
    assert str(logits.dtype) in ("float32", "<dtype: 'float32'>")
    weights = model.attention_weights({"encoder_inputs": src, "decoder_inputs": tgt})
    w = np.asarray(weights)
    assert w.shape == (2, 3, 4)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    assert np.all(w[1, :, 2:] < 1e-6)  # padded source positions get no attention


def test_padding_does_not_change_outputs():
    model = build_model(ModelConfig(**SMALL), 50, 60)
    src = np.array([[5, 6, 7]], dtype="int32")
    tgt = np.array([[2, 10]], dtype="int32")
    a = model({"encoder_inputs": src, "decoder_inputs": tgt})
    b = model(
        {
            "encoder_inputs": np.pad(src, ((0, 0), (0, 3))),
            "decoder_inputs": np.pad(tgt, ((0, 0), (0, 2))),
        }
    )
    np.testing.assert_allclose(np.asarray(a), np.asarray(b)[:, :2], atol=1e-5)


@pytest.mark.parametrize("attention", ["none", "general"])
def test_decode_step_matches_teacher_forcing(attention):
    model = build_model(ModelConfig(attention=attention, decoder_layers=2, **SMALL), 50, 60)
    src = np.array([[5, 6, 7, 8]], dtype="int32")
    tgt = np.array([[2, 10, 11, 12]], dtype="int32")
    full = keras.ops.log_softmax(model({"encoder_inputs": src, "decoder_inputs": tgt}), -1)
    memory, mask, states = model.encode(src)
    for t in range(tgt.shape[1]):
        log_probs, states, _ = model.decode_step(tgt[:, t], states, memory, mask)
        np.testing.assert_allclose(np.asarray(log_probs), np.asarray(full)[:, t], atol=1e-4)


@pytest.mark.parametrize("attention", ["dot", "none"])
def test_decode_step_with_beams_reads_each_sentences_memory(attention):
    """Beam rows (sentences * beams, adjacent) against one memory row per sentence give what
    each sentence alone gives, padding and all."""
    model = build_model(ModelConfig(attention=attention, **SMALL), 50, 60)
    src = np.array([[5, 6, 7, 8], [9, 10, 0, 0]], dtype="int32")
    memory, mask, states = model.encode(src)
    beams = 3
    tokens = np.array([11, 12, 13, 14, 15, 16], dtype="int32")  # (sentences * beams,)
    tiled = [[np.repeat(np.asarray(x), beams, axis=0) for x in layer] for layer in states]
    log_probs, _, weights = model.decode_step(tokens, tiled, memory, mask)
    assert log_probs.shape == (6, 60)
    for row in range(6):
        sentence = row // beams
        alone_states = [[x[row : row + 1] for x in layer] for layer in tiled]
        alone, _, alone_weights = model.decode_step(
            tokens[row : row + 1], alone_states, memory[sentence : sentence + 1],
            mask[sentence : sentence + 1],
        )  # fmt: skip
        np.testing.assert_allclose(np.asarray(log_probs)[row], np.asarray(alone)[0], atol=1e-5)
        if attention != "none":
            np.testing.assert_allclose(
                np.asarray(weights)[row], np.asarray(alone_weights)[0], atol=1e-6
            )
            assert np.asarray(weights)[row, np.asarray(mask)[sentence] == 0].max(initial=0) < 1e-6


@pytest.mark.parametrize("attention", ["dot", "general", "none"])
def test_decode_step_on_some_beam_slots_equals_those_rows_of_all_slots(attention):
    """With ``slots`` (beams pruned or empty have no row) each row gets what the same beam
    gets when every slot has a row: its own sentence's memory, its own state."""
    model = build_model(ModelConfig(attention=attention, **SMALL), 50, 60)
    src = np.array([[5, 6, 7, 8], [9, 10, 0, 0], [11, 12, 13, 0]], dtype="int32")
    memory, mask, states = model.encode(src)
    beams = 3
    rng = np.random.default_rng(0)
    tokens = rng.integers(4, 60, size=9).astype("int32")  # (sentences * beams,)
    full_states = [
        [rng.normal(size=(9, SMALL["hidden_dim"])).astype("float32") for _ in layer]
        for layer in states
    ]
    full, full_new, full_weights = model.decode_step(tokens, full_states, memory, mask)
    slots = np.array([1, 2, 4, 6, 7], dtype="int32")  # sentence 0: beams 1, 2; 1: 1; 2: 0, 1
    some_states = [[x[slots] for x in layer] for layer in full_states]
    some, some_new, some_weights = model.decode_step(
        tokens[slots], some_states, memory, mask, slots=slots, beams=beams
    )
    np.testing.assert_allclose(np.asarray(some), np.asarray(full)[slots], atol=1e-5)
    for layer, full_layer in zip(some_new, full_new):
        for x, y in zip(layer, full_layer):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y)[slots], atol=1e-6)
    if attention == "none":
        assert some_weights is None
    else:
        np.testing.assert_allclose(
            np.asarray(some_weights), np.asarray(full_weights)[slots], atol=1e-6
        )


def test_decode_step_from_the_decode_tables_matches_the_plain_step():
    model = build_model(ModelConfig(decoder_layers=2, **SMALL), 50, 60)
    src = np.array([[5, 6, 7, 8], [9, 10, 0, 0]], dtype="int32")
    memory, mask, plain_states = model.encode(src)
    tables = model.decode_tables()
    assert tables["input"].shape == (60, 4 * SMALL["hidden_dim"])
    assert tables["output"].shape == (SMALL["embedding_dim"], 60)
    table_states = plain_states
    for tokens in ([2, 2], [11, 40], [7, 3]):
        tokens = np.array(tokens, dtype="int32")
        plain, plain_states, _ = model.decode_step(tokens, plain_states, memory, mask)
        fast, table_states, _ = model.decode_step(tokens, table_states, memory, mask, tables=tables)
        np.testing.assert_allclose(np.asarray(fast), np.asarray(plain), atol=1e-5)
    too_big = model.decode_tables(max_input_bytes=60 * 4 * SMALL["hidden_dim"] * 4 - 1)
    assert "input" not in too_big and "output" in too_big
    without, _, _ = model.decode_step(tokens, plain_states, memory, mask, tables=too_big)
    plain, _, _ = model.decode_step(tokens, plain_states, memory, mask)
    np.testing.assert_allclose(np.asarray(without), np.asarray(plain), atol=1e-5)


def test_mixed_bfloat16_multiplies_the_output_layer_in_bfloat16():
    # the output layer is the step's largest product: a float32 one left bfloat16's gain unused
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model(ModelConfig(tie_embeddings=False, **SMALL), 50, 60)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert model.output_projection.compute_dtype == "bfloat16"
    assert model.output_projection.kernel.dtype == "float32"  # float32 master weights
    src = np.array([[5, 6, 7]], dtype="int32")
    tgt = np.array([[2, 10]], dtype="int32")
    logits = model({"encoder_inputs": src, "decoder_inputs": tgt})
    assert str(logits.dtype) in ("float32", "<dtype: 'float32'>")  # the loss stays float32


def test_tied_embeddings_share_the_output_matrix():
    tied = build_model(ModelConfig(tie_embeddings=True, **SMALL), 50, 60)
    untied = build_model(ModelConfig(tie_embeddings=False, **SMALL), 50, 60)
    assert tied.output_projection is None and untied.output_projection is not None
    # untied: a (hidden 24 -> 60) projection, and W_c maps [c; h] (48) to 24 instead of 16
    assert untied.count_params() - tied.count_params() == 24 * 60 + 48 * (24 - 16)
    src = np.array([[5, 6]], dtype="int32")
    tgt = np.array([[2, 7]], dtype="int32")
    before = np.asarray(tied({"encoder_inputs": src, "decoder_inputs": tgt}))
    table = tied.tgt_embedding.embeddings
    table.assign(table.numpy() * np.array([1.0] * 59 + [3.0], "float32")[:, None])
    after = np.asarray(tied({"encoder_inputs": src, "decoder_inputs": tgt}))
    assert not np.allclose(before[..., 59], after[..., 59])  # logit 59 reads embedding row 59


def test_uninitialized_build_loads_every_weight(tmp_path):
    config = ModelConfig(attention="general", tie_embeddings=False, **SMALL)
    trained = build_model(config, 50, 60)
    path = tmp_path / "model.weights.h5"
    trained.save_weights(path)
    empty = build_model(config, 50, 60, initialize=False)
    for weight in empty.weights:  # zeros, but for the LSTMs' unit forget-gate biases
        values = weight.numpy()
        if weight.path.endswith("lstm_cell/bias"):
            units = len(values) // 4  # gates i, f, c, o
            values = np.delete(values, slice(units, 2 * units))
        assert not values.any(), weight.path
    empty.load_weights(path)
    assert [w.path for w in empty.weights] == [w.path for w in trained.weights]
    for loaded, saved in zip(empty.weights, trained.weights):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())


def test_general_attention_scores_are_query_times_projected_memory():
    """Luong's general score ``h . (W_a s)``, computed as ``(h W_a^T) . s`` (one product per
    query), with masked positions getting no weight."""
    from nmt.layers import LuongAttention

    rng = np.random.default_rng(3)
    layer = LuongAttention(8, 6, score="general")
    query = rng.normal(size=(2, 3, 8)).astype("float32")
    memory = rng.normal(size=(2, 5, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    out, weights = layer(query, memory, mask)
    kernel = layer.w_a.kernel.numpy()
    scores = np.einsum("bth,bsh->bts", query, memory @ kernel)
    scores = np.where(mask[:, None, :], scores, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(weights), expected, atol=1e-5)
    context = np.einsum("bts,bsh->bth", expected, memory)
    w_c = layer.w_c.kernel.numpy()
    np.testing.assert_allclose(
        np.asarray(out), np.tanh(np.concatenate([context, query], -1) @ w_c), atol=1e-5
    )


@pytest.mark.parametrize("attention, tie", [("dot", True), ("general", False), ("none", True)])
def test_config_round_trip_gives_the_same_model(attention, tie):
    """``Seq2Seq`` rebuilt from its serialised config, with the weights copied: the same
    logits, and the same search step (``decode_step``) on a fixed input."""
    config = ModelConfig(attention=attention, tie_embeddings=tie, encoder_layers=2, **SMALL)
    model = build_model(config, 30, 40, label_smoothing=0.1)
    clone = keras_round_trip(model)
    assert clone.built  # from the serialised build config
    clone.set_weights(model.get_weights())
    src = np.array([[5, 6, 7, 3, 0], [8, 9, 3, 0, 0]], "int32")
    tgt = np.array([[2, 10, 11, 12], [2, 13, 0, 0]], "int32")
    inputs = {"encoder_inputs": src, "decoder_inputs": tgt}
    np.testing.assert_array_equal(clone(inputs).numpy(), model(inputs).numpy())
    memory, mask, states = model.encode(src)
    step = model.decode_step(tgt[:, 1], states, memory, mask)
    again = clone.decode_step(tgt[:, 1], states, memory, mask)
    np.testing.assert_array_equal(again[0].numpy(), step[0].numpy())
