"""Resume and retrain: continuing a run, exact mid-epoch resume, determinism, fine-tuning,
and a real training process killed with SIGKILL and resumed."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, reverse_pairs, tiny_overrides, write_tsv

from nmt import training
from nmt.checkpoint import load_run, read_metadata
from nmt.cli_train import main as train_main
from nmt.config import load_config
from nmt.finetune import FineTuneError
from nmt.training import train


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


def log_epochs(run_dir: Path) -> list[int]:
    return [int(float(r["epoch"])) for r in read_csv(run_dir / "train_log.csv")]


def weights(run_dir: Path, name: str = "last") -> list[np.ndarray]:
    return load_run(run_dir, weights=name)[1].get_weights()


def small_overrides(corpus: Path, **extra) -> list[str]:
    """Two short epochs with dropout (so the RNG state matters) and mid-epoch backups."""
    values = {
        "data.dev_size": 30,
        "data.test_size": 10,
        "model.dropout": 0.2,
        "train.epochs": 2,
        "train.steps_per_epoch": 6,
        "train.backup_steps": 4,
    }
    values.update(extra)
    return tiny_overrides(corpus, **values)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    return write_tsv(tmp_path_factory.mktemp("small") / "small.tsv", reverse_pairs(700, seed=3))


def test_resume_cli_continues_epoch_count(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = read_metadata(run)
    assert log_epochs(run) == list(range(1, before["epochs_trained"] + 1))
    total = before["epochs_trained"] + 1
    assert train_main(["--resume", str(run), "--epochs", str(total)]) == 0
    out = capsys.readouterr().out
    assert f"restored from {run / 'backup'}: {total - 1} epoch(s) done" in out
    assert log_epochs(run) == list(range(1, total + 1))  # continued, not restarted
    after = read_metadata(run)
    assert after["epochs_trained"] == total
    state = json.loads((run / "backup" / "state.json").read_text())
    assert state["epoch"] == total and state["step"] > 0
    assert sorted(p.name for p in (run / "backup").iterdir()) == [
        f"state-{state['step']}.weights.h5",
        "state.json",
    ]
    # a config change other than epochs/time/patience is refused
    assert train_main(["--resume", str(run), "--set", "model.hidden_dim=32"]) == 2
    assert "different config (model.hidden_dim)" in capsys.readouterr().err


def test_run_directory_has_plot_and_log(trained_run):
    import matplotlib.image

    image = matplotlib.image.imread(trained_run / "training.png")
    assert image.shape[0] > 100 and image.shape[1] > 100
    rows = read_csv(trained_run / "train_log.csv")
    assert {"loss", "val_loss", "val_bleu", "learning_rate"} <= set(rows[0])


def test_fine_tune_reuses_tokenizer_and_weights(trained_run, tmp_path, capsys):
    # new data: the same task on other sentences, plus words in a script the parent never saw
    greek = ["άλφα", "βήτα", "γάμμα", "δέλτα", "έψιλον", "ζήτα", "ήτα", "θήτα"]
    pairs = reverse_pairs(400, seed=11) + [
        (f"{a} {b} {i}", f"{i} {b.upper()} {a.upper()}")
        for i, (a, b) in enumerate(zip(greek * 8, greek[::-1] * 8))
    ]
    corpus = write_tsv(tmp_path / "new.tsv", pairs)
    child = tmp_path / "child"
    code = train_main(
        [
            "--init-from",
            str(trained_run),
            "--corpus",
            str(corpus),
            "--out",
            str(child),
            "--learning-rate",
            "0.001",
            "--epochs",
            "1",
            "--set",
            "train.steps_per_epoch=3",
            "--set",
            "train.warmup_steps=1",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "WARNING: the parent's tokenizer maps many pieces of the new corpus to <unk>" in out
    for name in ("src.model", "tgt.model"):
        assert (child / "tokenizer" / name).read_bytes() == (
            trained_run / "tokenizer" / name
        ).read_bytes()
    metadata = read_metadata(child)
    assert metadata["parent"]["path"] == str(trained_run.resolve())
    assert metadata["unknown_piece_rate"]["src"] > 0.005
    config = load_config(child / "config.yaml")
    assert config.train.learning_rate == 0.001 and config.data.corpus == str(corpus)
    # 3 steps from scratch learn nothing; from the parent, the task is already known
    assert metadata["dev_bleu"] > 60, metadata["dev_bleu"]
    with pytest.raises(FineTuneError, match="model.hidden_dim"):
        overrides = tiny_overrides(corpus, **{"model.hidden_dim": 32})
        train(load_config(None, overrides), tmp_path / "bad", init_from=trained_run)


class Interrupt(Exception):
    """Stands in for a crash in the middle of an epoch."""


@pytest.mark.slow
def test_determinism_and_exact_mid_epoch_resume(small_corpus, tmp_path, monkeypatch):
    overrides = small_overrides(small_corpus)
    train(load_config(None, overrides), tmp_path / "a")
    train(load_config(None, overrides), tmp_path / "b")
    for x, y in zip(weights(tmp_path / "a"), weights(tmp_path / "b")):
        np.testing.assert_array_equal(x, y)  # same seed, same weights

    original = training.Trainer.on_train_batch_end

    def crash_at_step_9(self, batch, logs=None):
        original(self, batch, logs)
        if self.state.step == 9:
            raise Interrupt

    monkeypatch.setattr(training.Trainer, "on_train_batch_end", crash_at_step_9)
    with pytest.raises(Interrupt):
        train(load_config(None, overrides), tmp_path / "c")
    state = json.loads((tmp_path / "c" / "backup" / "state.json").read_text())
    assert (state["epoch"], state["batch"], state["step"]) == (1, 2, 8)  # the step-8 backup
    monkeypatch.setattr(training.Trainer, "on_train_batch_end", original)
    train(load_config(None, overrides), tmp_path / "c")
    assert log_epochs(tmp_path / "c") == [1, 2]
    for x, y in zip(weights(tmp_path / "a"), weights(tmp_path / "c")):
        np.testing.assert_array_equal(x, y)  # resumed mid-epoch == never interrupted


def check_every_file_loads(run_dir: Path) -> list[str]:
    """Open every file of a run directory with the reader its kind needs; returns the names."""
    import h5py
    import matplotlib.image
    import yaml

    from nmt.tokenizer import Tokenizer

    names = []
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        name = path.name
        if name.endswith(".h5"):
            with h5py.File(path, "r") as handle:
                assert len(handle.keys()) > 0, path
        elif name.endswith(".json"):
            json.loads(path.read_text())
        elif name.endswith(".yaml"):
            yaml.safe_load(path.read_text())
        elif name.endswith(".csv"):
            assert read_csv(path), path
        elif name.endswith(".model"):
            Tokenizer.load(path)
        elif name.endswith(".png"):
            matplotlib.image.imread(path)
        elif "tfevents" in name:
            import tensorflow as tf

            assert list(tf.compat.v1.train.summary_iterator(str(path))), path
        else:
            raise AssertionError(f"unexpected file {path}")
        names.append(str(path.relative_to(run_dir)))
    load_run(run_dir, "best")
    load_run(run_dir, "last")
    return names


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume(small_corpus, tmp_path):
    run = tmp_path / "run"
    overrides = small_overrides(
        small_corpus,
        **{
            "train.epochs": 3,
            "train.token_budget": 300,  # more than 10 batches an epoch: 10 steps each
            "train.steps_per_epoch": 10,
            "train.tensorboard": True,
        },
    )
    command = [sys.executable, str(REPO / "train.py"), "--out", str(run)]
    for item in overrides:
        command += ["--set", item]
    env = dict(os.environ, NMT_PROGRESS="0", TF_CPP_MIN_LOG_LEVEL="3")
    state_file = run / "backup" / "state.json"
    with open(tmp_path / "first.log", "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        deadline = time.time() + 400
        while not state_file.is_file() and process.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert state_file.is_file(), (tmp_path / "first.log").read_text()[-3000:]
    assert process.returncode == -signal.SIGKILL
    killed_at = json.loads(state_file.read_text())
    assert killed_at["epoch"] < 3

    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "--resume", str(run)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"restored from {run / 'backup'}: {killed_at['epoch']} epoch(s) done" in result.stdout
    assert "training already finished" not in result.stdout
    assert log_epochs(run) == [1, 2, 3]  # the count continues; nothing trained twice
    final = json.loads(state_file.read_text())
    assert final["epoch"] == 3 and final["step"] == 30
    assert read_metadata(run)["epochs_trained"] == 3
    names = check_every_file_loads(run)
    assert not [n for n in names if ".tmp" in n]
    print(f"killed at epoch {killed_at['epoch']} step {killed_at['step']}; resumed; {names}")
