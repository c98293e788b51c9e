"""Fine-tuning: a new run that starts from an existing run's model and tokenizers.

The child run copies the parent's SentencePiece models (so vocabularies always match), loads its
best weights, and trains with a fresh optimizer and its own learning rate on a new corpus. Its
metadata records the parent under ``parent``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nmt.checkpoint import (
    BEST_WEIGHTS,
    CONFIG_FILE,
    CheckpointError,
    read_metadata,
    resolve_run_dir,
    tokenizer_paths,
)
from nmt.config import Config, load_config
from nmt.io import atomic_copy
from nmt.tokenizer import Tokenizer

# settings that shape the tokenizer or the weights: a child must keep the parent's
TOKENIZER_FIELDS = ("vocab_size", "joint_vocab", "sp_model_type", "character_coverage", "lowercase")
UNKNOWN_WARNING = 0.005  # warn when more than this share of the new corpus' pieces are <unk>


class FineTuneError(ValueError):
    """A run cannot be fine-tuned from the given parent."""


def parent_config(parent: str | Path) -> tuple[Path, Config]:
    """The parent run directory (a path or a shipped model name) and its config."""
    try:
        parent_dir = resolve_run_dir(parent)
    except CheckpointError as err:
        raise FineTuneError(f"--init-from: {err}") from err
    if not (parent_dir / CONFIG_FILE).is_file():
        raise FineTuneError(f"--init-from {parent}: no {CONFIG_FILE}; is it a run directory?")
    if not (parent_dir / BEST_WEIGHTS).is_file():
        raise FineTuneError(f"--init-from {parent}: no {BEST_WEIGHTS} (has it trained an epoch?)")
    return parent_dir, load_config(parent_dir / CONFIG_FILE)


def check_child_config(parent: Config, child: Config) -> None:
    """The child must keep the parent's model shape and tokenizer settings."""
    differences = [
        f"model.{key}"
        for key, value in parent.to_dict()["model"].items()
        if getattr(child.model, key) != value
    ] + [
        f"data.{key}"
        for key in TOKENIZER_FIELDS
        if getattr(child.data, key) != getattr(parent.data, key)
    ]
    if differences:
        raise FineTuneError(
            "a fine-tuned run keeps its parent's model and tokenizer; these settings differ: "
            + ", ".join(differences)
        )


def adopt_tokenizers(parent_dir: Path, config: Config, run_dir: Path) -> None:
    """Copy the parent's SentencePiece models into the new run directory."""
    for src, dst in zip(
        tokenizer_paths(parent_dir, config.data.joint_vocab),
        tokenizer_paths(run_dir, config.data.joint_vocab),
    ):
        if not src.is_file():
            raise FineTuneError(f"--init-from {parent_dir}: missing tokenizer {src}")
        if not dst.is_file():
            atomic_copy(src, dst)


def parent_record(parent_dir: Path) -> dict[str, Any]:
    """What the child's metadata says about its parent."""
    metadata = read_metadata(parent_dir)
    return {
        "path": str(parent_dir.resolve()),
        "corpus": metadata.get("corpus"),
        "corpus_sha256": metadata.get("corpus_sha256"),
        "best_epoch": metadata.get("best_epoch"),
        "dev_bleu": metadata.get("dev_bleu"),
    }


def unknown_rates(
    src_tok: Tokenizer, tgt_tok: Tokenizer, src: list[str], tgt: list[str]
) -> dict[str, float]:
    """Share of ``<unk>`` pieces when the parent's tokenizers encode the new corpus."""
    return {
        "src": round(src_tok.unknown_rate(src), 5),
        "tgt": round(tgt_tok.unknown_rate(tgt), 5),
    }


def unknown_warning(rates: dict[str, float]) -> str | None:
    """A clear warning when the new corpus has many pieces the parent's vocabulary lacks."""
    high = {side: rate for side, rate in rates.items() if rate > UNKNOWN_WARNING}
    if not high:
        return None
    sides = ", ".join(f"{side} {rate:.1%}" for side, rate in high.items())
    return (
        f"WARNING: the parent's tokenizer maps many pieces of the new corpus to <unk> ({sides}): "
        "its characters or script are not covered, so those words cannot be learnt or produced; "
        "consider training a new model on the combined data instead"
    )


def load_parent_weights(model: Any, parent_dir: Path) -> None:
    """Load the parent's best weights into ``model`` (same config, so the same layout)."""
    path = parent_dir / BEST_WEIGHTS
    try:
        model.load_weights(str(path))
    except (ValueError, OSError, KeyError) as err:
        raise FineTuneError(f"{path}: cannot load the parent's weights: {err}") from err
