#!/usr/bin/env python3
"""What a tokenizer call costs for a few sentences and for many: microseconds per call of
``Tokenizer.encode`` / ``Tokenizer.decode`` (one text at a time below ``POOL_MIN_TEXTS``, one
SentencePiece list call from there) against SentencePiece's list call and a loop of single
calls, on random test sentences of the model, alternated round by round, printed as JSON.

    python bench/tokenizer_calls.py --model en-es --sentences 1,8,64,512 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return round((time.perf_counter() - start) / calls * 1e6, 1)


def call_variants(src, tgt, texts: list[str], ids: list[list[int]]) -> dict:
    """The calls timed: ours, SentencePiece's list call, and a loop of its single calls."""
    return {
        "encode": lambda: src.encode(texts),
        "encode_list_call": lambda: src.sp.encode(texts, out_type=int),
        "encode_each": lambda: [src.sp.encode(t, out_type=int) for t in texts],
        "decode": lambda: tgt.decode(ids),
        "decode_list_call": lambda: tgt.sp.decode(ids),
        "decode_each": lambda: [tgt.sp.decode(seq) for seq in ids],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en-es", help="run directory or model name")
    parser.add_argument("--sentences", default="1,8,64,512", help="comma list of call sizes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split
    from nmt.tokenizer import POOL_MIN_TEXTS, Tokenizer

    run_dir = resolve_run_dir(args.model)
    sources, references = rebuild_test_split(run_dir, args.data_dir)
    src = Tokenizer.load(run_dir / "tokenizer" / "src.model")
    tgt = Tokenizer.load(run_dir / "tokenizer" / "tgt.model")
    rng = random.Random(args.seed)
    sizes = [int(n) for n in args.sentences.split(",")]
    results = []
    for n in sizes:
        pick = rng.sample(range(len(sources)), n)
        texts = [sources[i] for i in pick]
        ids = tgt.encode([references[i] for i in pick])
        calls = max(20, 20_000 // n)
        variants = call_variants(src, tgt, texts, ids)
        timings: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, fn in variants.items():
                timings[name].append(per_call_us(fn, calls))
        results.append({"sentences": n, "calls": calls, "us_per_call": timings})
    print(
        json.dumps(
            {
                "model": args.model,
                "pool_min_texts": POOL_MIN_TEXTS,
                "cpu_count": os.cpu_count(),
                "rounds": args.rounds,
                "sizes": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
