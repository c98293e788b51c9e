#!/usr/bin/env python3
"""Degenerate output on short inputs: single words and unpunctuated short phrases.

Builds (deterministically) a set of short inputs from a run's dev split: single words and
2-4 word phrases with punctuation removed. Translates them and counts

- ``repeats``: outputs with one word three or more times in a row ("Mary Mary Mary"),
- ``too_long``: outputs with more than three times the input's words,

and, with ``--bleu``, scores the run's test split (greedy and beam 5) so that a fix can be
checked to cost no quality. Prints JSON.

    python bench/short_inputs.py --model en-es [--count 500] [--bleu] [--set decode.KEY=VALUE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nmt.env import prefer_onednn, quiet_tensorflow  # noqa: E402


def strip_punctuation(text: str) -> str:
    kept = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    return " ".join(kept.split())


def short_inputs(sources: list[str], count: int, seed: int = 0) -> list[str]:
    """Half single words, half 2-4 word phrases, all without punctuation, from ``sources``."""
    rng = random.Random(seed)
    words = sorted({w for s in sources for w in strip_punctuation(s).split() if len(w) > 1})
    phrases = []
    for source in sources:
        tokens = strip_punctuation(source).split()
        if len(tokens) >= 2:
            phrases.append(" ".join(tokens[: rng.randint(2, min(4, len(tokens)))]))
    phrases = sorted(set(phrases))
    singles = rng.sample(words, min(count // 2, len(words)))
    return singles + rng.sample(phrases, min(count - len(singles), len(phrases)))


def degenerate(source: str, output: str) -> tuple[bool, bool]:
    """(a word three or more times in a row, more than 3x the source's words)."""
    out = output.split()
    repeats = any(out[i] == out[i + 1] == out[i + 2] for i in range(len(out) - 2))
    return repeats, len(out) > 3 * max(1, len(source.split()))


def count_degenerate(sources: list[str], outputs: list[str]) -> dict:
    flags = [degenerate(s, o) for s, o in zip(sources, outputs)]
    examples = [f"{s} -> {o}" for (s, o), f in zip(zip(sources, outputs), flags) if any(f)]
    return {
        "inputs": len(sources),
        "repeats": sum(r for r, _ in flags),
        "too_long": sum(t for _, t in flags),
        "examples": examples[:8],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="en-es")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--bleu", action="store_true", help="also score the test split")
    parser.add_argument("--set", action="append", default=[], metavar="decode.KEY=VALUE")
    args = parser.parse_args(argv)
    prefer_onednn()
    quiet_tensorflow()
    from nmt.checkpoint import resolve_run_dir
    from nmt.config import apply_overrides, config_from_dict
    from nmt.evaluate import rebuild_split
    from nmt.scoring import score_corpus
    from nmt.translator import Translator

    translator = Translator.from_checkpoint(args.model)
    run_dir = resolve_run_dir(args.model)
    if args.set:
        values = {"decode": dataclasses.asdict(translator.decode)}
        apply_overrides(values, args.set)
        translator.decode = config_from_dict(values).decode
    dev_sources, _ = rebuild_split(run_dir, "dev")
    sources = short_inputs(dev_sources, args.count)
    report: dict = {"model": args.model, "decode": dataclasses.asdict(translator.decode)}
    for beam in (1, translator.decode.beam_size):
        outputs = translator.translate(sources, beam_size=beam)
        report[f"short_beam{beam}"] = count_degenerate(sources, outputs)
    if args.bleu:
        test_src, test_ref = rebuild_split(run_dir, "test")
        for beam in (1, 5):
            start = time.perf_counter()
            hyps = translator.translate(test_src, beam_size=beam)
            scores = score_corpus(hyps, test_ref, ("bleu", "chrf"))
            report[f"test_beam{beam}"] = {
                "sentences": len(test_src),
                "bleu": round(scores["bleu"], 2),
                "chrf": round(scores["chrf"], 2),
                "seconds": round(time.perf_counter() - start, 1),
            }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
