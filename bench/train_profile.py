#!/usr/bin/env python3
"""Where a CPU training step goes: TensorFlow's profiler over a few ``train_on_batch`` calls,
summed by part of the model (encoder layers, decoder LSTM, attention, output layer and loss,
optimizer) and by op type, forward and backward apart. Prints JSON.

The setup is ``bench/train_speed.py``'s (tatoeba-spa-eng en->es, SentencePiece 8000 per side,
the default model); ``--sentences`` fixes the batch size in sentences (64 is OpenNMT-py's).
Op times are summed over TensorFlow's inter-op threads, so they add up to more than the wall
time of a step when ops run side by side; the shares are what to read.

    python bench/train_profile.py --sentences 64 --steps 10
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import prepare, setup  # noqa: E402
from xplane import compute_events  # noqa: E402

# ops that only hold other ops (their time is their children's)
CONTAINERS = {"While", "StatelessWhile", "PartitionedCall", "StatefulPartitionedCall", "If",
              "StatelessIf"}


def region(op_name: str) -> str:
    """The part of the model an op belongs to, from its name scope (Keras' loop or
    ``nmt.cpu_lstm``'s, which is named after the layer's path)."""
    if "adam" in op_name or "optimizer" in op_name:
        return "optimizer"
    direction = "backward" if "gradient_tape" in op_name or ".grad" in op_name else "forward"
    name = op_name.replace(".", "/")
    if "encoder" in name and "lstm_0" in name:
        part = "encoder LSTM layer 1"
    elif "encoder" in name and "lstm_1" in name:
        part = "encoder LSTM layer 2"
    elif "encoder" in name:
        part = "encoder (other)"
    elif "attention" in name:
        part = "attention"
    elif "decoder" in name and "lstm" in name:
        part = "decoder LSTM"
    elif "embedding" in name:
        part = "embeddings"
    else:
        part = "output layer, loss and the rest"
    return f"{direction}: {part}"


def summarize(xplane: Path, steps: int) -> dict:
    """Per-step milliseconds of every op on the inter-op threads, by region and by op type."""
    by_region: collections.Counter = collections.Counter()
    by_type: collections.Counter = collections.Counter()
    for name, duration_ps in compute_events(xplane):
        if ":" not in name or name.startswith(("Threadpool", "ExecutorState")):
            continue
        op_name, op_type = name.rsplit(":", 1)
        if op_type in CONTAINERS:
            continue
        ms = duration_ps / 1e9 / steps
        by_region[region(op_name)] += ms
        by_type[op_type] += ms
    total = sum(by_region.values())

    def table(counter, top=None):
        return {k: {"ms": round(v, 2), "share": round(v / total, 3)}
                for k, v in counter.most_common(top)}

    return {"op_ms_per_step": round(total, 1), "by_region": table(by_region),
            "by_op_type": table(by_type, 15)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None, help="YAML config (default: built-in defaults)")
    parser.add_argument("--set", action="append", default=[], help="config override KEY=VALUE")
    parser.add_argument("--sentences", type=int, default=64, help="sentences per batch")
    parser.add_argument("--steps", type=int, default=10, help="steps profiled")
    parser.add_argument("--timed", type=int, default=30, help="steps timed without the profiler")
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--pairs", type=int, default=30000, help="training pairs to sample from")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    # every batch exactly --sentences long: the token budget never binds
    args.set = [f"train.max_batch_size={args.sentences}", "train.token_budget=1000000"] + args.set
    src_tok, tgt_tok, pairs = prepare(args)
    model, epoch = setup("default", args, src_tok, tgt_tok, pairs)
    warm = epoch[: args.warmup]
    timed = epoch[args.warmup : args.warmup + args.timed]
    profiled = epoch[args.warmup + args.timed : args.warmup + args.timed + args.steps]
    for x, y in warm:
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for x, y in timed:
        model.train_on_batch(x, y)
    seconds = time.perf_counter() - start
    tokens = sum(int((y != 0).sum()) for _, y in timed)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for x, y in profiled:
            model.train_on_batch(x, y)
        tf.profiler.experimental.stop()
        profile = summarize(next(Path(logdir).rglob("*.xplane.pb")), len(profiled))
    print(json.dumps({
        "benchmark": "train_profile",
        "corpus": "tatoeba-spa-eng en-es",
        "sentences_per_batch": args.sentences,
        "overrides": args.set,
        "tensorflow": tf.__version__,
        "parameters": int(model.count_params()),
        "step_ms": round(seconds / len(timed) * 1000, 1),
        "target_tokens_per_sec": round(tokens / seconds, 1),
        **profile,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
