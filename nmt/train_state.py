"""The resumable training state: what ``backup/`` holds, how it is written and read back, and
which config changes a resumed run accepts.

``backup/state.json`` (a ``TrainingState``) names the weights file beside it
(``state-<step>.weights.h5``: weights and optimizer); the dropout seed-generator states, which
``save_weights`` leaves out, travel inside ``state.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from nmt.checkpoint import save_weights
from nmt.config import Config
from nmt.io import atomic_write_text

BACKUP_DIR = "backup"
STATE_WEIGHTS = "state.weights.h5"  # the name used by backups written before state-<step>
STATE_FILE = "state.json"
# keys that may differ between the saved config and the one given when resuming
RESUMABLE_CHANGES = {
    ("train", "epochs"),
    ("train", "max_minutes"),
    ("train", "patience"),
    ("train", "strategy"),
    ("train", "backup_minutes"),
    ("train", "backup_steps"),
    ("train", "tensorboard"),
    ("train", "keep_epochs"),
}


class TrainingError(ValueError):
    """Training cannot start as asked."""


def check_resumable(saved: Config, given: Config) -> Config:
    """Return the config to resume with: the saved one, with the changes users may make."""
    saved_dict, given_dict = saved.to_dict(), given.to_dict()
    diffs = [
        (section, key)
        for section, values in saved_dict.items()
        if isinstance(values, dict)
        for key, value in values.items()
        if given_dict[section][key] != value
    ]
    refused = [f"{s}.{k}" for s, k in diffs if (s, k) not in RESUMABLE_CHANGES]
    if refused:
        raise TrainingError(
            "the run directory holds a run with a different config ("
            + ", ".join(refused)
            + "); resume it without those changes, or choose a new output directory"
        )
    for section, key in diffs:
        setattr(getattr(saved, section), key, getattr(getattr(given, section), key))
    return saved


class TrainingState:
    """Everything besides weights that a resumed run needs; saved as backup/state.json."""

    def __init__(self) -> None:
        self.epoch = 0  # epochs completed
        self.batch = 0  # batches completed inside the current epoch (mid-epoch backups)
        self.step = 0  # optimizer steps in total
        self.best_bleu = -1.0
        self.best_val_loss = float("inf")
        self.best_epoch = -1
        self.wait = 0  # evaluations without improvement (early stopping)
        self.plateau_wait = 0
        self.lr_scale = 1.0  # reduce-on-plateau factor applied so far
        self.since_eval = 0  # steps since the last dev evaluation
        self.best_step = -1
        self.elapsed = 0.0  # training seconds over all sessions
        self.stopped_early = False
        self.history: list[dict[str, Any]] = []
        self.weights_file = STATE_WEIGHTS  # backup/<file> holding weights + optimizer
        self.rng: list[list[int]] = []  # dropout seed-generator states, in model.variables order
        self.replicas = 1  # replicas in sync when saved (a step is one batch per replica)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingState:
        state = cls()
        unknown = set(values) - set(state.__dict__)
        if unknown:
            raise TrainingError(f"backup state has unknown keys {sorted(unknown)}")
        state.__dict__.update(values)
        return state


def seed_states(model: keras.Model) -> list:
    """The dropout seed-generator state variables (not part of ``save_weights``)."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights and "seed_generator" in v.path]


def has_state(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a backup to resume from."""
    return (Path(run_dir) / BACKUP_DIR / STATE_FILE).is_file()


def save_state(run_dir: Path, model: keras.Model, state: TrainingState) -> None:
    """Write weights+optimizer to a new file, then the state that names it, then drop the
    previous file: a kill at any moment leaves a consistent (state, weights) pair.

    ``state.rng`` and ``state.weights_file`` are updated here; the caller sets ``elapsed``.
    """
    state.rng = [[int(x) for x in v.numpy()] for v in seed_states(model)]
    backup = Path(run_dir) / BACKUP_DIR
    previous = state.weights_file
    state.weights_file = f"state-{state.step}.weights.h5"
    if state.weights_file != previous or not (backup / state.weights_file).is_file():
        save_weights(model, backup / state.weights_file)
    atomic_write_text(backup / STATE_FILE, json.dumps(state.to_dict()))
    if previous != state.weights_file and (backup / previous).is_file():
        (backup / previous).unlink()


def load_state(
    run_dir: Path, model: keras.Model, warn: Callable[[str], None] = print
) -> TrainingState | None:
    """Restore weights, optimizer and RNG state from backup/, if a backup exists.

    ``warn`` receives the message when the dropout RNG state cannot be restored.
    """
    backup = Path(run_dir) / BACKUP_DIR
    if not (backup / STATE_FILE).is_file():
        return None
    try:
        values = json.loads((backup / STATE_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TrainingError(f"{backup / STATE_FILE}: corrupt ({err})") from err
    state = TrainingState.from_dict(values)
    weights = backup / state.weights_file
    if not weights.is_file():
        raise TrainingError(f"{backup}: the state names {state.weights_file}, which is missing")
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(str(weights))
    seeds = seed_states(model)
    if len(state.rng) == len(seeds):
        for variable, value in zip(seeds, state.rng):
            variable.assign(np.array(value, dtype=variable.dtype))
    elif state.rng:
        warn("dropout RNG state not restored (model has a different number of generators)")
    return state
