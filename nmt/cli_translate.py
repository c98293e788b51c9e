"""Command line of ``translate.py``: interactive at a terminal, else file or pipe translation."""

from __future__ import annotations

import argparse
import sys

from nmt.env import quiet_tensorflow

DEFAULT_MODEL = "en-es"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="translate.py",
        description="Translate with a trained model: interactively at a terminal, or line by "
        "line from -i FILE / standard input to -o FILE / standard output.",
    )
    parser.add_argument(
        "--model",
        "-m",
        default=DEFAULT_MODEL,
        help=f"run directory or shipped model name (default: {DEFAULT_MODEL})",
    )
    parser.add_argument("-i", "--input", help="input file, one sentence per line (default stdin)")
    parser.add_argument("-o", "--output", help="output file (default stdout)")
    parser.add_argument("--beam", type=int, help="beam size (default: the model's; 1 = greedy)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_tensorflow()
    from nmt.checkpoint import CheckpointError
    from nmt.translator import Translator

    try:
        translator = Translator.from_checkpoint(args.model)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    source = open(args.input, encoding="utf-8", errors="replace") if args.input else sys.stdin
    if args.input is None and sys.stdin.isatty():
        return interactive(translator, args.beam)
    lines = [line.rstrip("\n") for line in source]
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    for text in translator.translate(lines, beam_size=args.beam):
        out.write(text + "\n")
    out.flush()
    return 0


def interactive(translator, beam_size: int | None) -> int:
    print("Type a sentence and press Enter; Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            line = input("> ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 0
        if line.strip():
            print(translator.translate([line], beam_size=beam_size)[0])
