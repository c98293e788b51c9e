"""Interactive translation at a terminal: a prompt with line editing, history and commands."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from nmt.alignment import pharaoh, word_alignment
from nmt.numpy_decode import SMALL_REQUEST_PIECES
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
        full: Background | None = None,
    ):
        """``overrides``: decode settings given on the command line (``Translator.settings``);
        the commands below change them for the rest of the session. ``full``: the translator
        over the Keras model, loading in the background, when ``translator`` is the NumPy one
        (``Translator.from_run_numpy``): small 1-best requests do not wait for it."""
        self.translator = translator
        self.full = full
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
        translator = self._translator_for(text, settings)
        hyps = translator.translate_detailed([text], settings=settings)[0]
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

    def _translator_for(self, text: str, settings) -> Translator:
        """The full translator once it is loaded; until then the NumPy one for a small 1-best
        request, else the full one, waited for."""
        if self.full is None:
            return self.translator
        if not self.full.ready():
            small = len(self.translator.encode_sources([text])[0]) <= SMALL_REQUEST_PIECES
            if settings.n_best == 1 and not settings.search.with_attention and small:
                return self.translator
            self._say("(waiting for the full model to load)")
        try:
            return self.full.get()
        except Exception as err:  # the NumPy translator keeps serving what it can
            self._say(f"error: the full model did not load: {err}")
            self.full = None
            return self.translator

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


class Background:
    """A translator made (and its search compiled) in a background thread."""

    def __init__(self, make: Callable[[], Translator], settings: Callable[[], Any]):
        self._translator: Translator | None = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(make, settings), daemon=True)
        self.thread.start()

    def _run(self, make: Callable[[], Translator], settings: Callable[[], Any]) -> None:
        try:
            translator = make()
            translator.compile(settings())
            self._translator = translator
        except BaseException as err:  # reported to the session when it asks
            self._error = err

    def ready(self) -> bool:
        return not self.thread.is_alive()

    def get(self) -> Translator:
        self.thread.join()
        if self._translator is None:
            raise RuntimeError(str(self._error))
        return self._translator


def run(
    translator: Translator,
    overrides: dict | None = None,
    load_full: Callable[[], Translator] | None = None,
) -> int:
    """The read-translate-print loop. Returns the exit status (0 on Ctrl-D / Ctrl-C).

    ``load_full``: makes the translator over the Keras model, when ``translator`` is the NumPy
    one; it runs in the background while the user types."""
    session = Session(translator, overrides)
    session._say("Type a sentence and press Enter (:help for commands, Ctrl-D to quit).")
    # compile the search graph (and load the full model) while the user types; a sentence
    # sent before it is ready is translated eagerly or in NumPy
    background = Background(load_full or (lambda: translator), lambda: session.settings)
    if load_full is not None:
        session.full = background
    compiling = background.thread
    readline = _setup_readline()
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
