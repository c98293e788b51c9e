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
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_RATE = re.compile(r"translated (\d+) line\(s\) in [\d.]+ s \(([\d.]+) lines/s")


def run_file(
    model: str, src: Path, out: Path, workers: int, beam: int | None
) -> tuple[float, float]:
    """``translate.py`` over ``src``: (wall seconds of the whole process, its printed rate)."""
    command = [sys.executable, str(REPO / "translate.py"), "-m", model, "-i", str(src),
               "-o", str(out), "--workers", str(workers)]  # fmt: skip
    if beam is not None:
        command += ["--beam", str(beam)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    found = _RATE.search(done.stderr)
    if found is None:
        raise RuntimeError(f"translate.py printed no rate:\n{done.stderr}")
    return wall, float(found.group(2))


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

    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split

    run_dir = resolve_run_dir(args.model)
    sources = rebuild_test_split(run_dir, args.data_dir)[0]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        one, many = folder / "one.txt", folder / "many.txt"
        one.write_text("".join(s + "\n" for s in sources), encoding="utf-8")
        many.write_text("".join(s + "\n" for s in sources) * args.copies, encoding="utf-8")
        first: dict[str, str] = {}
        for round_number in range(args.rounds):
            for workers in counts:
                report: dict = {"round": round_number, "workers": workers}
                for name, src in (("split", one), ("copies", many)):
                    out = folder / f"{name}-{workers}.txt"
                    wall, rate = run_file(str(run_dir), src, out, workers, args.beam)
                    report[f"{name}_wall_s"] = round(wall, 2)
                    report[f"{name}_lines_per_s"] = rate
                    text = out.read_text(encoding="utf-8")
                    report[f"{name}_same_as_first"] = first.setdefault(name, text) == text
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
