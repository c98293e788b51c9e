"""The resumable state on its own: config changes a resume accepts, the state file's keys, and
a save/load round trip of weights, optimizer and dropout RNG state."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from nmt.config import load_config
from nmt.train_state import (
    BACKUP_DIR,
    STATE_FILE,
    TrainingError,
    TrainingState,
    check_resumable,
    has_state,
    load_state,
    save_state,
)


def test_check_resumable_takes_the_allowed_changes_and_keeps_the_rest():
    saved = load_config(overrides=["train.epochs=3", "model.hidden_dim=32"])
    given = load_config(overrides=["train.epochs=9", "model.hidden_dim=32"])
    resumed = check_resumable(saved, given)
    assert resumed is saved
    assert resumed.train.epochs == 9
    assert resumed.model.hidden_dim == 32


def test_check_resumable_refuses_a_changed_model():
    saved = load_config(overrides=["model.hidden_dim=32"])
    given = load_config(overrides=["model.hidden_dim=64", "train.epochs=9"])
    with pytest.raises(TrainingError, match=r"model\.hidden_dim") as info:
        check_resumable(saved, given)
    assert "train.epochs" not in str(info.value)


def test_state_dict_round_trip_and_unknown_keys():
    state = TrainingState()
    state.step, state.history = 7, [{"epoch": 1, "step": 7}]
    again = TrainingState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again.to_dict() == state.to_dict()
    with pytest.raises(TrainingError, match="unknown keys"):
        TrainingState.from_dict({"step": 1, "future_key": 0})


def _model() -> keras.Model:
    inputs = keras.Input((3,))
    hidden = keras.layers.Dropout(0.5, seed=1)(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def test_save_then_load_restores_weights_optimizer_and_rng(tmp_path):
    keras.utils.set_random_seed(0)
    model = _model()
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    model.fit(x, y, epochs=1, verbose=0)
    state = TrainingState()
    state.step = 5
    assert not has_state(tmp_path)
    save_state(tmp_path, model, state)
    assert has_state(tmp_path)
    assert state.weights_file == "state-5.weights.h5" and state.rng
    state.step = 6  # the next backup replaces the previous weights file
    save_state(tmp_path, model, state)
    names = sorted(p.name for p in (tmp_path / BACKUP_DIR).iterdir())
    assert names == ["state-6.weights.h5", STATE_FILE]

    fresh = _model()
    loaded = load_state(tmp_path, fresh, warn=pytest.fail)
    assert loaded is not None and loaded.to_dict() == state.to_dict()
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(fresh.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    assert [v.numpy().tolist() for v in fresh.variables if "seed_generator" in v.path] == state.rng


def test_load_state_without_backup_and_with_a_missing_weights_file(tmp_path):
    assert load_state(tmp_path, _model()) is None
    (tmp_path / BACKUP_DIR).mkdir()
    (tmp_path / BACKUP_DIR / STATE_FILE).write_text(
        json.dumps({"weights_file": "state-3.weights.h5"}), encoding="utf-8"
    )
    with pytest.raises(TrainingError, match="missing"):
        load_state(tmp_path, _model())
