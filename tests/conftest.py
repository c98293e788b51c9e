"""Shared fixtures: synthetic corpora and a tiny model trained once per test session."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NMT_PROGRESS", "0")

REPO = Path(__file__).resolve().parent.parent
SHARED_CORPORA = REPO.parent / "shared" / "corpora"
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
]


def reverse_pairs(
    n: int, seed: int = 0, min_len: int = 2, max_len: int = 7
) -> list[tuple[str, str]]:
    """Pairs (sentence, the same words reversed and upper-cased): a task a tiny model learns."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(min_len, max_len))]
        pairs.append((" ".join(words), " ".join(w.upper() for w in reversed(words))))
    return pairs


def ctrl_c_reaches_child() -> None:
    """``preexec_fn`` for a child that a test interrupts as Ctrl-C in a terminal would.

    A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored across
    exec: a test suite run that way would send a SIGINT the child never sees.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return path


def tiny_overrides(corpus: Path, **extra: object) -> list[str]:
    """Config overrides for a model small enough to train in seconds on a CPU."""
    values = {
        "data.corpus": str(corpus),
        "data.src_lang": "xx",
        "data.tgt_lang": "yy",
        "data.dev_size": 60,
        "data.test_size": 60,
        "data.vocab_size": 64,
        "model.embedding_dim": 32,
        "model.hidden_dim": 64,
        "model.encoder_layers": 1,
        "model.decoder_layers": 1,
        "model.dropout": 0.0,
        "train.epochs": 12,
        "train.token_budget": 600,
        "train.learning_rate": 0.01,
        "train.warmup_steps": 20,
        "train.label_smoothing": 0.0,
        "train.patience": 20,
        "train.tensorboard": False,
        "train.dev_eval_size": 0,
        "train.keep_epochs": 3,
        "decode.beam_size": 1,
    }
    values.update(extra)
    return [f"{k}={v}" for k, v in values.items()]


@pytest.fixture(scope="session")
def reverse_corpus(tmp_path_factory) -> Path:
    return write_tsv(tmp_path_factory.mktemp("corpus") / "reverse.tsv", reverse_pairs(3000))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, reverse_corpus) -> Path:
    """A run directory with a tiny model trained on the reverse task (shared by many tests)."""
    from nmt.config import load_config
    from nmt.training import train

    run_dir = tmp_path_factory.mktemp("runs") / "reverse"
    train(load_config(None, tiny_overrides(reverse_corpus)), run_dir)
    return run_dir


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    path = Path(os.environ.get("NMT_DATA_DIR", SHARED_CORPORA))
    if not (path / "tatoeba-spa-eng" / "spa.txt").is_file():
        pytest.skip(f"Tatoeba corpora not found at {path}")
    return path


def keras_round_trip(obj):
    """``obj`` (a layer or model) through ``serialize_keras_object``, JSON and
    ``deserialize_keras_object``: a new object of the same class and config, as a saved
    ``.keras`` file would give (its weights are the caller's to copy)."""
    import json

    import keras

    data = json.loads(json.dumps(keras.saving.serialize_keras_object(obj)))
    clone = keras.saving.deserialize_keras_object(data)
    assert type(clone) is type(obj) and clone is not obj
    assert clone.get_config() == obj.get_config()
    return clone
