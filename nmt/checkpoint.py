"""Run directories: save and load a trained model with its tokenizers, config and metadata.

Layout (see docs/DESIGN.md)::

    <run>/config.yaml  tokenizer/{src,tgt}.model | tokenizer/joint.model
          model.weights.h5 (best)  last.weights.h5  metadata.json  split.json  train_log.csv
          epochs/epoch-NNNN.weights.h5 (the last ``train.keep_epochs`` epochs, if kept)
"""

from __future__ import annotations

import datetime
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import keras

import nmt
from nmt.config import Config, ConfigError, load_config
from nmt.io import atomic_path, atomic_write_text
from nmt.model import Seq2Seq, build_model
from nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, TokenizerError

FORMAT_VERSION = 1
CONFIG_FILE = "config.yaml"
METADATA_FILE = "metadata.json"
BEST_WEIGHTS = "model.weights.h5"
LAST_WEIGHTS = "last.weights.h5"
SPLIT_FILE = "split.json"
LOG_FILE = "train_log.csv"
EPOCHS_DIR = "epochs"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


class CheckpointError(ValueError):
    """A run directory is missing, incomplete, corrupt or inconsistent."""


def tokenizer_paths(run_dir: Path, joint: bool) -> tuple[Path, Path]:
    """Paths of the source and target SentencePiece models inside a run directory."""
    folder = Path(run_dir) / "tokenizer"
    if joint:
        return folder / "joint.model", folder / "joint.model"
    return folder / "src.model", folder / "tgt.model"


def resolve_run_dir(name_or_path: str | Path) -> Path:
    """A path to a run directory, or the name of a shipped model in ``checkpoints/``."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    shipped = SHIPPED_DIR / str(name_or_path)
    if shipped.is_dir():
        return shipped
    available = (
        sorted(p.name for p in SHIPPED_DIR.iterdir() if p.is_dir()) if SHIPPED_DIR.is_dir() else []
    )
    raise CheckpointError(
        f"model {str(name_or_path)!r} not found: not a directory, nor a shipped model "
        f"({', '.join(available) or 'none shipped'})"
    )


def epoch_weights_name(epoch: int) -> str:
    """File name of one epoch's weights in ``EPOCHS_DIR`` (sorts in epoch order)."""
    return f"epoch-{epoch:04d}.weights.h5"


def save_weights(model: keras.Model, path: Path) -> None:
    """Write model weights atomically (a temporary file renamed into place)."""
    with atomic_path(Path(path), suffix=".weights.h5") as tmp:
        tmp.unlink()  # Keras refuses to overwrite without asking
        model.save_weights(str(tmp))


def versions() -> dict[str, str]:
    import tensorflow as tf

    return {"nmt": nmt.__version__, "tensorflow": tf.__version__, "keras": keras.__version__}


def read_metadata(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / METADATA_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: no {METADATA_FILE}; is this a run directory?")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: corrupt JSON ({err})") from err
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return metadata


