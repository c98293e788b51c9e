"""Command line of ``train.py``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nmt
from nmt.env import quiet_tensorflow


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train, resume or fine-tune an LSTM translation model in a run directory.",
        epilog="Resume: run the same command again, or train.py --resume RUN_DIR. "
        "Fine-tune: train.py --init-from RUN_DIR --corpus NEW.tsv --out NEW_RUN.",
    )
    parser.add_argument("--config", help="YAML config file (see configs/)")
    parser.add_argument(
        "--corpus", help="catalogue name, TSV path, 'SRC,TGT' files or hf:OWNER/NAME"
    )
    for part in ("dev", "test"):
        parser.add_argument(
            f"--{part}",
            metavar="SRC,TGT",
            help=f"a {part} set of your own, used as given: any corpus spec (catalogue name, "
            "TSV, 'SRC,TGT' files, hf:OWNER/NAME); training pairs sharing a sentence with it "
            "are removed (data.remove_leaks)",
        )
    parser.add_argument("--src", help="source language code (e.g. en)")
    parser.add_argument("--tgt", help="target language code (e.g. es)")
    parser.add_argument("--data-dir", help="corpus catalogue directory (default $NMT_DATA_DIR)")
    parser.add_argument("--out", help="run directory to create or resume")
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="resume the run in RUN_DIR with its saved config (only --epochs, --max-minutes, "
        "--strategy and train.patience/backup_* may change)",
    )
    parser.add_argument(
        "--init-from",
        metavar="RUN_DIR",
        help="fine-tune: start from this run's model and tokenizers (a fresh optimizer); its "
        "config is the base, give the new --corpus and --out",
    )
    parser.add_argument("--learning-rate", type=float, help="peak learning rate (train.*)")
    parser.add_argument(
        "--strategy",
        choices=["default", "mirrored", "multi-worker"],
        help="tf.distribute strategy: mirrored (GPUs of one machine) or multi-worker (TF_CONFIG)",
    )
    parser.add_argument("--epochs", type=int, help="total number of epochs (resumed ones count)")
    parser.add_argument(
        "--max-minutes",
        type=float,
        help="stop training after this many minutes (then one last dev evaluation)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config value, e.g. --set model.hidden_dim=256 (repeatable)",
    )
    parser.add_argument("--version", action="version", version=f"lstm-nmt {nmt.__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume and args.init_from:
        parser.error("--resume and --init-from exclude each other")
    if args.resume and args.out and args.out != args.resume:
        parser.error("--resume RUN_DIR already names the run directory; leave out --out")
    if args.resume and (args.config or args.corpus):
        parser.error("--resume uses the run's saved config: leave out --config and --corpus")
    out = args.resume or args.out
    if not out:
        parser.error("--out is required (or --resume RUN_DIR)")
    quiet_tensorflow()
    from corpora import CorpusError
    from nmt import finetune
    from nmt.checkpoint import CONFIG_FILE, CheckpointError
    from nmt.config import ConfigError, load_config
    from nmt.distribute import DistributeError
    from nmt.finetune import FineTuneError
    from nmt.training import TrainingError, train

    overrides = list(args.set)
    for flag, key in (
        ("corpus", "data.corpus"),
        ("dev", "data.dev_corpus"),
        ("test", "data.test_corpus"),
        ("src", "data.src_lang"),
        ("tgt", "data.tgt_lang"),
        ("data_dir", "data.data_dir"),
        ("epochs", "train.epochs"),
        ("max_minutes", "train.max_minutes"),
        ("learning_rate", "train.learning_rate"),
        ("strategy", "train.strategy"),
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides.insert(0, f"{key}={value}")
    created = not Path(out).exists()
    try:
        base = args.config
        if args.resume:
            base = Path(args.resume) / CONFIG_FILE
            if not base.is_file():
                raise TrainingError(f"--resume {args.resume}: no {CONFIG_FILE}, nothing to resume")
        elif args.init_from and base is None:
            base = finetune.parent_config(args.init_from)[0] / CONFIG_FILE
        config = load_config(base, overrides)
        train(config, out, init_from=args.init_from)
    except (
        ConfigError,
        TrainingError,
        CorpusError,
        CheckpointError,
        FineTuneError,
        DistributeError,
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        _remove_if_empty(Path(out), created)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: {_resume_hint(Path(out))}", file=sys.stderr)
        _remove_if_empty(Path(out), created)
        return 130
    except OSError as err:  # a full disk, a folder that cannot be written
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        _remove_if_empty(Path(out), created)
        return 1
    return 0


def _resume_hint(run_dir: Path) -> str:
    """How to continue after an interrupt, from what the run directory holds."""
    from nmt.train_state import has_state

    if has_state(run_dir):
        return (
            f"continue with: python train.py --resume {run_dir} "
            "(from its last backup; the steps after it are trained again)"
        )
    return "no training state was saved yet: run the same command again to start over"


def _remove_if_empty(run_dir: Path, created: bool) -> None:
    """Remove the run directory this command created if a failure left it empty."""
    if created and run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()
