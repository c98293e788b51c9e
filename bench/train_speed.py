#!/usr/bin/env python3
"""Training throughput in real (non-padding) target tokens per second, printed as JSON.

Fixed setup: tatoeba-spa-eng en->es (from the corpus catalogue), SentencePiece 8000 per side,
the default model config (biLSTM 2x256 encoder, LSTM 512 decoder, dot attention, ~8.6M
parameters), the default token budget (``--set`` changes any of it for every variant). All
variants are built in one process and each trains ``--warmup`` batches (tracing, XLA
compilation); then ``--rounds`` rounds time ``--steps`` new batches on each variant, the order
alternating, so that a machine's drift falls on all of them alike. The ratio to the first
variant is the geometric mean of the per-round ratios. The JSON records the load average
before and after, so a machine shared with other jobs shows.

    python bench/train_speed.py --variants default,keras_lstm,bf16
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = {
    "default": {},
    "keras_lstm": {"train.cpu_lstm": False},
    "keras_adam": {"train.fused_adam": False},
    "float32": {"train.mixed_precision": "none"},
    "float32+keras_lstm": {"train.mixed_precision": "none", "train.cpu_lstm": False},
    "xla": {"train.jit_compile": True},
    "bf16": {"train.mixed_precision": "mixed_bfloat16"},
    "xla+bf16": {"train.jit_compile": True, "train.mixed_precision": "mixed_bfloat16"},
    "float32_output": {},  # an untied output layer kept in float32 under mixed precision
    "autodiff_loss": {},  # the loss as a dense smoothed target and autodiff's gradient
}


def _float32_output(model) -> None:
    if model.output_projection is None:
        raise SystemExit("float32_output needs model.tie_embeddings=false")
    model.output_projection.dtype_policy = "float32"


def _autodiff_loss(model) -> None:
    import types

    from keras import ops

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        logits, labels = ops.cast(y_pred, "float32"), ops.cast(y, "int32")
        e = self.label_smoothing
        target = ops.one_hot(labels, ops.shape(logits)[-1]) * (1.0 - e) + e / logits.shape[-1]
        nll = ops.categorical_crossentropy(target, logits, from_logits=True)
        mask = ops.cast(ops.not_equal(labels, 0), "float32")
        return ops.sum(nll * mask) / ops.maximum(ops.sum(mask), 1.0)

    model.compute_loss = types.MethodType(compute_loss, model)


AFTER_BUILD = {  # variants that change the built model
    "float32_output": _float32_output,
    "autodiff_loss": _autodiff_loss,
}


def setup(name: str, args, src_tok, tgt_tok, pairs) -> tuple:
    """A compiled default model for the variant ``name`` (its ``VARIANTS`` overrides and
    ``args.set``, then its ``AFTER_BUILD`` change) and its first epoch of batches:
    ``(model, [(x, y), ...])``."""
    import keras

    from nmt.batching import TrainingBatches
    from nmt.config import load_config
    from nmt.env import cpu_has_native_bf16, has_gpu, training_precision
    from nmt.model import build_model
    from nmt.training import compile_model

    overrides = VARIANTS[name]
    config = load_config(args.config, [f"{k}={v}" for k, v in overrides.items()] + args.set)
    t = config.train
    keras.mixed_precision.set_global_policy(
        training_precision(t.mixed_precision, has_gpu(), cpu_has_native_bf16())
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
    if name in AFTER_BUILD:
        AFTER_BUILD[name](model)
    compile_model(model, config)
    return model, list(batches.epoch_batches(0))


def measure(args, src_tok, tgt_tok, pairs) -> dict:
    """Alternated rounds over every variant of ``args.variants``: their results by name."""
    runs = {name: setup(name, args, src_tok, tgt_tok, pairs)
            for name in args.variants.split(",")}
    for model, epoch in runs.values():
        for x, y in epoch[: args.warmup]:
            model.train_on_batch(x, y)
    names = list(runs)
    rates: dict[str, list[float]] = {name: [] for name in names}
    tokens_all = {name: [0, 0] for name in names}
    for r in range(args.rounds):
        start_at = args.warmup + r * args.steps
        for name in names if r % 2 == 0 else names[::-1]:
            model, epoch = runs[name]
            timed = epoch[start_at : start_at + args.steps]
            tokens = sum(int((y != 0).sum()) for _, y in timed)
            tokens_all[name][0] += tokens
            tokens_all[name][1] += sum(y.size for _, y in timed)
            start = time.perf_counter()
            for x, y in timed:
                model.train_on_batch(x, y)
            rates[name].append(tokens / (time.perf_counter() - start))
    first = rates[names[0]]
    return {
        name: {
            "target_tokens_per_sec": round(float(np.median(rates[name])), 1),
            "per_round": [round(v, 1) for v in rates[name]],
            "ratio_to_first": round(
                float(np.exp(np.mean(np.log(np.array(rates[name]) / np.array(first))))), 3
            ),
            "padding_share": round(1 - tokens_all[name][0] / tokens_all[name][1], 3),
            "parameters": int(runs[name][0].count_params()),
        }
        for name in names
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
    parser.add_argument("--steps", type=int, default=20, help="batches per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--pairs", type=int, default=40000, help="training pairs to sample from")
    args = parser.parse_args(argv)

    import tensorflow as tf

    src_tok, tgt_tok, pairs = prepare(args)
    load_before = os.getloadavg()[0]
    results = measure(args, src_tok, tgt_tok, pairs)
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(
        json.dumps(
            {
                "benchmark": "train_speed",
                "corpus": "tatoeba-spa-eng en-es",
                "tensorflow": tf.__version__,
                "cpu_threads": os.cpu_count(),
                "overrides": args.set,
                "load_average": load,
                "variants": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
