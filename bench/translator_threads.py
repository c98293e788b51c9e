#!/usr/bin/env python3
"""The translator in process, as the server's workers call it: sentences/s of ``--workers``
threads, each translating ``--sentences`` random test sentences a call, printed as JSON.

Each setting runs in a process of its own (TensorFlow's thread counts are fixed once it
starts), the settings alternated over ``--rounds``, beside the same sentences through
``translate.py -i`` (its printed rate). It measures what the server could reach if requests
arrived without any HTTP: the ceiling of ``bench/serve_speed.py``'s figures.

    python bench/translator_threads.py --model en-es --settings 2x8x1,1x16x2 --rounds 2

A setting is ``WORKERSxSENTENCESxINTRA``: threads, sentences a call, TensorFlow intra-op
threads (the server runs one per worker when it has several).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def parse_setting(text: str) -> tuple[int, int, int]:
    workers, sentences, intra = (int(x) for x in text.split("x"))
    if min(workers, sentences, intra) < 1:
        raise ValueError(f"a setting is WORKERSxSENTENCESxINTRA, each >= 1: {text!r}")
    return workers, sentences, intra


def run_setting(model: str, setting: str, sentences_total: int, data_dir: str | None) -> dict:
    """One setting in this process (TensorFlow not yet started): sentences/s over
    ``sentences_total`` sentences, after warm-up calls."""
    workers, n, intra = parse_setting(setting)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split
    from nmt.translator import Translator

    run_dir = resolve_run_dir(model)
    sources = rebuild_test_split(run_dir, data_dir)[0]
    translator = Translator.from_checkpoint(run_dir)
    settings = translator.settings()
    for _ in range(3):  # traced and warmed up
        translator.translate(random.Random(0).sample(sources, n), settings=settings)
    calls = max(1, sentences_total // (n * workers))

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(calls):
            translator.translate(rng.sample(sources, n), settings=settings)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(1, workers + 1)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    done = calls * n * workers
    return {
        "setting": setting,
        "workers": workers,
        "sentences_per_call": n,
        "intra_op_threads": intra,
        "sentences": done,
        "sentences_per_s": round(done / seconds, 1),
        "ms_per_call": round(1000 * seconds / calls, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-es", help="run directory or model name")
    parser.add_argument(
        "--settings", default="2x8x1,1x16x2", help="comma list of WORKERSxSENTENCESxINTRA"
    )
    parser.add_argument("--rounds", type=int, default=2, help="times each setting runs")
    parser.add_argument("--sentences", type=int, default=960, help="sentences a run")
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: one setting
    args = parser.parse_args(argv)
    settings = args.settings.split(",")
    try:
        for setting in settings:
            parse_setting(setting)
    except ValueError as err:
        parser.error(str(err))
    if args.one:
        print(json.dumps(run_setting(args.model, args.one, args.sentences, args.data_dir)))
        return 0

    from serve_speed import file_translation

    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split

    run_dir = resolve_run_dir(args.model)
    sources = rebuild_test_split(run_dir, args.data_dir)[0]
    common = ["--model", args.model, "--sentences", str(args.sentences)]
    if args.data_dir:
        common += ["--data-dir", args.data_dir]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            file_report, _ = file_translation(str(run_dir), sources, Path(tmp))
            runs.append({"file": file_report})
            for setting in settings:
                done = subprocess.run(
                    [sys.executable, __file__, *common, "--one", setting],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                report = json.loads(done.stdout.strip().splitlines()[-1])
                report["of_file_speed"] = round(
                    report["sentences_per_s"] / file_report["sentences_per_s"], 2
                )
                runs.append(report)
    print(json.dumps({"model": args.model, "cpu_count": os.cpu_count(), "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
