#!/usr/bin/env python3
"""Dev BLEU against minutes of training, one line per run, from runs' ``train_log.csv``.

    python bench/plot_curves.py docs/recipe_curves.png "new defaults=runs/a" "old defaults=runs/b"
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def read_curve(run_dir: Path) -> tuple[list[float], list[float]]:
    """(minutes, dev BLEU) of each evaluation in ``run_dir/train_log.csv``."""
    with open(run_dir / "train_log.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows = [r for r in rows if r.get("minutes") and r.get("val_bleu")]
    return [float(r["minutes"]) for r in rows], [float(r["val_bleu"]) for r in rows]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", help="PNG file to write")
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR")
    parser.add_argument("--title", default="dev BLEU (greedy) against training minutes")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(8, 4.5), dpi=100)
    for item in args.runs:
        label, _, path = item.partition("=")
        minutes, bleu = read_curve(Path(path))
        axis.plot(minutes, bleu, marker=".", label=label)
    axis.set_xlabel("minutes of training (2 CPU cores)")
    axis.set_ylabel("dev BLEU")
    axis.set_title(args.title)
    axis.grid(alpha=0.3)
    axis.legend()
    fig.tight_layout()
    fig.savefig(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
