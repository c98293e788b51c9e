"""Export a run directory for shipping: best weights only, optionally stored as float16.

``python -m nmt.export RUN_DIR OUT_DIR [--float16]``. Float16 halves the file; the weights are
cast back to float32 when loaded, so the model computes exactly as before up to the rounding of
each weight (about 1e-3 relative).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

from nmt.checkpoint import (
    BEST_WEIGHTS,
    CONFIG_FILE,
    LOG_FILE,
    METADATA_FILE,
    SPLIT_FILE,
    CheckpointError,
    update_metadata,
)
from nmt.io import usual_permissions

COPIED = (CONFIG_FILE, METADATA_FILE, SPLIT_FILE, LOG_FILE, "training.png")


def convert_weights_float16(src: Path, dst: Path) -> None:
    """Copy a Keras ``.weights.h5`` file, storing float32 arrays as float16."""
    with h5py.File(src, "r") as source, h5py.File(dst, "w") as target:
        for key, value in source.attrs.items():
            target.attrs[key] = value

        def copy(name: str, obj) -> None:
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                if data.dtype == np.float32:
                    data = data.astype(np.float16)
                target.create_dataset(name, data=data)
            else:
                group = target.require_group(name)
                for key, value in obj.attrs.items():
                    group.attrs[key] = value

        source.visititems(copy)


def export_run(run_dir: Path, out_dir: Path, float16: bool = True) -> Path:
    """Write a shippable copy of ``run_dir`` to ``out_dir`` (replaced atomically as a whole)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if not (run_dir / BEST_WEIGHTS).is_file():
        raise CheckpointError(f"{run_dir}: no {BEST_WEIGHTS} to export")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for name in COPIED:
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, staging / name)
        shutil.copytree(run_dir / "tokenizer", staging / "tokenizer")
        if float16:
            convert_weights_float16(run_dir / BEST_WEIGHTS, staging / BEST_WEIGHTS)
        else:
            shutil.copy2(run_dir / BEST_WEIGHTS, staging / BEST_WEIGHTS)
        update_metadata(
            staging,
            weights_dtype="float16" if float16 else "float32",
            exported_from=run_dir.name,
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        usual_permissions(staging)  # mkdtemp makes 0700 folders
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nmt.export", description=__doc__.split("\n")[0]
    )
    parser.add_argument("run_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--float16", action="store_true", help="store weights as float16")
    args = parser.parse_args(argv)
    try:
        out = export_run(Path(args.run_dir), Path(args.out_dir), float16=args.float16)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"exported {args.run_dir} -> {out} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
