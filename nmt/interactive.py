"""Interactive translation at a terminal: a prompt with line editing, history and commands."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from nmt.alignment import pharaoh, word_alignment
from nmt.translator import Translator

HELP = """Type a sentence and press Enter to translate it. Commands:
  :beam N      beam size (1 = greedy)          :nbest N   show the N best translations
  :prune X     beam pruning margin (0 = off)   :align     alignments on/off
  :help        this text                       :quit      leave (or Ctrl-D / Ctrl-C)"""
HISTORY_FILE = Path(os.environ.get("NMT_HISTORY_FILE", Path.home() / ".nmt_translate_history"))


class Session:
    """The state of one interactive session; ``handle`` takes one typed line."""

    def __init__(
        self,
        translator: Translator,
        overrides: dict | None = None,
        align: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ):
        """``overrides``: decode settings given on the command line (``Translator.settings``);
        the commands below change them for the rest of the session."""
        self.translator = translator
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.settings = translator.settings(**self.overrides)
        self.align = align
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    @property
    def beam_size(self) -> int:
        return self.settings.beam_size

    @property
    def n_best(self) -> int:
        return self.settings.n_best

    def _change(self, **changes) -> None:
        """New settings with ``changes``: a new value, the translator's defaults untouched."""
        self.overrides.update(changes)
        self.settings = self.translator.settings(**self.overrides)

    def handle(self, line: str) -> bool:
        """Translate ``line`` or run a ``:command``; False means the user asked to leave."""
        line = line.strip()
        if not line:
            return True
        if line.startswith(":"):
            return self._command(line[1:].split())
        self._translate(line)
        return True

    def _command(self, words: list[str]) -> bool:
        name, args = (words[0].lower(), words[1:]) if words else ("help", [])
        if name in ("q", "quit", "exit"):
            return False
        if name in ("beam", "nbest") and len(args) == 1 and args[0].isdigit() and int(args[0]):
            value = int(args[0])
            if name == "beam":
                self._change(beam_size=value, n_best=min(self.n_best, value))
            else:
                self._change(n_best=value, beam_size=max(self.beam_size, value))
            self._say(f"beam size {self.beam_size}, showing {self.n_best} best")
        elif name == "prune" and len(args) == 1 and _non_negative(args[0]):
            self._change(beam_prune=float(args[0]))
            self._say(f"beam pruning margin {float(args[0]):g}")
        elif name == "align":
            if not self.translator.has_attention:
                self._say("this model has no attention, so no alignments")
            else:
                self.align = not self.align
                self._say(f"alignments {'on' if self.align else 'off'}")
        elif name in ("help", "h", "?"):
            self._say(HELP)
        else:
            self._say(f"unknown command :{' '.join(words)} (type :help)")
        return True

    def _translate(self, text: str) -> None:
        start = time.perf_counter()
        settings = self.settings
        if self.align:
            settings = self.translator.settings(**self.overrides, with_attention=True)
        hyps = self.translator.translate_detailed([text], settings=settings)[0]
        seconds = time.perf_counter() - start
        for rank, hyp in enumerate(hyps, 1):
            prefix = f"{rank}. " if len(hyps) > 1 else ""
            extra = (
                f"   (score {hyp.score:.3f}, log-prob {hyp.log_prob:.3f})" if len(hyps) > 1 else ""
            )
            print(prefix + hyp.text + extra, file=self.out)
            if self.align and hyp.attention is not None:
                src = self.translator.src_tokenizer.pieces(hyp.src_tokens)
                tgt = self.translator.tgt_tokenizer.pieces(hyp.tokens)
                print("   alignment: " + pharaoh(word_alignment(src, tgt, hyp.attention)),
                      file=self.out)  # fmt: skip
        self.out.flush()
        self._say(f"({seconds:.2f} s, beam {self.beam_size})")

    def _say(self, text: str) -> None:
        print(text, file=self.err, flush=True)


def _non_negative(text: str) -> bool:
    try:
        return float(text) >= 0.0
    except ValueError:
        return False


def _setup_readline() -> object | None:
    """Line editing and a persistent history where ``readline`` exists (not on Windows)."""
    try:
        import readline
    except ImportError:
        return None
    with contextlib.suppress(OSError):
        readline.read_history_file(HISTORY_FILE)
    readline.set_history_length(1000)
    return readline


def run(translator: Translator, overrides: dict | None = None) -> int:
    """The read-translate-print loop. Returns the exit status (0 on Ctrl-D / Ctrl-C)."""
    session = Session(translator, overrides)
    # compile the search graph while the user types (a sentence sent before it is ready is
    # translated eagerly)
    compiling = threading.Thread(target=lambda: translator.compile(session.settings), daemon=True)
    compiling.start()
    readline = _setup_readline()
    session._say("Type a sentence and press Enter (:help for commands, Ctrl-D to quit).")
    try:
        while True:
            try:
                line = input("> ")
            except EOFError:
                break
            if not session.handle(line):
                break
    except KeyboardInterrupt:
        pass
    finally:
        print(file=sys.stderr)
        if readline is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(HISTORY_FILE)
        # TensorFlow aborts the process (SIGABRT) if the interpreter shuts down while that
        # thread still traces a graph: a user who leaves at once waits for it instead
        compiling.join()
    return 0
