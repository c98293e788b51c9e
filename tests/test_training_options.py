"""Training options on a tiny run: XLA, bf16 mixed precision, subword sampling, schedules."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from conftest import reverse_pairs, tiny_overrides, write_tsv

from nmt.checkpoint import load_run, read_metadata
from nmt.config import ConfigError, load_config
from nmt.train_state import TrainingState
from nmt.training import learning_rate_at, train


def test_learning_rate_warmup_then_decay():
    config = load_config(None, ["train.warmup_steps=10", "train.lr_decay=inverse_sqrt"])
    state = TrainingState()
    rates = []
    for step in (0, 4, 9, 39, 159):
        state.step = step
        rates.append(learning_rate_at(config, state))
    peak = config.train.learning_rate
    assert rates[0] == pytest.approx(peak / 10) and rates[1] == pytest.approx(peak / 2)
    assert rates[2] == pytest.approx(peak)
    assert rates[3] == pytest.approx(peak / 2) and rates[4] == pytest.approx(peak / 4)
    state.lr_scale = 0.5  # reduce-on-plateau factor
    assert learning_rate_at(config, state) == pytest.approx(peak / 8)


def test_cooldown_lowers_the_rate_linearly_over_the_last_share_of_the_minutes():
    config = load_config(
        None, ["train.max_minutes=20", "train.cooldown=0.25", "train.warmup_steps=10"]
    )
    state = TrainingState()
    peak, floor = config.train.learning_rate, config.train.min_learning_rate
    state.step = 4  # warm-up is not cooled
    assert learning_rate_at(config, state, minutes=19.0) == pytest.approx(peak / 2)
    state.step = 100
    assert learning_rate_at(config, state, minutes=14.9) == pytest.approx(peak)
    assert learning_rate_at(config, state, minutes=17.5) == pytest.approx(peak / 2)
    state.lr_scale = 0.5  # the plateau factor and the cooldown multiply
    assert learning_rate_at(config, state, minutes=18.75) == pytest.approx(peak / 8)
    assert learning_rate_at(config, state, minutes=20.0) == pytest.approx(floor)
    assert learning_rate_at(config, state, minutes=25.0) == pytest.approx(floor)
    # without a time limit there is nothing to cool down towards
    no_limit = load_config(None, ["train.cooldown=0.25"])
    assert learning_rate_at(no_limit, state, minutes=1e6) == pytest.approx(peak / 2)
    with pytest.raises(ConfigError, match="cooldown"):
        load_config(None, ["train.cooldown=1.0"])


def test_new_config_fields_are_validated():
    with pytest.raises(ConfigError, match="backup_steps"):
        load_config(None, ["train.backup_steps=0"])
    with pytest.raises(ConfigError, match="steps_per_epoch"):
        load_config(None, ["train.steps_per_epoch=0"])


@pytest.mark.slow
def test_xla_bf16_and_subword_sampling_train(tmp_path):
    corpus = write_tsv(tmp_path / "c.tsv", reverse_pairs(500, seed=9))
    run = tmp_path / "run"
    overrides = tiny_overrides(
        corpus,
        **{
            "data.dev_size": 30,
            "data.test_size": 10,
            "model.dropout": 0.1,
            "train.epochs": 2,
            "train.steps_per_epoch": 5,
            "train.jit_compile": True,
            "train.mixed_precision": "mixed_bfloat16",
            "train.subword_sampling": True,
            "train.lr_decay": "plateau",
        },
    )
    train(load_config(None, overrides), run)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after training
    history = json.loads((run / "backup" / "state.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(h["loss"]) for h in history)
    model = load_run(run, "last")[1]
    assert all(w.dtype == np.float32 for w in model.get_weights())  # float32 master weights
    assert read_metadata(run)["epochs_trained"] == 2
