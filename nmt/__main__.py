"""``python -m nmt``: list the installed commands; ``python -m nmt COMMAND ARGS`` runs one."""

from __future__ import annotations

import importlib
import sys

import nmt

# command -> (module with main(argv), what it does); the same names as [project.scripts]
COMMANDS = {
    "nmt-translate": ("nmt.cli_translate", "translate interactively, a file or a pipe"),
    "nmt-train": ("nmt.cli_train", "train, resume or fine-tune a model"),
    "nmt-serve": ("nmt.serve", "HTTP translation server with LibreTranslate's API"),
    "nmt-evaluate": ("nmt.evaluate", "score models on their test split"),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"lstm-nmt {nmt.__version__}: commands (each with --help and --version)"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += [
        "",
        "Run one as python -m nmt COMMAND [ARGS] when the commands are not on PATH.",
        "Model names are looked up in $NMT_MODELS_DIR, then among the shipped models.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        print(f"lstm-nmt {nmt.__version__}")
        return 0
    name = argv[0] if argv[0].startswith("nmt-") else f"nmt-{argv[0]}"
    if name not in COMMANDS:
        print(f"error: no command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[name][0]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
