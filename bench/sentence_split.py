#!/usr/bin/env python3
"""What translating a text sentence by sentence (``decode.split_sentences``, ``nmt.sentences``)
gives on each model's test split, printed as JSON: BLEU and chrF with and without it on the
test lines that hold several sentences, on the whole split, and on paragraphs made of
``--paragraph`` consecutive test sentences (translated as one text, scored against their
references joined), with the share of output characters to reference characters.

    python bench/sentence_split.py --model en-es --model es-en
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="run directory or model name")
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    parser.add_argument("--paragraph", type=int, default=3, help="sentences a paragraph")
    parser.add_argument("--shown", type=int, default=5, help="examples listed")
    args = parser.parse_args(argv)

    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split
    from nmt.scoring import score_corpus
    from nmt.translator import Translator

    def scores(hypotheses: list[str], references: list[str]) -> dict:
        found = score_corpus(hypotheses, references)
        ratio = sum(map(len, hypotheses)) / max(1, sum(map(len, references)))
        return {"bleu": found["bleu"], "chrf": found["chrf"], "length_ratio": round(ratio, 3)}

    report = []
    for name in args.model or ["en-es", "es-en"]:
        run_dir = resolve_run_dir(name)
        sources, references = rebuild_test_split(run_dir, args.data_dir)
        translator = Translator.from_checkpoint(run_dir)
        splitter = translator.sentence_splitter
        if splitter is None:
            raise SystemExit(f"{name}: its training data held many lines of several sentences")
        several = [i for i, text in enumerate(sources) if len(splitter.split(text)[0]) > 1]
        n = args.paragraph
        paragraphs = [
            (" ".join(sources[i : i + n]), " ".join(references[i : i + n]))
            for i in range(0, len(sources) - n + 1, n)
        ]
        entry: dict = {
            "model": run_dir.name,
            "test_lines": len(sources),
            "lines_of_several_sentences": len(several),
            "paragraphs": len(paragraphs),
            "sentences_a_paragraph": n,
            "abbreviations": sorted(splitter.abbreviations),
        }
        outputs = {}
        for split in (False, True):
            settings = translator.settings(split_sentences=split)
            whole = translator.translate(sources, settings=settings)
            texts = translator.translate([p for p, _ in paragraphs], settings=settings)
            key = "split" if split else "whole"
            outputs[key] = (whole, texts)
            entry[key] = {
                "test": scores(whole, references),
                "lines_of_several": scores(
                    [whole[i] for i in several], [references[i] for i in several]
                ),
                "paragraphs": scores(texts, [r for _, r in paragraphs]),
            }
        entry["examples"] = [
            {
                "source": sources[i],
                "reference": references[i],
                "whole": outputs["whole"][0][i],
                "split": outputs["split"][0][i],
            }
            for i in several[: args.shown]
        ]
        report.append(entry)
    print(json.dumps({"runs": report}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
