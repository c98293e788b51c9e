#!/usr/bin/env python3
"""How often ``nmt.detect`` tells each model's test sentences' language, with the server's
detector over the given models (each model's source tokenizer, then target tokenizers of
languages no model reads), printed as JSON with the sentences it missed.

    python bench/detect_accuracy.py --model en-es --model es-en
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# no TensorFlow here: the detector reads only the tokenizers
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="run directory or model name")
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    parser.add_argument("--shown", type=int, default=10, help="missed sentences listed")
    args = parser.parse_args(argv)

    from nmt.checkpoint import open_run
    from nmt.detect import models_detector
    from nmt.evaluate import rebuild_test_split

    runs = [open_run(name) for name in args.model or ["en-es", "es-en"]]
    detector = models_detector(
        (run.metadata["src_lang"], run.src, run.metadata["tgt_lang"], run.tgt) for run in runs
    )
    report = []
    for run in runs:
        src = run.metadata["src_lang"].lower()
        texts = rebuild_test_split(run.run_dir, args.data_dir)[0]
        start = time.perf_counter()
        found = [detector.detect(text)[0] for text in texts]
        seconds = time.perf_counter() - start
        missed = [(t, f) for t, f in zip(texts, found) if f.language != src]
        report.append(
            {
                "model": run.run_dir.name,
                "language": src,
                "sentences": len(texts),
                "told": len(texts) - len(missed),
                "ms_per_text": round(1000 * seconds / len(texts), 3),
                "missed": [
                    {"text": t, "detected": f.language, "confidence": f.confidence}
                    for t, f in missed[: args.shown]
                ],
            }
        )
    print(
        json.dumps({"languages": detector.languages, "runs": report}, indent=2, ensure_ascii=False)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
