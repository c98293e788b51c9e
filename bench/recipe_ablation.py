#!/usr/bin/env python3
"""How much a recipe learns per update: one difference at a time, on identical batches.

Every variant trains the same number of updates on the same sequence of batches (one
tokenizer pair, one batch plan, one seed) and reports the mean label-smoothed training loss
over the last ``--tail`` updates, the dev loss, and greedy dev BLEU. Variants are config
overrides (``KEY=VALUE;KEY=VALUE``); they run one after another in one process.

    python bench/recipe_ablation.py --corpus tatoeba-deu-eng --src de --tgt en --pairs 30000 \
        --variant base= --variant uniform=model.init_range=0.1
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


def run_variant(config, overrides: list[str], args, data, tokenizers) -> dict:
    import keras
    import numpy as np

    from nmt.batching import TrainingBatches
    from nmt.model import build_model
    from nmt.scoring import score_corpus
    from nmt.train_state import TrainingState
    from nmt.training import compile_model, learning_rate_at
    from nmt.translator import Translator

    t = config.train
    src_tok, tgt_tok = tokenizers[(config.data.joint_vocab, config.data.vocab_size)]
    keras.utils.set_random_seed(t.seed)

    def make_batches(pairs) -> TrainingBatches:
        return TrainingBatches.from_config(
            src_tok.encode([p.src for p in pairs]), tgt_tok.encode([p.tgt for p in pairs]), config
        )

    batches = make_batches(data.splits.train)
    dev = data.splits.dev[: args.dev]
    dev_batches = make_batches(dev)
    model = build_model(
        config.model, src_tok.vocabulary_size, tgt_tok.vocabulary_size, t.label_smoothing
    )
    compile_model(model, config)
    state = TrainingState()
    losses, tokens, start = [], 0, time.perf_counter()
    epoch = 0
    while len(losses) < args.updates:
        for x, y in batches.epoch_batches(epoch):
            model.optimizer.learning_rate.assign(learning_rate_at(config, state))
            losses.append(float(model.train_on_batch(x, y)))
            tokens += int((y != 0).sum())
            state.step += 1
            if len(losses) >= args.updates:
                break
        epoch += 1
    seconds = time.perf_counter() - start
    dev_losses = [float(model.test_on_batch(x, y)) for x, y in dev_batches.epoch_batches(0)]
    inference = build_model(config.model, src_tok.vocabulary_size, tgt_tok.vocabulary_size)
    inference.set_weights(model.get_weights())
    translator = Translator(inference, src_tok, tgt_tok, config.decode, config=config)
    hyps = translator.translate([p.src for p in dev], beam_size=1)
    scores = score_corpus(hyps, [p.tgt for p in dev])
    return {
        "overrides": overrides,
        "updates": len(losses),
        "train_loss_tail": round(float(np.mean(losses[-args.tail :])), 4),
        "dev_loss": round(float(np.mean(dev_losses)), 4),
        "dev_bleu_greedy": scores["bleu"],
        "dev_chrf_greedy": scores["chrf"],
        "target_tokens_per_sec": round(tokens / seconds, 1),
        "seconds": round(seconds, 1),
        "parameters": int(model.count_params()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--tgt", required=True)
    parser.add_argument("--pairs", type=int, default=30000, help="cleaned pairs to sample")
    parser.add_argument("--config", default=None)
    parser.add_argument("--set", action="append", default=[], help="override for every variant")
    parser.add_argument(
        "--variant", action="append", default=[], help="NAME=KEY=VALUE;KEY=VALUE (repeatable)"
    )
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--tail", type=int, default=50)
    parser.add_argument("--dev", type=int, default=500, help="dev pairs for loss and BLEU")
    args = parser.parse_args(argv)

    from nmt.config import load_config
    from nmt.data import prepare_data
    from nmt.training import prepare_tokenizers

    # every variant's config: the corpus, then --set, then the variant's own overrides
    args.set = [
        f"data.corpus={args.corpus}",
        f"data.src_lang={args.src}",
        f"data.tgt_lang={args.tgt}",
        f"data.max_pairs={args.pairs}",
        "data.dev_size=1000",
        "data.test_size=1000",
    ] + args.set
    variants = [item.partition("=")[::2] for item in args.variant or ["base="]]
    variants = [(name, [s for s in spec.split(";") if s]) for name, spec in variants]
    configs = {name: load_config(args.config, args.set + o) for name, o in variants}
    data = prepare_data(next(iter(configs.values())).data)
    tokenizers = {}
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs.values():
            key = (config.data.joint_vocab, config.data.vocab_size)
            if key not in tokenizers:
                folder = Path(tmp) / f"{key[0]}-{key[1]}"
                tokenizers[key] = prepare_tokenizers(config, folder, data)
    results = {}
    for name, overrides in variants:
        results[name] = run_variant(configs[name], overrides, args, data, tokenizers)
        print(f"# {name}: {json.dumps(results[name])}", file=sys.stderr, flush=True)
    print(
        json.dumps(
            {
                "corpus": args.corpus,
                "pair": f"{args.src}-{args.tgt}",
                "train_pairs": len(data.splits.train),
                "results": results,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