def update_metadata(run_dir: Path, drop: tuple[str, ...] = (), **updates: Any) -> dict[str, Any]:
    """Merge ``updates`` into metadata.json (created if missing), remove the ``drop`` keys, and
    write it atomically."""
    path = Path(run_dir) / METADATA_FILE
    metadata = read_metadata(run_dir) if path.is_file() else {}
    for key in drop:
        metadata.pop(key, None)
    metadata.update(updates)
    metadata["format_version"] = FORMAT_VERSION
    metadata["versions"] = versions()
    metadata["updated"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    atomic_write_text(path, json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    return metadata


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def initial_metadata(config: Config, src: Tokenizer, tgt: Tokenizer, model: Seq2Seq) -> dict:
    """What metadata.json records of a new run; the tokenizers' sha256 ties them to the model."""
    sha256 = {side: file_sha256(tok.path) for side, tok in (("src", src), ("tgt", tgt)) if tok.path}
    return {
        "tokenizer_sha256": sha256,
        "parameters": int(model.count_params()),
        "src_lang": config.data.src_lang,
        "tgt_lang": config.data.tgt_lang,
        "corpus": config.data.corpus,
        "src_vocabulary_size": src.vocabulary_size,
        "tgt_vocabulary_size": tgt.vocabulary_size,
        "special_ids": {"pad": PAD_ID, "unk": UNK_ID, "bos": BOS_ID, "eos": EOS_ID},
    }


def load_tokenizers(run_dir: Path, config: Config) -> tuple[Tokenizer, Tokenizer]:
    src_path, tgt_path = tokenizer_paths(run_dir, config.data.joint_vocab)
    try:
        src = Tokenizer.load(src_path)
        tgt = src if tgt_path == src_path else Tokenizer.load(tgt_path)
    except TokenizerError as err:
        raise CheckpointError(f"{run_dir}: {err}") from err
    return src, tgt


def check_tokenizer_identity(run_dir: Path, config: Config, metadata: dict[str, Any]) -> None:
    """Refuse tokenizer files that are not the ones the model was trained with (another model's
    tokenizers of the same size load without complaint and translate into gibberish). Run
    directories written before the check was recorded load with a warning."""
    recorded = metadata.get("tokenizer_sha256")
    if not recorded:
        print(
            f"warning: {run_dir}: {METADATA_FILE} records no tokenizer sha256 (an older run): "
            "cannot check that the tokenizers belong to this model",
            file=sys.stderr,
        )
        return
    for side, path in zip(("src", "tgt"), tokenizer_paths(run_dir, config.data.joint_vocab)):
        if side in recorded and file_sha256(path) != recorded[side]:
            raise CheckpointError(
                f"{path}: not the {side} tokenizer this model was trained with (its sha256 "
                f"differs from {METADATA_FILE}'s): tokenizer and model do not belong together"
            )


def load_run(
    run_dir: str | Path, weights: str = "best"
) -> tuple[Config, Seq2Seq, Tokenizer, Tokenizer, dict[str, Any]]:
    """Load a run directory, checking every part and that the parts agree.

    ``weights`` is ``best`` (model.weights.h5) or ``last`` (last.weights.h5).
    Returns (config, model, src_tokenizer, tgt_tokenizer, metadata).
    """
    run_dir = resolve_run_dir(run_dir)
    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"{run_dir}: no {CONFIG_FILE}; is this a run directory?")
    try:
        config = load_config(config_path)
    except ConfigError as err:
        raise CheckpointError(f"{config_path}: {err}") from err
    metadata = read_metadata(run_dir)
    if metadata.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{run_dir} was written by a newer nmt (format {metadata.get('format_version')}); "
            f"this nmt {nmt.__version__} reads format {FORMAT_VERSION}: upgrade nmt"
        )
    saved_keras = str(metadata.get("versions", {}).get("keras", keras.__version__))
    if saved_keras.split(".")[0] != keras.__version__.split(".")[0]:
        raise CheckpointError(
            f"{run_dir} was saved with Keras {saved_keras}; this is Keras {keras.__version__}"
        )
    src, tgt = load_tokenizers(run_dir, config)
    check_tokenizer_identity(run_dir, config, metadata)
    for side, tok in (("src", src), ("tgt", tgt)):
        expected = metadata.get(f"{side}_vocabulary_size")
        if expected is not None and expected != tok.vocabulary_size:
            raise CheckpointError(
                f"{run_dir}: the {side} tokenizer has {tok.vocabulary_size} pieces but the model "
                f"was trained with {expected}: tokenizer and model do not belong together"
            )
    filename = {"best": BEST_WEIGHTS, "last": LAST_WEIGHTS}.get(weights)
    if filename is None:
        raise ValueError("weights must be 'best' or 'last'")
    weights_path = run_dir / filename
    if not weights_path.is_file():
        raise CheckpointError(f"{run_dir}: no {filename} (has training saved a checkpoint yet?)")
    model = build_model(config.model, src.vocabulary_size, tgt.vocabulary_size, initialize=False)
    try:
        model.load_weights(str(weights_path))
    except (ValueError, OSError, KeyError) as err:
        raise CheckpointError(
            f"{weights_path}: cannot load weights into the model described by {CONFIG_FILE} "
            f"(corrupt file, or weights from another model): {err}"
        ) from err
    return config, model, src, tgt, metadata
