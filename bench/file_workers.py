#!/usr/bin/env python3
"""File translation with ``translate.py --workers N``, printed as JSON.

For each round and each worker count (alternated), ``translate.py -i FILE`` over the model's
test split and over the split repeated ``--copies`` times: the rate each run prints, and the
rate of the copies beyond the first (their lines over the difference of the two runs' times),
which leaves out what both runs pay once (loading, tracing the search graph). Outputs are
compared with the first worker count's.

    python bench/file_workers.py --model en-es --workers 1,2 --rounds 2
    python bench/file_workers.py --model en-es --workers 1,2 --rounds 2 --beam 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-es", help="run directory or model name")
    parser.add_argument("--workers", default="1,2", help="comma list of worker counts")
    parser.add_argument("--rounds", type=int, default=2, help="times each count runs")
    parser.add_argument("--copies", type=int, default=4, help="copies of the split, second run")
    parser.add_argument("--beam", type=int, help="beam size (default: the model's)")
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    if min(counts) < 1 or args.copies < 2 or args.rounds < 1:
        parser.error("worker counts >= 1, --copies >= 2 and --rounds >= 1")

    from serve_speed import file_translation

    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split

    run_dir = resolve_run_dir(args.model)
    sources = rebuild_test_split(run_dir, args.data_dir)[0]
    inputs = {"split": sources, "copies": sources * args.copies}
    runs = []
    first: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.rounds):
            for workers in counts:
                options = ("--workers", str(workers))
                if args.beam is not None:
                    options += ("--beam", str(args.beam))
                report: dict = {"round": round_number, "workers": workers}
                for name, lines in inputs.items():
                    done, out = file_translation(str(run_dir), lines, Path(tmp), options)
                    report[f"{name}_wall_s"] = done["wall_s_with_start_up"]
                    report[f"{name}_lines_per_s"] = done["sentences_per_s"]
                    report[f"{name}_same_as_first"] = first.setdefault(name, out) == out
                extra = (args.copies - 1) * len(sources)
                seconds = report["copies_wall_s"] - report["split_wall_s"]
                report["beyond_first_copy_lines_per_s"] = round(extra / seconds, 1)
                runs.append(report)
    result = {
        "model": args.model,
        "sentences": len(sources),
        "copies": args.copies,
        "beam": args.beam,
        "cpu_count": os.cpu_count(),
        "runs": runs,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
