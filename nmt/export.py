"""Export a run directory for shipping: best weights only, optionally stored as float16.

``python -m nmt.export RUN_DIR OUT_DIR [--float16]``. Float16 halves the file; the weights are
cast back to float32 when loaded, so the model computes exactly as before up to the rounding of
each weight (about 1e-3 relative).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nmt.env import quiet_tensorflow

if __name__ == "__main__":  # before nmt.checkpoint loads TensorFlow
    quiet_tensorflow()

from nmt.checkpoint import (  # noqa: E402
    BEST_WEIGHTS,
    CONFIG_FILE,
    LOG_FILE,
    METADATA_FILE,
    SPLIT_FILE,
    CheckpointError,
    update_metadata,
)
from nmt.io import atomic_folder, folder_megabytes, write_folder  # noqa: E402

COPIED = (CONFIG_FILE, METADATA_FILE, SPLIT_FILE, LOG_FILE, "training.png")


def _dataset_shapes(h5: h5py.File) -> dict[str, tuple[int, ...]]:
    """Every dataset in a weights file: name -> shape."""
    found: dict[str, tuple[int, ...]] = {}
    h5.visititems(
        lambda name, obj: (
            found.__setitem__(name, obj.shape) if isinstance(obj, h5py.Dataset) else None
        )
    )
    return found


def write_weights(sources: list[Path], dst: Path, float16: bool = False) -> None:
    """Write a Keras ``.weights.h5`` file whose every array is the mean of the ``sources``'.

    One source copies the file (float32 arrays stored as float16 with ``float16``); several
    average it element-wise (checkpoint averaging). All sources must hold the same arrays with
    the same shapes, or ``CheckpointError`` says which differ. Means are taken in float64.
    """
    if not sources:
        raise ValueError("write_weights needs at least one source file")
    files = []
    try:
        for path in sources:
            try:
                files.append(h5py.File(path, "r"))
            except OSError as err:
                raise CheckpointError(f"{path}: not a readable weights file ({err})") from err
        layout = _dataset_shapes(files[0])
        for path, other in zip(sources[1:], files[1:]):
            theirs = _dataset_shapes(other)
            if theirs != layout:
                differ = sorted(set(theirs.items()) ^ set(layout.items()))[:3]
                raise CheckpointError(
                    f"{path} holds other arrays than {sources[0]} (e.g. {differ}): "
                    "only checkpoints of the same model can be averaged"
                )
        with h5py.File(dst, "w") as target:
            for key, value in files[0].attrs.items():
                target.attrs[key] = value

            def copy(name: str, obj) -> None:
                if not isinstance(obj, h5py.Dataset):
                    group = target.require_group(name)
                    for key, value in obj.attrs.items():
                        group.attrs[key] = value
                    return
                data = obj[()]
                if np.issubdtype(data.dtype, np.floating):
                    dtype = np.float16 if float16 else np.float32
                    total = data.astype(np.float64)
                    for other in files[1:]:
                        total += other[name][()].astype(np.float64)
                    data = (total / len(files)).astype(dtype)
                target.create_dataset(name, data=data)

            files[0].visititems(copy)
    finally:
        for handle in files:
            handle.close()


def export_run(
    run_dir: Path,
    out_dir: Path,
    float16: bool = True,
    weights: list[Path] | None = None,
    stale: tuple[str, ...] = (),
    **metadata: Any,
) -> Path:
    """Write a shippable copy of ``run_dir`` to ``out_dir``, a new or empty folder (an existing
    folder with anything in it is refused, never replaced: it may hold a user's files).

    The copy's weights are ``run_dir``'s best, or the mean of ``weights`` (files of models
    with ``run_dir``'s config and tokenizers); ``metadata`` is merged into its metadata.json
    and the ``stale`` keys (scores of other weights) are removed from it.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    weights = [Path(w) for w in weights] if weights else [run_dir / BEST_WEIGHTS]
    for path in weights:
        if not path.is_file():
            raise CheckpointError(f"{path}: no such weights file to export")
    if not (run_dir / "tokenizer").is_dir():
        raise CheckpointError(f"{run_dir}: no tokenizer/ folder, not a complete run directory")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise CheckpointError(
            f"{out_dir} already exists and is not an empty folder: write to a new one "
            "(nothing was changed)"
        )
    with atomic_folder(out_dir) as staging:
        for name in COPIED:
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, staging / name)
        shutil.copytree(run_dir / "tokenizer", staging / "tokenizer")
        if float16 or len(weights) > 1:
            write_weights(weights, staging / BEST_WEIGHTS, float16=float16)
        else:
            shutil.copy2(weights[0], staging / BEST_WEIGHTS)
        update_metadata(
            staging,
            drop=stale,
            weights_dtype="float16" if float16 else "float32",
            exported_from=run_dir.name,
            **metadata,
        )
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nmt.export", description=__doc__.split("\n")[0]
    )
    parser.add_argument("run_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--float16", action="store_true", help="store weights as float16")
    args = parser.parse_args(argv)
    status, out = write_folder(
        lambda: export_run(Path(args.run_dir), Path(args.out_dir), float16=args.float16),
        args.out_dir,
        (CheckpointError,),
    )
    if out is not None:
        print(f"exported {args.run_dir} -> {out} ({folder_megabytes(out):.1f} MB)")
    return status


if __name__ == "__main__":
    sys.exit(main())
