#!/usr/bin/env python3
"""Where a small translator call goes: TensorFlow's profiler over calls on a few random test
sentences each (as the server makes them), op times and counts per call, printed as JSON.

    python bench/search_profile.py --model en-es --sentences 16 --calls 10

Op times are summed over TensorFlow's inter-op threads. The executor's ``Process`` events
enclose the ops (they are listed, not added to the ops' total).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from xplane import compute_events  # noqa: E402

ENCLOSING = {"Process", "ParallelFor", "ExecutorDoneCallback"}


def op_table(xplane: Path, calls: int) -> tuple[dict, dict]:
    """Milliseconds and executions per call of every event on the inter-op threads, by type."""
    ms: collections.Counter = collections.Counter()
    count: collections.Counter = collections.Counter()
    for name, duration_ps in compute_events(xplane):
        op_type = name.rsplit(":", 1)[-1]
        ms[op_type] += duration_ps / 1e9 / calls
        count[op_type] += 1 / calls
    return ms, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="en-es", help="run directory or model name")
    parser.add_argument("--sentences", type=int, default=16, help="sentences per call")
    parser.add_argument("--calls", type=int, default=10, help="calls profiled")
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    parser.add_argument("--top", type=int, default=25, help="op types listed")
    parser.add_argument(
        "--warmup", type=int, default=100,
        help="calls before profiling (a running server has met most shapes already)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    import tensorflow as tf

    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split
    from nmt.translator import Translator

    run_dir = resolve_run_dir(args.model)
    sources = rebuild_test_split(run_dir, args.data_dir)[0]
    n = args.sentences
    rng = random.Random(1)
    groups = [rng.sample(sources, n) for _ in range(args.warmup + args.calls)]
    translator = Translator.from_checkpoint(run_dir)
    settings = translator.settings()
    for group in groups[: args.warmup]:  # traced, and oneDNN's primitives for most shapes made
        translator.translate(group, settings=settings)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for group in groups[args.warmup :]:
            translator.translate(group, settings=settings)
        tf.profiler.experimental.stop()
        ms, count = op_table(next(Path(logdir).rglob("*.xplane.pb")), args.calls)
    ops = {k: v for k, v in ms.items() if k not in ENCLOSING}
    result = {
        "model": args.model,
        "sentences_per_call": n,
        "beam_size": settings.beam_size,
        "op_ms_per_call": round(sum(ops.values()), 1),
        "op_executions_per_call": round(sum(count[k] for k in ops)),
        "enclosing": {k: {"ms": round(ms[k], 1), "per_call": round(count[k])} for k in ENCLOSING},
        "by_op_type": {
            k: {"ms": round(v, 2), "per_call": round(count[k], 1)}
            for k, v in collections.Counter(ops).most_common(args.top)
        },
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
