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
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nmt
from nmt.config import Config, ConfigError, load_config
from nmt.io import atomic_path, atomic_write_text
from nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, TokenizerError

if TYPE_CHECKING:
    from nmt.model import Seq2Seq

FORMAT_VERSION = 1
CONFIG_FILE = "config.yaml"
METADATA_FILE = "metadata.json"
BEST_WEIGHTS = "model.weights.h5"
LAST_WEIGHTS = "last.weights.h5"
SPLIT_FILE = "split.json"
LOG_FILE = "train_log.csv"
EPOCHS_DIR = "epochs"
MODELS_DIR_ENV = "NMT_MODELS_DIR"
_PACKAGE_DIR = Path(__file__).resolve().parent
# The shipped models: package data of an installed nmt (nmt/checkpoints), else the checkout's
# checkpoints/ beside the package.
SHIPPED_DIR = next(
    (d for d in (_PACKAGE_DIR / "checkpoints", _PACKAGE_DIR.parent / "checkpoints") if d.is_dir()),
    _PACKAGE_DIR.parent / "checkpoints",
)


class CheckpointError(ValueError):
    """A run directory is missing, incomplete, corrupt or inconsistent."""


def tokenizer_paths(run_dir: Path, joint: bool) -> tuple[Path, Path]:
    """Paths of the source and target SentencePiece models inside a run directory."""
    folder = Path(run_dir) / "tokenizer"
    if joint:
        return folder / "joint.model", folder / "joint.model"
    return folder / "src.model", folder / "tgt.model"


def model_dirs() -> list[Path]:
    """Folders where a model name is looked up, in order: ``$NMT_MODELS_DIR`` if set, then the
    shipped models."""
    own = os.environ.get(MODELS_DIR_ENV)
    return [Path(own).expanduser(), SHIPPED_DIR] if own else [SHIPPED_DIR]


def model_names() -> list[str]:
    """Names of the run directories (with a metadata.json) in ``model_dirs()``."""
    names = {
        p.name
        for folder in model_dirs()
        if folder.is_dir()
        for p in folder.iterdir()
        if (p / METADATA_FILE).is_file()
    }
    return sorted(names)


def resolve_run_dir(name_or_path: str | Path) -> Path:
    """A path to a run directory, or the name of a model in ``model_dirs()`` (the first found)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    for folder in model_dirs():
        if (folder / str(name_or_path)).is_dir():
            return folder / str(name_or_path)
    folders = " or ".join(str(folder) for folder in model_dirs())
    raise CheckpointError(
        f"model {str(name_or_path)!r} not found: not a directory, nor a model in {folders} "
        f"({', '.join(model_names()) or 'none there'}; ${MODELS_DIR_ENV} adds a folder)"
    )


def epoch_weights_name(epoch: int) -> str:
    """File name of one epoch's weights in ``EPOCHS_DIR`` (sorts in epoch order)."""
    return f"epoch-{epoch:04d}.weights.h5"


def save_weights(model: Any, path: Path) -> None:
    """Write model weights atomically (a temporary file renamed into place)."""
    with atomic_path(Path(path), suffix=".weights.h5") as tmp:
        tmp.unlink()  # Keras refuses to overwrite without asking
        model.save_weights(str(tmp))


def versions() -> dict[str, str]:
    import keras
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


@dataclass(frozen=True)
class RunFiles:
    """A run directory's parts, checked to belong together, before any model is built."""

    run_dir: Path
    config: Config
    src: Tokenizer
    tgt: Tokenizer
    metadata: dict[str, Any]
    weights: Path


def _keras_version() -> str:
    """The installed Keras' version, without importing Keras (and TensorFlow with it)."""
    from importlib.metadata import version

    return version("keras")


def open_run(run_dir: str | Path, weights: str = "best") -> RunFiles:
    """Check a run directory's parts and that they agree, without TensorFlow.

    ``weights`` is ``best`` (model.weights.h5) or ``last`` (last.weights.h5).
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
    ours = _keras_version()
    saved_keras = str(metadata.get("versions", {}).get("keras", ours))
    if saved_keras.split(".")[0] != ours.split(".")[0]:
        raise CheckpointError(f"{run_dir} was saved with Keras {saved_keras}; this is Keras {ours}")
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
    return RunFiles(run_dir, config, src, tgt, metadata, weights_path)


def load_run(
    run_dir: str | Path, weights: str = "best"
) -> tuple[Config, Seq2Seq, Tokenizer, Tokenizer, dict[str, Any]]:
    """Load a run directory (``open_run``) and its model, with Keras' own loader.

    Returns (config, model, src_tokenizer, tgt_tokenizer, metadata).
    """
    from nmt.model import build_model

    run = open_run(run_dir, weights)
    config, src, tgt = run.config, run.src, run.tgt
    model = build_model(config.model, src.vocabulary_size, tgt.vocabulary_size, initialize=False)
    try:
        model.load_weights(str(run.weights))
    except (ValueError, OSError, KeyError) as err:
        raise CheckpointError(
            f"{run.weights}: cannot load weights into the model described by {CONFIG_FILE} "
            f"(corrupt file, or weights from another model): {err}"
        ) from err
    return config, model, src, tgt, run.metadata
