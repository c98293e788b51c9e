"""Checkpoint averaging: one model whose weights are the mean of several checkpoints' weights.

``python -m nmt.average OUT_DIR SOURCE SOURCE [...] [--float16]``

A SOURCE is a run directory (its best weights, ``model.weights.h5``) or a ``.weights.h5`` file
inside one (``RUN/last.weights.h5``, ``RUN/epochs/epoch-0007.weights.h5``). Averaging the last
few checkpoints of one training (or of a model and its fine-tunes on the same vocabulary)
usually gives a model a little better than any of them, at no cost when translating
(OpenNMT-py's ``average_models``, Marian's ``average.py``). All sources must share the model
configuration and the tokenizers; the first source's run directory gives OUT_DIR its config,
tokenizers and data split. Choose what to average on the dev split
(``python -m nmt.evaluate OUT_DIR --split dev``), not on the test split.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from nmt.env import quiet_tensorflow

if __name__ == "__main__":  # before nmt.checkpoint loads TensorFlow
    quiet_tensorflow()

from nmt.checkpoint import (  # noqa: E402
    BEST_WEIGHTS,
    CONFIG_FILE,
    CheckpointError,
    resolve_run_dir,
    tokenizer_paths,
)
from nmt.config import ConfigError, load_config  # noqa: E402
from nmt.export import export_run  # noqa: E402
from nmt.io import write_folder  # noqa: E402

STALE_METADATA = ("test_scores", "dev_bleu", "best_epoch")


def resolve_source(source: str | Path) -> tuple[Path, Path]:
    """(run directory, weights file) for a run directory or a weights file inside one."""
    path = Path(source)
    if path.is_file():
        if not path.name.endswith(".weights.h5"):
            raise CheckpointError(f"{path}: expected a Keras .weights.h5 file or a run directory")
        run_dir = next(
            (p for p in (path.parent, path.parent.parent) if (p / CONFIG_FILE).is_file()), None
        )
        if run_dir is None:
            raise CheckpointError(f"{path}: no run directory (with {CONFIG_FILE}) around it")
        return run_dir, path
    run_dir = resolve_run_dir(source)
    if not (run_dir / BEST_WEIGHTS).is_file():
        raise CheckpointError(f"{run_dir}: no {BEST_WEIGHTS}")
    return run_dir, run_dir / BEST_WEIGHTS


def check_compatible(run_dirs: list[Path]) -> None:
    """Raise ``CheckpointError`` unless all runs share the model config and the tokenizers."""
    first = run_dirs[0]
    try:
        configs = [load_config(run / CONFIG_FILE) for run in run_dirs]
    except ConfigError as err:
        raise CheckpointError(str(err)) from err
    for run, config in zip(run_dirs[1:], configs[1:]):
        if dataclasses.asdict(config.model) != dataclasses.asdict(configs[0].model):
            raise CheckpointError(f"{run}: another model configuration than {first}")
        if config.data.joint_vocab != configs[0].data.joint_vocab:
            raise CheckpointError(f"{run}: another vocabulary layout than {first}")
        ours = tokenizer_paths(first, configs[0].data.joint_vocab)
        theirs = tokenizer_paths(run, config.data.joint_vocab)
        for a, b in zip(ours, theirs):
            if not (a.is_file() and b.is_file()) or a.read_bytes() != b.read_bytes():
                raise CheckpointError(
                    f"{b}: not the same tokenizer as {a}: only models that share their "
                    "tokenizers can be averaged"
                )


def average_checkpoints(sources: list[str | Path], out_dir: Path, float16: bool = False) -> Path:
    """Write a run directory to ``out_dir`` whose weights average those of ``sources``."""
    if len(sources) < 2:
        raise CheckpointError("averaging needs at least two checkpoints")
    resolved = [resolve_source(s) for s in sources]
    files = [weights.resolve() for _, weights in resolved]
    if len(set(files)) < len(files):
        raise CheckpointError("the same checkpoint is given twice")
    run_dirs = [run for run, _ in resolved]
    if any(Path(out_dir).resolve() == run.resolve() for run in run_dirs):
        raise CheckpointError(f"{out_dir} is one of the sources' run directories: write elsewhere")
    check_compatible(run_dirs)
    return export_run(
        run_dirs[0],
        out_dir,
        float16=float16,
        weights=files,
        stale=STALE_METADATA,
        averaged_from=[str(s) for s in sources],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nmt.average", description=__doc__.split("\n")[0]
    )
    parser.add_argument("out_dir", help="run directory to write: a new or empty folder")
    parser.add_argument(
        "sources", nargs="+", help="run directories (best weights) or .weights.h5 files"
    )
    parser.add_argument("--float16", action="store_true", help="store weights as float16")
    args = parser.parse_args(argv)
    status, out = write_folder(
        lambda: average_checkpoints(args.sources, Path(args.out_dir), float16=args.float16),
        args.out_dir,
        (CheckpointError,),
    )
    if out is None:
        return status
    print(f"averaged {len(args.sources)} checkpoints -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
