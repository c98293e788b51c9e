"""Command line of ``train.py``."""

from __future__ import annotations

import argparse
import sys

from nmt.env import quiet_tensorflow


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train (or resume) an LSTM translation model into a run directory.",
    )
    parser.add_argument("--config", help="YAML config file (see configs/)")
    parser.add_argument(
        "--corpus", help="catalogue name, TSV path, 'SRC,TGT' files or hf:OWNER/NAME"
    )
    parser.add_argument("--src", help="source language code (e.g. en)")
    parser.add_argument("--tgt", help="target language code (e.g. es)")
    parser.add_argument("--data-dir", help="corpus catalogue directory (default $NMT_DATA_DIR)")
    parser.add_argument("--out", required=True, help="run directory to create or resume")
    parser.add_argument("--epochs", type=int, help="total number of epochs")
    parser.add_argument("--max-minutes", type=float, help="stop after the epoch passing this time")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config value, e.g. --set model.hidden_dim=256 (repeatable)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_tensorflow()
    from corpora import CorpusError
    from nmt.checkpoint import CheckpointError
    from nmt.config import ConfigError, load_config
    from nmt.training import TrainingError, train

    overrides = list(args.set)
    for flag, key in (
        ("corpus", "data.corpus"),
        ("src", "data.src_lang"),
        ("tgt", "data.tgt_lang"),
        ("data_dir", "data.data_dir"),
        ("epochs", "train.epochs"),
        ("max_minutes", "train.max_minutes"),
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides.insert(0, f"{key}={value}")
    try:
        config = load_config(args.config, overrides)
        train(config, args.out)
    except (ConfigError, TrainingError, CorpusError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
