#!/usr/bin/env python3
"""Where a translator call of a few sentences goes: milliseconds per call of the whole compiled
search, of the encoder alone, and of the model's decoder step alone (every beam row of every
sentence, for as many steps as the search ran, with none of the search's bookkeeping), on
random test sentences, printed as JSON.

The parts run on one TensorFlow thread, as each of the server's workers does, alternated round
by round over the same batches. ``search - encoder - steps`` is what the search's bookkeeping
(top-k, reordering, finished lists) costs beyond the model; ``steps`` keeps every row to the
end, so it overstates the model's share of a search whose rows drop out as sentences end.

    python bench/call_share.py --model en-es --sentences 8,128 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="en-es", help="run directory or model name")
    parser.add_argument("--sentences", default="8,128", help="comma list of sentences a call")
    parser.add_argument("--calls", type=int, default=960, help="sentences timed per part")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    from nmt.batching import pad_batch
    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split
    from nmt.packed import encode_packed
    from nmt.tokenizer import BOS_ID
    from nmt.translator import Translator

    run_dir = resolve_run_dir(args.model)
    sources = rebuild_test_split(run_dir, args.data_dir)[0]
    translator = Translator.from_checkpoint(run_dir)
    model, executor = translator.model, translator.executor
    settings = translator.settings().search
    beams, tables = settings.beam_size, executor.decode_tables()
    search = executor.compiled(settings)
    spec = tf.TensorSpec([None, None], tf.int32)

    @tf.function(input_signature=[spec], autograph=False)
    def encoder(src):
        return encode_packed(model, src)[0]

    @tf.function(input_signature=[spec, tf.TensorSpec([], tf.int32)], autograph=False)
    def steps(src, count):
        """The decoder step ``count`` times over ``sentences * beams`` rows, fed its argmax."""
        memory, mask, states = encode_packed(model, src)
        rows = tf.shape(src)[0] * beams
        states = tf.nest.map_structure(lambda x: tf.repeat(x, beams, axis=0), states)

        def body(t, tokens, states):
            logits, states, _ = model.decode_step(
                tokens, states, memory, mask, tables, normalize=False, slots=tf.range(rows),
                beams=beams,
            )  # fmt: skip
            return t + 1, tf.argmax(logits, -1, output_type=tf.int32), states

        start = (tf.constant(0), tf.fill([rows], BOS_ID), states)
        return tf.while_loop(lambda t, *_: t < count, body, start)[1]

    rng = random.Random(0)
    report = []
    for n in (int(x) for x in args.sentences.split(",")):
        batches = [
            tf.constant(pad_batch(translator.encode_sources(rng.sample(sources, n))))
            for _ in range(max(3, args.calls // n))
        ]
        lengths = [int(search(b).tokens.shape[-1]) for b in batches]  # also traces
        encoder(batches[0]), steps(batches[0], tf.constant(1))
        parts = {
            "search": lambda b, _: search(b),
            "encoder": lambda b, _: encoder(b),
            "steps": lambda b, length: steps(b, tf.constant(length)),
        }
        times: dict[str, list[float]] = {name: [] for name in parts}
        for _ in range(args.rounds):
            for name, run in parts.items():
                start = time.perf_counter()
                for batch, length in zip(batches, lengths):
                    run(batch, length)
                times[name].append(1000 * (time.perf_counter() - start) / len(batches))
        report.append(
            {
                "sentences_per_call": n,
                "calls": len(batches),
                "mean_steps": round(float(np.mean(lengths)), 1),
                "ms_per_call": {k: [round(v, 2) for v in vs] for k, vs in times.items()},
                "ms_per_sentence_search": round(min(times["search"]) / n, 3),
            }
        )
    print(json.dumps({"model": args.model, "beam_size": beams, "runs": report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
