"""The inference weights view: read from a model and straight from its .weights.h5 file."""

import numpy as np
import pytest
from test_numpy_decode import SHAPES, small_model

from nmt.config import ModelConfig
from nmt.weights import InferenceWeights, WeightsError, from_h5, from_model


def assert_same(a: InferenceWeights, b: InferenceWeights) -> None:
    assert a.attention == b.attention and a.bridge_index == b.bridge_index
    for name in ("src_embeddings", "tgt_embeddings", "output_kernel", "output_bias"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for name in ("w_a", "w_c"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
    assert (a.bridge is None) == (b.bridge is None)
    for x, y in zip(a.bridge or (), b.bridge or ()):
        np.testing.assert_array_equal(x, y)
    layers_a = [c for layer in a.encoder for c in layer] + a.decoder
    layers_b = [c for layer in b.encoder for c in layer] + b.decoder
    assert len(layers_a) == len(layers_b)
    for x, y in zip(layers_a, layers_b):
        for part in ("kernel", "recurrent", "bias"):
            np.testing.assert_array_equal(getattr(x, part), getattr(y, part))


def _config(attention, layers, bidirectional, tie) -> ModelConfig:
    return ModelConfig(
        embedding_dim=16, hidden_dim=24, encoder_layers=layers[0], decoder_layers=layers[1],
        bidirectional=bidirectional, attention=attention, tie_embeddings=tie, dropout=0.1,
    )  # fmt: skip


@pytest.mark.parametrize("shape", [*SHAPES, ("dot", (3, 3), False, True)])
def test_the_file_holds_what_the_model_holds(shape, tmp_path):
    model = small_model(*shape)
    path = tmp_path / "m.weights.h5"
    model.save_weights(str(path))
    assert_same(from_h5(path, _config(*shape)), from_model(model))


def test_float16_weights_are_read_as_keras_loads_them(trained_run, tmp_path):
    from nmt.checkpoint import load_run
    from nmt.export import export_run

    out = export_run(trained_run, tmp_path / "half", float16=True)
    config, model, *_ = load_run(out)
    read = from_h5(out / "model.weights.h5", config.model)
    assert read.src_embeddings.dtype == np.float32
    assert_same(read, from_model(model))


def test_a_file_of_another_model_is_refused(tmp_path):
    model = small_model(*SHAPES[0])
    path = tmp_path / "m.weights.h5"
    model.save_weights(str(path))
    attention, layers, bidirectional, tie = SHAPES[0]
    with pytest.raises(WeightsError, match="not the model"):
        from_h5(path, _config(attention, (layers[0] + 1, layers[1]), bidirectional, tie))
    with pytest.raises(WeightsError, match="not the weights"):
        from_h5(path, _config("none", layers, bidirectional, tie))  # no bridge in the file
    (tmp_path / "broken.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(WeightsError):
        from_h5(tmp_path / "broken.weights.h5", _config(*SHAPES[0]))
