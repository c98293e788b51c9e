"""When training evaluates and stops: dev evaluations inside epochs, the time budget, and exact
resume across evaluation points."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import reverse_pairs, tiny_overrides, write_tsv

from nmt import training
from nmt.checkpoint import load_run, read_metadata
from nmt.config import ConfigError, load_config
from nmt.training import train


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tsv(tmp_path_factory.mktemp("sched") / "c.tsv", reverse_pairs(700, seed=5))


def overrides(corpus, **extra) -> list[str]:
    values = {
        "data.dev_size": 30,
        "data.test_size": 10,
        "model.dropout": 0.2,  # so the dropout RNG state must survive a resume
        "train.epochs": 2,
        "train.steps_per_epoch": 6,
        "train.eval_steps": 4,
        "train.backup_steps": 5,
    }
    values.update(extra)
    return tiny_overrides(corpus, **values)


def history(run) -> list[dict]:
    return json.loads((run / "backup" / "state.json").read_text())["history"]


def test_evaluations_inside_epochs_and_at_epoch_ends(corpus, tmp_path):
    run = tmp_path / "run"
    train(load_config(None, overrides(corpus)), run)
    rows = history(run)
    # every 4 steps without an evaluation, and at each epoch's end (6 steps)
    assert [r["step"] for r in rows] == [4, 6, 10, 12]
    assert [r["epoch"] for r in rows] == pytest.approx([4 / 6, 1, 1 + 4 / 6, 2], abs=1e-3)
    assert all(np.isfinite(r["val_bleu"]) and np.isfinite(r["val_loss"]) for r in rows)
    metadata = read_metadata(run)
    assert metadata["steps_trained"] == 12 and metadata["epochs_trained"] == 2
    assert metadata["best_step"] in (4, 6, 10, 12)
    # keep_epochs keeps epoch ends only
    assert sorted(p.name for p in (run / "epochs").iterdir()) == [
        "epoch-0001.weights.h5",
        "epoch-0002.weights.h5",
    ]
    log = (run / "train_log.csv").read_text().splitlines()
    assert len(log) == 5 and "step" in log[0].split(",")


def test_time_budget_stops_inside_an_epoch_with_a_last_evaluation(corpus, tmp_path, monkeypatch):
    # a clock that advances one second per trained step makes the budget exact to test
    monkeypatch.setattr(
        training.Trainer, "_elapsed", lambda self: self._elapsed_at_start + self.state.step
    )
    run = tmp_path / "run"
    config = load_config(
        None,
        overrides(
            corpus, **{"train.epochs": 50, "train.eval_steps": 100, "train.max_minutes": 0.15}
        ),
    )
    metadata = train(config, run)
    assert metadata["steps_trained"] == 9  # 0.15 minutes = 9 "seconds": stopped mid-epoch 2
    assert metadata["epochs_trained"] == 1
    rows = history(run)
    assert [r["step"] for r in rows] == [6, 9]  # the epoch end, then the stop's evaluation
    assert metadata["best_step"] in (6, 9)
    assert "bleu" in metadata["test_scores"]["greedy"]  # the best weights were evaluated
    # resuming a run whose budget is spent trains nothing more
    metadata = train(config, run)
    assert metadata["steps_trained"] == 9


def test_time_budget_on_the_real_clock(corpus, tmp_path):
    run = tmp_path / "run"
    limit = 0.1  # minutes
    config = load_config(
        None,
        overrides(
            corpus,
            **{
                "train.epochs": 10_000,
                "train.steps_per_epoch": "null",
                "train.eval_steps": 50,
                "train.max_minutes": limit,
            },
        ),
    )
    metadata = train(config, run)
    assert metadata["epochs_trained"] < 10_000
    # within the budget plus one dev evaluation (a few seconds for this model)
    assert metadata["training_seconds"] < limit * 60 + 20, metadata["training_seconds"]
    assert history(run)[-1]["step"] == metadata["steps_trained"]


class Interrupt(Exception):
    """Stands in for a crash between two evaluations."""


def test_resume_replays_exactly_across_evaluations(corpus, tmp_path, monkeypatch):
    config = load_config(None, overrides(corpus, **{"train.backup_steps": 3}))
    train(config, tmp_path / "a")

    original = training.Trainer.on_train_batch_end

    def crash_at_step_10(self, batch, logs=None):
        original(self, batch, logs)
        if self.state.step == 10:  # before step 10's evaluation
            raise Interrupt

    monkeypatch.setattr(training.Trainer, "on_train_batch_end", crash_at_step_10)
    with pytest.raises(Interrupt):
        train(config, tmp_path / "b")
    state = json.loads((tmp_path / "b" / "backup" / "state.json").read_text())
    # the step-9 backup, between the evaluations at steps 6 and 10
    assert (state["epoch"], state["batch"], state["step"], state["since_eval"]) == (1, 3, 9, 3)
    monkeypatch.setattr(training.Trainer, "on_train_batch_end", original)
    train(config, tmp_path / "b")
    a, b = history(tmp_path / "a"), history(tmp_path / "b")
    assert [r["step"] for r in a] == [r["step"] for r in b]
    assert [r["val_loss"] for r in a] == [r["val_loss"] for r in b]
    last_a = load_run(tmp_path / "a", "last")[1].get_weights()
    last_b = load_run(tmp_path / "b", "last")[1].get_weights()
    for x, y in zip(last_a, last_b):
        np.testing.assert_array_equal(x, y)


def test_schedule_settings_are_validated():
    with pytest.raises(ConfigError, match="eval_steps"):
        load_config(None, ["train.eval_steps=0"])
    with pytest.raises(ConfigError, match="max_minutes"):
        load_config(None, ["train.max_minutes=0"])
    with pytest.raises(ConfigError, match="clip one way"):
        load_config(None, ["train.clipnorm=1", "train.global_clipnorm=5"])
