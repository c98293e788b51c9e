"""nmt.optimizer.FusedAdam against Keras' Adam: the same weights and slots after several steps."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nmt.config import load_config
from nmt.model import build_model
from nmt.optimizer import FusedAdam
from nmt.training import compile_model


def _trained(optimizer, steps: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A tiny embedding + dense model after ``steps`` updates: (weights, optimizer slots)."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((5,), dtype="int32"),
        keras.layers.Embedding(30, 8),  # its gradient is sparse (IndexedSlices)
        keras.layers.LSTM(6),
        keras.layers.Dense(3),
    ])
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(0)
    for _ in range(steps):
        model.train_on_batch(rng.integers(0, 30, (4, 5)), rng.normal(size=(4, 3)))
    slots = [v.numpy() for v in model.optimizer.variables
             if "momentum" in v.path or "velocity" in v.path]
    return [w.numpy() for w in model.weights], slots


@pytest.mark.parametrize("clip", [{}, {"clipnorm": 0.05}, {"global_clipnorm": 0.05}])
def test_fused_adam_equals_keras_adam(clip):
    expected_weights, expected_slots = _trained(keras.optimizers.Adam(learning_rate=0.01, **clip))
    weights, slots = _trained(FusedAdam(learning_rate=0.01, **clip))
    assert len(slots) == len(expected_slots) > 0
    start_weights, _ = _trained(FusedAdam(learning_rate=0.01, **clip), steps=0)
    for got, want, start in zip(weights, expected_weights, start_weights):
        assert not np.allclose(want, start)  # every weight moved, embeddings included
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for got, want in zip(slots, expected_slots):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_training_uses_the_fused_kernel_unless_told_not_to():
    small = ["model.embedding_dim=8", "model.hidden_dim=8", "model.encoder_layers=1"]
    for fused, kind in ((True, FusedAdam), (False, keras.optimizers.Adam)):
        model = build_model(load_config(None, small).model, 20, 20, 0.1)
        compile_model(model, load_config(None, small + [f"train.fused_adam={str(fused).lower()}"]))
        assert type(model.optimizer) is kind
    with pytest.raises(ValueError, match="amsgrad"):
        FusedAdam(amsgrad=True)
