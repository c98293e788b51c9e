#!/usr/bin/env python3
"""Time to the first translation: fresh ``translate.py`` processes fed one sentence on a pipe.

Each run starts a new process and stops the clock when the first translated line arrives.
The NumPy answer (no TensorFlow imported) and the TensorFlow path (``NMT_QUICK=0``)
alternate, so a slow spell of a shared machine hits both alike. Prints JSON: every run's
seconds and each way's median.

    python bench/first_answer.py [--model en-es] [--runs 5] [--sentence "How are you?"]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def start_and_read(model: str, sentence: str, env: dict | None = None):
    """Start ``translate.py`` on ``sentence`` from a pipe; (seconds until its first output line,
    that line, the process still to be waited for)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "translate.py"), "-m", model, "-q"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env=env,
    )
    proc.stdin.write(sentence.encode() + b"\n")
    proc.stdin.close()
    line = proc.stdout.readline().decode().rstrip("\n")
    return time.perf_counter() - start, line, proc


def first_answer(model: str, sentence: str, quick: bool) -> tuple[float, str]:
    """Seconds from starting the process to reading its first output line, and that line."""
    env = dict(os.environ, NMT_QUICK="1" if quick else "0", TF_CPP_MIN_LOG_LEVEL="3")
    seconds, line, proc = start_and_read(model, sentence, env)
    proc.wait()
    return round(seconds, 3), line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="en-es")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sentence", default="How are you?")
    args = parser.parse_args(argv)
    runs: dict[str, list[float]] = {"numpy": [], "tensorflow": []}
    answers: dict[str, set[str]] = {"numpy": set(), "tensorflow": set()}
    for _ in range(args.runs):
        for way in runs:
            seconds, line = first_answer(args.model, args.sentence, quick=way == "numpy")
            runs[way].append(seconds)
            answers[way].add(line)
    report = {
        "model": args.model,
        "sentence": args.sentence,
        "cpu_count": os.cpu_count(),
        "runs_s": runs,
        "median_s": {way: statistics.median(values) for way, values in runs.items()},
        "answers": {way: sorted(lines) for way, lines in answers.items()},
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
