#!/usr/bin/env python3
"""Training throughput in real (non-padding) target tokens per second, printed as JSON.

Fixed setup: tatoeba-spa-eng en->es (from the corpus catalogue), SentencePiece 8000 per side,
the default model config (biLSTM 2x256 encoder, LSTM 512 decoder, dot attention, ~8.6M
parameters), the default token budget. Each variant trains ``--warmup`` batches (tracing, XLA
compilation), then is timed over ``--steps`` batches. Variants run one after another in one
process so their ratios are comparable on a noisy machine; the JSON records the load average
before and after each variant, so a machine shared with other jobs shows.

    python bench/train_speed.py --variants default,xla,bf16
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = {
    "default": {},
    "xla": {"train.jit_compile": True},
    "bf16": {"train.mixed_precision": "mixed_bfloat16"},
    "xla+bf16": {"train.jit_compile": True, "train.mixed_precision": "mixed_bfloat16"},
}


def setup(overrides: dict, args, src_tok, tgt_tok, pairs) -> tuple:
    """A compiled default model (with ``overrides`` and ``args.set``) and its first epoch of
    batches: ``(model, [(x, y), ...])``."""
    import keras

    from nmt.batching import TrainingBatches
    from nmt.config import load_config
    from nmt.model import build_model
    from nmt.training import compile_model

    config = load_config(args.config, [f"{k}={v}" for k, v in overrides.items()] + args.set)
    t = config.train
    keras.mixed_precision.set_global_policy(
        "float32" if t.mixed_precision == "none" else t.mixed_precision
    )
    keras.utils.set_random_seed(t.seed)
    batches = TrainingBatches.from_config(
        src_tok.encode([p.src for p in pairs]),
        tgt_tok.encode([p.tgt for p in pairs]),
        config,
        fixed_shapes=t.jit_compile,
    )
    model = build_model(
        config.model, src_tok.vocabulary_size, tgt_tok.vocabulary_size, t.label_smoothing
    )
    compile_model(model, config)
    return model, list(batches.epoch_batches(0))


def measure(overrides: dict, args, src_tok, tgt_tok, pairs) -> dict:
    model, epoch = setup(overrides, args, src_tok, tgt_tok, pairs)
    warm, timed = epoch[: args.warmup], epoch[args.warmup : args.warmup + args.steps]
    for x, y in warm:
        model.train_on_batch(x, y)
    tokens = sum(int((y != 0).sum()) for _, y in timed)
    padded = sum(y.size for _, y in timed)
    start = time.perf_counter()
    for x, y in timed:
        model.train_on_batch(x, y)
    seconds = time.perf_counter() - start
    return {
        "target_tokens_per_sec": round(tokens / seconds, 1),
        "padding_share": round(1 - tokens / padded, 3),
        "steps": len(timed),
        "seconds": round(seconds, 2),
        "parameters": int(model.count_params()),
    }


def prepare(args) -> tuple:
    """The fixed corpus sample and its two SentencePiece models: ``(src_tok, tgt_tok, pairs)``."""
    from nmt.config import load_config
    from nmt.data import prepare_data
    from nmt.tokenizer import train_tokenizer

    config = load_config(
        args.config,
        [
            "data.corpus=tatoeba-spa-eng",
            "data.src_lang=en",
            "data.tgt_lang=es",
            f"data.max_pairs={args.pairs}",
        ]
        + args.set,
    )
    pairs = prepare_data(config.data).splits.train
    with tempfile.TemporaryDirectory() as tmp:
        src_tok = train_tokenizer(
            (p.src for p in pairs), Path(tmp) / "src.model", config.data.vocab_size
        )
        tgt_tok = train_tokenizer(
            (p.tgt for p in pairs), Path(tmp) / "tgt.model", config.data.vocab_size
        )
    return src_tok, tgt_tok, pairs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None, help="YAML config (default: built-in defaults)")
    parser.add_argument("--set", action="append", default=[], help="config override KEY=VALUE")
    parser.add_argument("--variants", default="default", help=f"comma list of {list(VARIANTS)}")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=40000, help="training pairs to sample from")
    args = parser.parse_args(argv)

    import tensorflow as tf

    src_tok, tgt_tok, pairs = prepare(args)
    results = {}
    for name in args.variants.split(","):
        load_before = os.getloadavg()[0]
        results[name] = measure(VARIANTS[name], args, src_tok, tgt_tok, pairs)
        results[name]["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        print(f"# {name}: {results[name]}", file=sys.stderr, flush=True)
    base = results.get("default", next(iter(results.values())))["target_tokens_per_sec"]
    for r in results.values():
        r["ratio_to_first"] = round(r["target_tokens_per_sec"] / base, 3)
    print(
        json.dumps(
            {
                "benchmark": "train_speed",
                "corpus": "tatoeba-spa-eng en-es",
                "tensorflow": tf.__version__,
                "cpu_threads": os.cpu_count(),
                "variants": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
